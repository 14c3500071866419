import { type Kysely, sql } from 'kysely'
import type { DialectName } from '../dialect/dialect-adapter.ts'
import type { Database } from '../schema.ts'

/**
 * An incident's search key: an integer in time order, so SQLite's full-text index (whose rowid it is) can
 * hand out matches newest first and a search stops at a page instead of sorting every match (a common word
 * is in tens of thousands of incidents). The key is the second the incident occurred × 2^20, plus a slot
 * taken in order of writing: keys of different seconds sort as their times do; within one second they
 * need not, so a search reads each second it reaches whole and sorts it exactly (incident-search.ts).
 * Keys stay below 2^53 (exact in JavaScript) for incidents between 1900 and 2200, the range the register
 * accepts. PostgreSQL keeps the same keys, unused by its search, so a dump restores into either database.
 */
export const KEY_SLOTS = 2 ** 20

export function secondOf(occurredAt: number): number {
  return Math.floor(occurredAt / 1000)
}

export function secondOfKey(key: number): number {
  return Math.floor(key / KEY_SLOTS)
}

/** The smallest key of incidents at or after `from`. */
export function firstKeyFrom(occurredAt: number): number {
  return secondOf(occurredAt) * KEY_SLOTS
}

/** The largest key an incident that occurred at or before `occurredAt` can have. */
export function lastKeyUntil(occurredAt: number): number {
  return (secondOf(occurredAt) + 1) * KEY_SLOTS - 1
}

// Any constant: it names the lock that serialises key allocation on PostgreSQL.
const KEY_LOCK = 0x4c4f5544

/**
 * Keys for incidents about to be written (inside the caller's write transaction), in order: each takes the
 * next free slot of its second. SQLite's write lock already serialises writers; PostgreSQL takes a
 * transaction-scoped advisory lock, so two writers never take the same slot.
 */
export async function allocateSearchKeys(db: Kysely<Database>, dialect: DialectName, occurredAts: readonly number[]): Promise<number[]> {
  if (occurredAts.length === 0) return []
  if (dialect === 'postgres') await sql`select pg_advisory_xact_lock(${KEY_LOCK})`.execute(db)
  const seconds = [...new Set(occurredAts.map(secondOf))]
  const top = new Map<number, number>()
  // One statement per 300 seconds: each a seek to the top of its range of the unique index.
  for (let i = 0; i < seconds.length; i += 300) {
    const part = seconds.slice(i, i + 300)
    const { rows } = await sql<{ s: number | string; top: number | string | null }>`${sql.join(
      part.map((s) => sql`select ${s} as s, (select max(search_key) from incidents where search_key between ${s * KEY_SLOTS} and ${(s + 1) * KEY_SLOTS - 1}) as top`),
      sql` union all `,
    )}`.execute(db)
    for (const r of rows) top.set(Number(r.s), r.top === null ? Number(r.s) * KEY_SLOTS - 1 : Number(r.top))
  }
  return occurredAts.map((t) => {
    const s = secondOf(t)
    const key = top.get(s)! + 1
    if (key > (s + 1) * KEY_SLOTS - 1) throw new Error(`more than ${KEY_SLOTS} incidents in the second ${new Date(s * 1000).toISOString()}`)
    top.set(s, key)
    return key
  })
}
