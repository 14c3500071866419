import type { Kysely } from 'kysely'
import type { AreaLevel } from '../../core/geo/admin-boundaries.ts'
import { containsPoint, type MultiPolygon } from '../../core/geo/geometry.ts'
import type { Area, AreaRepository } from '../../core/ports/repositories.ts'
import type { AreasTable, Database } from '../schema.ts'

type AreaRow = Omit<AreasTable, 'geometry'>

const SUMMARY = ['id', 'level', 'pcode', 'name', 'parent_pcode', 'min_lat', 'max_lat', 'min_lon', 'max_lon', 'rep_lat', 'rep_lon', 'area_deg2', 'source', 'imported_at'] as const

function toArea(r: AreaRow): Area {
  return {
    id: r.id,
    level: Number(r.level) as AreaLevel,
    pcode: r.pcode,
    name: r.name,
    parentPcode: r.parent_pcode,
    minLat: Number(r.min_lat),
    maxLat: Number(r.max_lat),
    minLon: Number(r.min_lon),
    maxLon: Number(r.max_lon),
    repLat: Number(r.rep_lat),
    repLon: Number(r.rep_lon),
    areaDeg2: Number(r.area_deg2),
    source: r.source,
    importedAt: Number(r.imported_at),
  }
}

/** Stored as a MultiPolygon's coordinates or a Polygon's; checked on import, so read back as is. */
function multiPolygonOf(geometry: string): MultiPolygon {
  const g = JSON.parse(geometry) as { type: string; coordinates: unknown }
  return (g.type === 'Polygon' ? [g.coordinates] : g.coordinates) as MultiPolygon
}

export function areaRepository(db: Kysely<Database>): AreaRepository {
  return {
    async upsert(a) {
      const columns = {
        level: a.level,
        name: a.name,
        parent_pcode: a.parentPcode,
        geometry: a.geometry,
        min_lat: a.minLat,
        max_lat: a.maxLat,
        min_lon: a.minLon,
        max_lon: a.maxLon,
        rep_lat: a.repLat,
        rep_lon: a.repLon,
        area_deg2: a.areaDeg2,
        source: a.source,
        imported_at: a.importedAt,
      }
      await db
        .insertInto('areas')
        .values({ id: a.id, pcode: a.pcode, ...columns })
        .onConflict((oc) => oc.column('pcode').doUpdateSet(columns))
        .execute()
    },
    async byPcode(pcode) {
      const row = await db.selectFrom('areas').select(SUMMARY).where('pcode', '=', pcode).executeTakeFirst()
      return row ? toArea(row) : null
    },
    async containing(lat, lon) {
      const rows = await db
        .selectFrom('areas')
        .selectAll()
        .where('min_lat', '<=', lat)
        .where('max_lat', '>=', lat)
        .where('min_lon', '<=', lon)
        .where('max_lon', '>=', lon)
        .orderBy('pcode')
        .execute()
      return rows.filter((r) => containsPoint(multiPolygonOf(r.geometry), { lat, lon })).map(toArea)
    },
    async list(f) {
      let q = db.selectFrom('areas').select(SUMMARY)
      if (f.level !== undefined) q = q.where('level', '=', f.level)
      if (f.parentPcode !== undefined) q = q.where('parent_pcode', '=', f.parentPcode)
      if (f.after !== undefined) q = q.where('pcode', '>', f.after)
      return (await q.orderBy('pcode').limit(f.limit + 1).execute()).map(toArea)
    },
  }
}
