import { type Kysely, type RawBuilder, sql } from 'kysely'
import { type ConsentSummary, type Observation, type ObservationQuery, type ObservationSource, summariseConsent } from '../../core/observations/observation.ts'
import type { ObservationRepository } from '../../core/ports/repositories.ts'
import type { EventType } from '../../core/register/acled.ts'
import type { DialectName } from '../dialect/dialect-adapter.ts'
import { cellExpression, coverBox } from './place-cells.ts'
import { candidateBoxes } from './place-time.ts'
import type { Database, ObservationsTable } from '../schema.ts'
import { sqlLimit } from './sql-limit.ts'

/**
 * A box-and-window page, newest first, without reading the whole window or the whole box:
 * - SQLite: merge the grid cells that cover the box (place-cells.ts, migration 0016), each read newest first
 *   within the window from its level's index, until a page is in; then read those rows by rowid. A box too
 *   large for the grid walks the time index (observations_time_place), checking the place it carries.
 * - PostgreSQL: one index cannot serve both a city block over a year (few matches in a long window) and a
 *   region over a week (too many matches to collect), so a probe counts the box's rows of all time in the
 *   GiST (0002), stopping at a threshold. Fewer, and the spatial path collects and sorts them whatever the
 *   window; more, and the box is dense enough that walking the time index newest first meets matches early
 *   (unless a window holds far fewer of them than the box's average, its only slow case).
 */
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
        const rows = await sql<ObservationsTable>`select * from observations where ${exactFilter(q, dialect)} order by occurred_at desc, id desc limit ${sqlLimit(q.limit + 1)}`.execute(db)
        return rows.rows.map(fromRow)
      }
      // A box with an unknown side holds nothing, on every path (NaN would otherwise bind as NULL and read
      // as a box across the antimeridian).
      if (q.bbox.some(Number.isNaN)) return []
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
  const rows = await cellsOrWalkSqlite(db, q, FETCH_SIZES.find((size) => size >= q.limit + 1) ?? q.limit + 1)
  return rows.slice(0, q.limit + 1)
}

/**
 * The page sizes the SQLite search asks for: a page of n (plus one, to tell another page exists) reads the
 * next size up. Each LIMIT is written into the SQL, so each is a statement of its own for every cover shape;
 * without this, a client stepping through every `limit` would compile hundreds of them. The usual pages
 * (50, 100) read nothing extra.
 */
const FETCH_SIZES = [11, 26, 51, 101, 201, 501] as const

async function cellsOrWalkSqlite(db: Kysely<Database>, q: ObservationQuery, limit: number): Promise<ObservationsTable[]> {
  const cover = coverBox(q.bbox!)
  if (!cover) {
    const { rows } = await sql<ObservationsTable>`select * from observations indexed by observations_time_place
      where ${exactFilter(q, 'sqlite')} order by occurred_at desc, id desc limit ${sqlLimit(limit)}`.execute(db)
    return rows
  }
  if (cover.cells.length === 0) return []
  // One arm per cell, each in page order from its index; SQLite merges them and stops at the limit. The
  // rowids are read in this same statement, so nothing (VACUUM included) can renumber them in between.
  const cell = sql.raw(cellExpression(cover.level))
  const index = sql.raw(cover.level.index)
  const exact = exactFilter(q, 'sqlite')
  const arms = cover.cells.map((c) => sql`select rowid as page_rowid, occurred_at, id from observations indexed by ${index} where ${cell} = ${planned(c)} and ${exact}`)
  const { rows } = await sql<ObservationsTable>`select o.* from (${sql.join(arms, sql` union all `)} order by occurred_at desc, id desc limit ${sqlLimit(limit)}) page
    join observations o on o.rowid = page.page_rowid order by page.occurred_at desc, page.id desc`.execute(db)
  return rows
}

async function listInBoxPostgres(db: Kysely<Database>, q: ObservationQuery): Promise<ObservationsTable[]> {
  const limit = q.limit + 1
  const exact = exactFilter(q, 'postgres')
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
        order by occurred_at desc, id desc limit ${sqlLimit(limit)})
      union all
      (select * from observations where id in (
        select id from observations where (${inBox}) and ${exact} and (select n from probe) <= ${POSTGRES_PROBE_LIMIT}
        order by occurred_at + 0 desc, id desc limit ${sqlLimit(limit)}))
    ) page order by occurred_at desc, id desc`.execute(db)
  return rows
}


/**
 * The exact predicate of a list: box, window [from, to), keyset position. Every path applies it, so every
 * path answers the same rows.
 */
function exactFilter(q: ObservationQuery, dialect: DialectName): RawBuilder<unknown> {
  const n = dialect === 'sqlite' ? planned : (v: number) => sql`${v}`
  const terms: RawBuilder<unknown>[] = [sql`1 = 1`]
  if (q.bbox) {
    const [west, south, east, north] = q.bbox
    terms.push(sql`lat >= ${n(south)} and lat <= ${n(north)}`)
    terms.push(west <= east ? sql`lon >= ${n(west)} and lon <= ${n(east)}` : sql`(lon >= ${n(west)} or lon <= ${n(east)})`)
  }
  if (q.from !== undefined) terms.push(sql`occurred_at >= ${n(q.from)}`)
  if (q.to !== undefined) terms.push(sql`occurred_at < ${n(q.to)}`)
  // A row-value comparison, so that both databases seek the time index to the position instead of filtering.
  if (q.after) terms.push(sql`occurred_at <= ${n(q.after.occurredAt)} and (occurred_at, id) < (${q.after.occurredAt}, ${q.after.id})`)
  return sql.join(terms, sql` and `)
}

/**
 * A number compared with an indexed column, as SQLite is to bind it here. A bare parameter there lets SQLite
 * (built with STAT4, as better-sqlite3 is) re-plan the statement whenever its value changes, in case another
 * plan suits it better: at 1M rows that re-planning was a third of a page's query time, and these statements
 * fix their plan anyway (INDEXED BY). `? + 0` is the same number, but not a bare parameter.
 */
function planned(value: number): RawBuilder<unknown> {
  return sql`(${value} + 0)`
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
