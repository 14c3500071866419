import { type Kysely, type RawBuilder, sql } from 'kysely'
import type { IncidentQuery } from '../../core/incidents/incident.ts'
import type { DialectName } from '../dialect/dialect-adapter.ts'
import { candidateBoxes, rtreeProbe, rtreeRange } from './place-time.ts'
import { firstKeyFrom, lastKeyUntil, secondOf, secondOfKey } from './incident-search-key.ts'
import type { Database, IncidentsTable } from '../schema.ts'
import { sqlLimit } from './sql-limit.ts'

/**
 * One page of the incident register, newest first. Every path applies the same exact predicate
 * (`exactFilter`), so they answer the same rows; they differ in which index narrows the search first
 * (indexes: migration 0008_incidents):
 * - words → the full-text index (FTS5 / GIN), then the other filters on the matches;
 * - a party → its entries in incident_actors, which carry time and point, walked newest first;
 * - a box → as observations: a probe counts the box's spatial-index entries up to a threshold; few, and the
 *   candidates come from the spatial index; many, and the time index (which carries the point) is walked;
 * - one status and nothing narrower (the public view) → the (status, time) index;
 * - otherwise → the time index.
 */
const SQLITE_PROBE_LIMIT = 300
const POSTGRES_PROBE_LIMIT = 1_000
const MAX_WORDS = 32

export async function listIncidentRows(db: Kysely<Database>, dialect: DialectName, q: IncidentQuery): Promise<IncidentsTable[]> {
  const limit = q.limit + 1
  if (q.text !== undefined) {
    const words = searchWords(q.text)
    // Nothing searchable (only punctuation or spaces) matches nothing, on both databases alike.
    if (words.length === 0) return []
    if (dialect === 'sqlite') return wordsNewestFirstSqlite(db, q, words.map((w) => `"${w.replaceAll('"', '""')}"`).join(' '))
    // `occurred_at + 0`: the matches come from the GIN index and are sorted, never found by walking the time
    // index newest first and testing every row (fast for a common word, a full scan for a rare one).
    return run(db, sql`select i.* from incidents i where to_tsvector('simple', louder_fold(i.narrative || ' ' || i.place_name)) @@ plainto_tsquery('simple', louder_fold(${words.join(' ')}))
      and ${exactFilter(q)} order by i.occurred_at + 0 desc, i.id desc limit ${sqlLimit(limit)}`)
  }
  if (q.partyId !== undefined) {
    // The party's entries, newest first, filtered on the copies of time and point they carry; the incident
    // row is read only for entries that pass. SQLite's CROSS JOIN keeps that order of the loops.
    const join = dialect === 'sqlite' ? sql`incident_actors a indexed by incident_actors_party_time cross join incidents i` : sql`incident_actors a join incidents i`
    return run(db, sql`select i.* from ${join} on i.id = a.incident_id
      where a.party_id = ${q.partyId} and ${placeTimeFilter(q, 'a', 'incident_id')} and ${exactFilter(q)}
      order by a.occurred_at desc, a.incident_id desc limit ${sqlLimit(limit)}`)
  }
  if (q.bbox) return dialect === 'sqlite' ? listInBoxSqlite(db, q) : listInBoxPostgres(db, q)
  if (q.statuses?.length === 1) {
    const index = dialect === 'sqlite' ? sql`indexed by incidents_status_time` : sql``
    return run(db, sql`select i.* from incidents i ${index} where ${exactFilter(q)} order by i.occurred_at desc, i.id desc limit ${sqlLimit(limit)}`)
  }
  const index = dialect === 'sqlite' ? sql`indexed by incidents_time_place` : sql``
  return run(db, sql`select i.* from incidents i ${index} where ${exactFilter(q)} order by i.occurred_at desc, i.id desc limit ${sqlLimit(limit)}`)
}

/**
 * Words on SQLite: the full-text index's rowids are search keys in time order (incident-search-key.ts), so
 * matches come newest first, in chunks that grow, and the other filters apply to each chunk's rows. It stops
 * once a page has passed and every second the page reaches has been read whole (keys order seconds, not the
 * incidents within one), then sorts exactly. A common word costs a chunk or two; a rare one, its few matches.
 */
async function wordsNewestFirstSqlite(db: Kysely<Database>, q: IncidentQuery, match: string): Promise<IncidentsTable[]> {
  const limit = q.limit + 1
  const lo = q.from === undefined ? null : firstKeyFrom(q.from)
  const bounds = [q.to === undefined ? null : lastKeyUntil(q.to - 1), q.after ? lastKeyUntil(q.after.occurredAt) : null].filter((b) => b !== null)
  let hi: number | null = bounds.length ? Math.min(...bounds) : null
  const found: IncidentsTable[] = []
  for (let chunk = 128; ; chunk = Math.min(chunk * 4, 8192)) {
    const { rows } = await sql<{ rowid: number }>`select rowid from incidents_fts where incidents_fts match ${match}
      ${hi === null ? sql`` : sql`and rowid <= ${hi}`} ${lo === null ? sql`` : sql`and rowid >= ${lo}`} order by rowid desc limit ${sqlLimit(chunk)}`.execute(db)
    const keys = rows.map((r) => Number(r.rowid))
    if (keys.length) found.push(...(await run(db, sql`select i.* from incidents i where i.search_key in (${sql.join(keys)}) and ${exactFilter(q)}`)))
    if (keys.length < chunk) break
    hi = keys[keys.length - 1]! - 1
    if (found.length >= limit) {
      found.sort(newestFirst)
      // Whatever is left has keys ≤ hi: a second no later than hi's, which cannot outrank a page that ends later.
      if (secondOfKey(hi) < secondOf(Number(found[limit - 1]!.occurred_at))) break
    }
  }
  return found.sort(newestFirst).slice(0, limit)
}

function newestFirst(a: IncidentsTable, b: IncidentsTable): number {
  return Number(b.occurred_at) - Number(a.occurred_at) || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0)
}

/** The words of a search, as both databases' tokenizers would split them (letters, digits, joiners), capped. */
export function searchWords(text: string): string[] {
  return (text.normalize('NFKC').match(/[\p{L}\p{N}\p{M}_]+/gu) ?? []).slice(0, MAX_WORDS)
}

async function run(db: Kysely<Database>, query: RawBuilder<IncidentsTable>): Promise<IncidentsTable[]> {
  return (await query.execute(db)).rows
}

async function listInBoxSqlite(db: Kysely<Database>, q: IncidentQuery): Promise<IncidentsTable[]> {
  const limit = q.limit + 1
  const boxes = candidateBoxes(q.bbox!)
  if ((await rtreeProbe(db, 'incidents_rtree', boxes, q, SQLITE_PROBE_LIMIT)) > SQLITE_PROBE_LIMIT)
    return run(db, sql`select i.* from incidents i indexed by incidents_time_place where ${exactFilter(q)} order by i.occurred_at desc, i.id desc limit ${sqlLimit(limit)}`)
  // Few candidates in the box and window: take them all from the tree, then apply every filter to their rows.
  return run(db, sql`select i.* from incidents i where i.id in (${sql.join(
    boxes.map((b) => sql`select incident_id from incidents_rtree where ${rtreeRange(b, q)}`),
    sql` union all `,
  )}) and ${exactFilter(q)} order by i.occurred_at desc, i.id desc limit ${sqlLimit(limit)}`)
}

async function listInBoxPostgres(db: Kysely<Database>, q: IncidentQuery): Promise<IncidentsTable[]> {
  const limit = q.limit + 1
  const inBox = sql.join(
    candidateBoxes(q.bbox!).map((b) => sql`point(i.lon, i.lat) <@ box(point(${b.west}, ${b.south}), point(${b.east}, ${b.north}))`),
    sql` or `,
  )
  const probeBox = sql.join(
    candidateBoxes(q.bbox!).map((b) => sql`point(lon, lat) <@ box(point(${b.west}, ${b.south}), point(${b.east}, ${b.north}))`),
    sql` or `,
  )
  // As observations: one statement, each path gated on the probe; `occurred_at + 0` keeps the spatial path spatial.
  return run(db, sql`
    with probe as materialized (
      select count(*) as n from (select 1 from incidents where ${probeBox} limit ${POSTGRES_PROBE_LIMIT + 1}) entries
    )
    select * from (
      (select i.* from incidents i where ${exactFilter(q)} and (select n from probe) > ${POSTGRES_PROBE_LIMIT}
        order by i.occurred_at desc, i.id desc limit ${sqlLimit(limit)})
      union all
      (select i.* from incidents i where (${inBox}) and ${exactFilter(q)} and (select n from probe) <= ${POSTGRES_PROBE_LIMIT}
        order by i.occurred_at + 0 desc, i.id desc limit ${sqlLimit(limit)})
    ) page order by occurred_at desc, id desc`)
}


/** Box, window [from, to) and keyset position on a table alias whose columns are occurred_at, lat, lon and `idColumn`. */
function placeTimeFilter(q: IncidentQuery, alias: 'i' | 'a', idColumn: 'id' | 'incident_id'): RawBuilder<unknown> {
  const col = (name: string) => sql.ref(`${alias}.${name}`)
  const terms: RawBuilder<unknown>[] = [sql`1 = 1`]
  if (q.bbox) {
    const [west, south, east, north] = q.bbox
    terms.push(sql`${col('lat')} >= ${south} and ${col('lat')} <= ${north}`)
    terms.push(west <= east ? sql`${col('lon')} >= ${west} and ${col('lon')} <= ${east}` : sql`(${col('lon')} >= ${west} or ${col('lon')} <= ${east})`)
  }
  if (q.from !== undefined) terms.push(sql`${col('occurred_at')} >= ${q.from}`)
  if (q.to !== undefined) terms.push(sql`${col('occurred_at')} < ${q.to}`)
  // A row-value comparison, so both databases seek the index to the position instead of filtering.
  if (q.after) terms.push(sql`${col('occurred_at')} <= ${q.after.occurredAt} and (${col('occurred_at')}, ${col(idColumn)}) < (${q.after.occurredAt}, ${q.after.id})`)
  return sql.join(terms, sql` and `)
}

/** Every filter of the query on the incident row `i` (words excepted: their index applies them). */
function exactFilter(q: IncidentQuery): RawBuilder<unknown> {
  const terms = [placeTimeFilter(q, 'i', 'id')]
  if (q.eventType !== undefined) terms.push(sql`i.event_type = ${q.eventType}`)
  if (q.statuses?.length) terms.push(sql`i.status in (${sql.join(q.statuses)})`)
  if (q.timePrecision !== undefined) terms.push(sql`i.time_precision = ${q.timePrecision}`)
  if (q.geoPrecision !== undefined) terms.push(sql`i.geo_precision = ${q.geoPrecision}`)
  if (q.partyId !== undefined) terms.push(sql`exists (select 1 from incident_actors p where p.incident_id = i.id and p.party_id = ${q.partyId})`)
  return sql.join(terms, sql` and `)
}
