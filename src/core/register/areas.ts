/**
 * Administrative areas: importing a country's ADM1/ADM2 boundaries, finding the areas a point lies in, and
 * listing them. Incidents take their admin1/admin2 from locateAdminAreas, and every public or partner output
 * shows a generalised point (core/geo/generalise.ts) instead of the exact one.
 */
import { type AreaLevel, type ParsedArea, parseBoundaries, type ParseOptions } from '../geo/admin-boundaries.ts'
import { type GeneralisedLocation, generaliseLocation, smallestArea } from '../geo/generalise.ts'
import type { LatLon } from '../geo/geometry.ts'
import { ValidationError } from '../errors.ts'
import { uuidv7 } from '../ids.ts'
import type { Area, AreaFilter, Repositories } from '../ports/repositories.ts'

export const MAX_SOURCE = 200

export interface ImportOptions extends ParseOptions {
  /** Where the file came from ("OCHA COD-AB SOM 2024-05", "geoBoundaries 6.0.0"), kept with each area. */
  source: string
  /** Prefixes the field of every error: `/body` for the API; none for a file. */
  fieldBase?: string
}

export interface ImportCounts {
  features: number
  inserted: number
  replaced: number
  byLevel: Record<`adm${AreaLevel}`, number>
  /** ADM2 areas without a parent in the file, given the ADM1 area their representative point lies in. */
  parentsFound: number
}

export type ImportProgress = (done: number, total: number) => void

/**
 * Imports a FeatureCollection, all or nothing: `repos` should be a transaction's, and any bad feature
 * refuses the whole file (ValidationError naming `/features/<index>/…`) before anything is written. An area
 * whose pcode exists already is replaced (a new edition of the boundaries), keeping its id.
 */
export async function importAreas(repos: Repositories, featureCollection: unknown, opts: ImportOptions, onProgress?: ImportProgress, now = Date.now()): Promise<ImportCounts> {
  const source = opts.source.trim()
  if (source.length === 0 || source.length > MAX_SOURCE || /\p{Cc}/u.test(source)) throw new ValidationError([{ field: 'source', message: `must be 1–${MAX_SOURCE} characters, without control characters` }])
  const parsed = parseBoundaries(featureCollection, opts, opts.fieldBase ?? '')
  // ADM1 first, so an ADM2 in the same file without a named parent finds its province.
  const ordered = [...parsed].sort((a, b) => a.level - b.level)
  const counts: ImportCounts = { features: parsed.length, inserted: 0, replaced: 0, byLevel: { adm1: 0, adm2: 0 }, parentsFound: 0 }
  for (const [i, area] of ordered.entries()) {
    const existing = await repos.areas.byPcode(area.pcode)
    let parentPcode = area.parentPcode
    if (area.level === 2 && parentPcode === null) {
      const province = smallestArea((await repos.areas.containing(area.rep.lat, area.rep.lon)).filter((a) => a.level === 1))
      if (province) {
        parentPcode = province.pcode
        counts.parentsFound++
      }
    }
    await repos.areas.upsert({ ...toRecord(area, existing?.id ?? uuidv7(now), source, now), parentPcode })
    if (existing) counts.replaced++
    else counts.inserted++
    counts.byLevel[`adm${area.level}`]++
    onProgress?.(i + 1, ordered.length)
  }
  return counts
}

function toRecord(a: ParsedArea, id: string, source: string, now: number) {
  return {
    id,
    level: a.level,
    pcode: a.pcode,
    name: a.name,
    parentPcode: a.parentPcode,
    // Stored as checked: a MultiPolygon of [lon, lat] pairs, altitudes dropped.
    geometry: JSON.stringify({ type: 'MultiPolygon', coordinates: a.geometry }),
    minLat: a.bbox.minLat,
    maxLat: a.bbox.maxLat,
    minLon: a.bbox.minLon,
    maxLon: a.bbox.maxLon,
    repLat: a.rep.lat,
    repLon: a.rep.lon,
    areaDeg2: a.areaDeg2,
    source,
    importedAt: now,
  }
}

export interface AdminAreas {
  admin1: Area | null
  admin2: Area | null
  /** The point to show instead of the exact one; null when no known area holds it. */
  generalised: GeneralisedLocation | null
}

/**
 * The ADM1 and ADM2 areas a point lies in (on a shared border, the smaller, then the lower pcode: the same
 * answer every time). A point in a district's hole (an enclave not itself imported) has its province only.
 */
export async function locateAdminAreas(repos: Repositories, point: LatLon): Promise<AdminAreas> {
  const areas = await repos.areas.containing(point.lat, point.lon)
  return {
    admin1: smallestArea(areas.filter((a) => a.level === 1)),
    admin2: smallestArea(areas.filter((a) => a.level === 2)),
    generalised: generaliseLocation(point, areas),
  }
}

export async function listAreas(repos: Repositories, filter: AreaFilter): Promise<Area[]> {
  return repos.areas.list(filter)
}
