import { type Kysely, sql } from 'kysely'
import { TABLES_IN_DEPENDENCY_ORDER, type Database } from './schema.ts'

/**
 * A logical dump of our tables: rows as plain JSON objects whose values are strings, finite numbers or
 * null. That is all the schema uses (times are epoch ms, JSON is text, no binary columns), and it reads
 * back the same into SQLite and PostgreSQL, so a backup of one restores into the other.
 */
export type TableName = (typeof TABLES_IN_DEPENDENCY_ORDER)[number]
export type DumpValue = string | number | null
export type DumpRow = Record<string, DumpValue>

/** Each table's primary key, which orders its dump and pages through it (keyset, never OFFSET). */
export const PRIMARY_KEYS = {
  meta: ['key'],
  users: ['id'],
  user_roles: ['user_id', 'role'],
  api_tokens: ['id'],
  data_keys: ['id'],
  idempotency_keys: ['scope', 'key'],
  jobs: ['id'],
  observations: ['id'],
  orgs: ['id'],
  recovery_codes: ['user_id', 'code_hash'],
  sessions: ['id'],
  settings: ['key'],
  audit_log: ['id'],
  parties: ['id'],
  areas: ['id'],
  incidents: ['id'],
  incident_actors: ['incident_id', 'party_id'],
  incident_observations: ['incident_id', 'observation_id'],
  incident_versions: ['incident_id', 'version'],
  incident_comments: ['id'],
  custody_events: ['idx'],
  custody_nodes: ['level', 'idx'],
  custody_checkpoints: ['size'],
  media_hashes: ['media_sha256', 'frame_index'],
  media_items: ['sha256'],
  media_custody: ['media_sha256', 'event_index'],
  devices: ['key_id'],
  captures: ['sha256'],
  uploads: ['id'],
} as const satisfies { [T in keyof Database]: readonly (keyof Database[T] & string)[] }

// A table missing from TABLES_IN_DEPENDENCY_ORDER would silently be left out of every backup: make it a type error.
type Unlisted = Exclude<keyof Database, TableName>
const everyTableListed: [Unlisted] extends [never] ? true : Unlisted = true
void everyTableListed

export function isTableName(name: string): name is TableName {
  return (TABLES_IN_DEPENDENCY_ORDER as readonly string[]).includes(name)
}

/** A value the portable dump cannot carry faithfully (a Buffer, a bigint beyond 2^53, NaN …). */
export class DumpValueError extends Error {
  readonly code = 'dump_value'
}

/** Streams a table's rows in primary-key order, `pageSize` rows per query, from `db` (pass a snapshot transaction). */
export async function* dumpTable(db: Kysely<Database>, table: TableName, pageSize = 1000): AsyncGenerator<DumpRow> {
  const keys: readonly string[] = PRIMARY_KEYS[table]
  const any = db as unknown as Kysely<any>
  let after: DumpValue[] | null = null
  for (;;) {
    let query = any.selectFrom(table).selectAll()
    if (after) {
      const position = after
      // Row-value comparison (a, b) > (x, y): the same keyset predicate on SQLite ≥ 3.15 and PostgreSQL.
      query = query.where(sql<boolean>`(${sql.join(keys.map((k) => sql.ref(k)))}) > (${sql.join(position)})`)
    }
    for (const key of keys) query = query.orderBy(key)
    const rows: Record<string, unknown>[] = await query.limit(pageSize).execute()
    for (const row of rows) yield portableRow(table, row)
    if (rows.length < pageSize) return
    const last = rows[rows.length - 1]!
    after = keys.map((k) => last[k] as DumpValue)
  }
}

/** Inserts dumped rows into `table`, several per statement within the database's parameter limits. */
export async function insertRows(db: Kysely<Database>, table: TableName, rows: DumpRow[]): Promise<void> {
  if (rows.length === 0) return
  const any = db as unknown as Kysely<any>
  const columns = Math.max(1, Object.keys(rows[0]!).length)
  // SQLite allows 32766 parameters per statement, PostgreSQL 65535.
  const perStatement = Math.max(1, Math.floor(30_000 / columns))
  for (let i = 0; i < rows.length; i += perStatement) await any.insertInto(table).values(rows.slice(i, i + perStatement)).execute()
}

/** Counts a table's rows. */
export async function countRows(db: Kysely<Database>, table: TableName): Promise<number> {
  const row = await (db as unknown as Kysely<any>).selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()
  return Number(row.n)
}

/** Checks a row read from a dump: a flat object of portable values. */
export function checkDumpRow(table: string, value: unknown): DumpRow {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new DumpValueError(`a row of ${table} is not a JSON object`)
  for (const [column, v] of Object.entries(value)) checkValue(table, column, v)
  return value as DumpRow
}

function portableRow(table: string, row: Record<string, unknown>): DumpRow {
  for (const [column, v] of Object.entries(row)) checkValue(table, column, v)
  return row as DumpRow
}

function checkValue(table: string, column: string, v: unknown): void {
  if (v === null || typeof v === 'string') return
  if (typeof v === 'number' && Number.isFinite(v)) return
  const kind = typeof v === 'object' ? (v?.constructor?.name ?? 'object') : typeof v
  throw new DumpValueError(
    `${table}.${column} holds a ${kind} (${String(v).slice(0, 40)}); the portable dump carries only text, finite numbers and null`,
  )
}
