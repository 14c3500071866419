import { type Kysely, type RawBuilder, sql } from 'kysely'
import { type ConsentSummary, type Observation, type ObservationQuery, type ObservationSource, summariseConsent } from '../../core/observations/observation.ts'
import type { ObservationRepository } from '../../core/ports/repositories.ts'
import type { EventType } from '../../core/register/acled.ts'
import type { DialectName } from '../dialect/dialect-adapter.ts'
import { candidateBoxes, rtreeProbe, rtreeRange } from './place-time.ts'
import type { Database, ObservationsTable } from '../schema.ts'

/**
 * A box-and-window page is answered one of two ways (indexes: migration 0002_observation_search):
 * - dense (many rows in the box): walk the time index newest first, which carries lat and lon, until a page
 *   has matched. Costs about page × (rows in the window ÷ rows matching), and reads table rows only for matches.
 * - sparse: collect the matching rows through the spatial index and sort them. Costs about the match count.
 * Each is hopeless where the other shines (a city block over a year; a region over a week), so a probe first
 * counts spatial-index entries, stopping at a threshold, and the count picks the path. SQLite's R*Tree covers
 * place and time, so it counts the matches themselves. PostgreSQL's GiST covers the place only, so there it
 * counts the box's rows of all time: fewer than the threshold and the spatial path is cheap whatever the
 * window; more, and the box is dense enough that the walk meets matches early (unless a window holds far
 * fewer of them than the box's average, its only slow case).
 */
const SQLITE_PROBE_LIMIT = 300
const POSTGRES_PROBE_LIMIT = 1_000

export function observationRepository(db: Kysely<Database>, dialect: DialectName): ObservationRepository {
  return {
    async insert(observation) {
      await db.insertInto('observations').values(toRow(observation)).execute()
    },
    async insertMany(observations) {
      // Parameter limits (SQLite 32766, PostgreSQL 65535) cap one statement: 1000 rows of 20 columns fit both.
      for (let i = 0; i < observations.length; i += 1000)
        await db.insertInto('observations').values(observations.slice(i, i + 1000).map(toRow)).execute()
    },
    async byId(id) {
      const row = await db.selectFrom('observations').selectAll().where('id', '=', id).executeTakeFirst()
      return row ? fromRow(row) : null
    },
    async updateSealed(id, sealed, consent, updatedAt) {
      const result = await db
        .updateTable('observations')
        .set({ restricted: sealed.value, data_key_id: sealed.dataKeyId, updated_at: updatedAt, ...consentColumns(consent) })
        .where('id', '=', id)
        .executeTakeFirst()
      return Number(result.numUpdatedRows) > 0
    },
    async list(q) {
      if (!q.bbox) {
        const rows = await sql<ObservationsTable>`select * from observations where ${exactFilter(q)} order by occurred_at desc, id desc limit ${q.limit + 1}`.execute(db)
        return rows.rows.map(fromRow)
      }
      const rows = dialect === 'sqlite' ? await listInBoxSqlite(db, q) : await listInBoxPostgres(db, q)
      return rows.map(fromRow)
    },
    async count() {
      const row = await db.selectFrom('observations').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()
      return Number(row.n)
    },
  }
}

async function listInBoxSqlite(db: Kysely<Database>, q: ObservationQuery): Promise<ObservationsTable[]> {
  const limit = q.limit + 1
  const boxes = candidateBoxes(q.bbox!)
  // Two statements, not one with both paths gated on the probe: SQLite would run both.
  if ((await rtreeProbe(db, 'observations_rtree', boxes, q, SQLITE_PROBE_LIMIT)) > SQLITE_PROBE_LIMIT) {
    const { rows } = await sql<ObservationsTable>`select * from observations indexed by observations_time_place
      where ${exactFilter(q)} order by occurred_at desc, id desc limit ${limit}`.execute(db)
    return rows
  }
  // The tree's entries carry exact copies of the columns, so the page is chosen before any table row is read.
  const { rows } = await sql<ObservationsTable>`select * from observations where id in (
      select observation_id from (${sql.join(
        boxes.map((b) => sql`select observation_id, occurred_at from observations_rtree where ${rtreeRange(b, q)} and ${exactFilter(q, 'observation_id')}`),
        sql` union all `,
      )}) order by occurred_at desc, observation_id desc limit ${limit})
    order by occurred_at desc, id desc`.execute(db)
  return rows
}

async function listInBoxPostgres(db: Kysely<Database>, q: ObservationQuery): Promise<ObservationsTable[]> {
  const limit = q.limit + 1
  const exact = exactFilter(q)
  const inBox = sql.join(
    candidateBoxes(q.bbox!).map((b) => sql`point(lon, lat) <@ box(point(${b.west}, ${b.south}), point(${b.east}, ${b.north}))`),
    sql` or `,
  )
  // One statement, so one round trip and one plan; each path is gated on the probe, and PostgreSQL skips the
  // one whose gate is false. `occurred_at + 0` keeps the planner from walking the time index on the spatial path.
  const { rows } = await sql<ObservationsTable>`
    with probe as materialized (
      select count(*) as n from (select 1 from observations where ${inBox} limit ${POSTGRES_PROBE_LIMIT + 1}) entries
    )
    select * from (
      (select * from observations where ${exact} and (select n from probe) > ${POSTGRES_PROBE_LIMIT}
        order by occurred_at desc, id desc limit ${limit})
      union all
      (select * from observations where id in (
        select id from observations where (${inBox}) and ${exact} and (select n from probe) <= ${POSTGRES_PROBE_LIMIT}
        order by occurred_at + 0 desc, id desc limit ${limit}))
    ) page order by occurred_at desc, id desc`.execute(db)
  return rows
}


/**
 * The exact predicate of a list: box, window [from, to), keyset position. Every path applies it, so every
 * path answers the same rows. `idColumn` names the id where the row comes from the R*Tree's copies.
 */
function exactFilter(q: ObservationQuery, idColumn: 'id' | 'observation_id' = 'id'): RawBuilder<unknown> {
  const id = sql.ref(idColumn)
  const terms: RawBuilder<unknown>[] = [sql`1 = 1`]
  if (q.bbox) {
    const [west, south, east, north] = q.bbox
    terms.push(sql`lat >= ${south} and lat <= ${north}`)
    terms.push(west <= east ? sql`lon >= ${west} and lon <= ${east}` : sql`(lon >= ${west} or lon <= ${east})`)
  }
  if (q.from !== undefined) terms.push(sql`occurred_at >= ${q.from}`)
  if (q.to !== undefined) terms.push(sql`occurred_at < ${q.to}`)
  // A row-value comparison, so that both databases seek the time index to the position instead of filtering.
  if (q.after) terms.push(sql`occurred_at <= ${q.after.occurredAt} and (occurred_at, ${id}) < (${q.after.occurredAt}, ${q.after.id})`)
  return sql.join(terms, sql` and `)
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
    sources: JSON.stringify(o.sources ?? []),
    urgent: o.urgent ? 1 : 0,
    language: o.language ?? null,
    media: JSON.stringify(o.media ?? []),
    restricted: o.sealed?.value ?? null,
    data_key_id: o.sealed?.dataKeyId ?? null,
    // A record built without a summary (seeds, benchmarks) that names people gets none of their consent.
    ...consentColumns(o.consentSummary ?? (o.sealed ? NO_CONSENT : summariseConsent([]))),
    title: o.title ?? null,
    event_type: o.eventType ?? null,
    parties: JSON.stringify(o.parties ?? []),
  }
}

const NO_CONSENT: ConsentSummary = { publication: false, partners: false, court: false }

function consentColumns(c: ConsentSummary): Pick<ObservationsTable, 'consent_publication' | 'consent_partners' | 'consent_court'> {
  return { consent_publication: c.publication ? 1 : 0, consent_partners: c.partners ? 1 : 0, consent_court: c.court ? 1 : 0 }
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
    sources: JSON.parse(r.sources) as ObservationSource[],
    urgent: Number(r.urgent) === 1,
    language: r.language,
    media: JSON.parse(r.media) as string[],
    sealed: r.restricted === null || r.data_key_id === null ? null : { value: r.restricted, dataKeyId: r.data_key_id },
    consentSummary: { publication: Number(r.consent_publication) === 1, partners: Number(r.consent_partners) === 1, court: Number(r.consent_court) === 1 },
    title: r.title,
    eventType: r.event_type as EventType | null,
    parties: JSON.parse(r.parties) as string[],
  }
}
