import type { Kysely } from 'kysely'
import type { Observation } from '../../core/observations/observation.ts'
import type { ObservationRepository } from '../../core/ports/repositories.ts'
import type { Database, ObservationsTable } from '../schema.ts'

export function observationRepository(db: Kysely<Database>): ObservationRepository {
  return {
    async insert(observation) {
      await db.insertInto('observations').values(toRow(observation)).execute()
    },
    async insertMany(observations) {
      // Parameter limits (SQLite 32766, PostgreSQL 65535) cap one statement at a few thousand rows.
      for (let i = 0; i < observations.length; i += 2000)
        await db.insertInto('observations').values(observations.slice(i, i + 2000).map(toRow)).execute()
    },
    async byId(id) {
      const row = await db.selectFrom('observations').selectAll().where('id', '=', id).executeTakeFirst()
      return row ? fromRow(row) : null
    },
    async list(q) {
      let query = db.selectFrom('observations').selectAll()
      if (q.bbox) {
        const [west, south, east, north] = q.bbox
        query = query.where('lat', '>=', south).where('lat', '<=', north)
        // A box that crosses the antimeridian has west > east.
        query = west <= east
          ? query.where('lon', '>=', west).where('lon', '<=', east)
          : query.where((eb) => eb.or([eb('lon', '>=', west), eb('lon', '<=', east)]))
      }
      if (q.from !== undefined) query = query.where('occurred_at', '>=', q.from)
      if (q.to !== undefined) query = query.where('occurred_at', '<', q.to)
      if (q.after) {
        const { occurredAt, id } = q.after
        query = query.where((eb) =>
          eb.or([eb('occurred_at', '<', occurredAt), eb.and([eb('occurred_at', '=', occurredAt), eb('id', '<', id)])]),
        )
      }
      const rows = await query.orderBy('occurred_at', 'desc').orderBy('id', 'desc').limit(q.limit + 1).execute()
      return rows.map(fromRow)
    },
    async count() {
      const row = await db.selectFrom('observations').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()
      return Number(row.n)
    },
  }
}

function toRow(o: Observation): ObservationsTable {
  return {
    id: o.id,
    narrative: o.narrative,
    occurred_at: o.occurredAt,
    lat: o.location?.lat ?? null,
    lon: o.location?.lon ?? null,
    created_by: o.createdBy,
    created_at: o.createdAt,
    updated_at: o.updatedAt,
  }
}

function fromRow(r: ObservationsTable): Observation {
  return {
    id: r.id,
    narrative: r.narrative,
    occurredAt: r.occurred_at,
    location: r.lat === null || r.lon === null ? null : { lat: r.lat, lon: r.lon },
    createdBy: r.created_by,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  }
}
