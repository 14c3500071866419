import { CompiledQuery, type Kysely, sql } from 'kysely'
import type { CustodyEntry, CustodyLogRepository, StoredCheckpoint, StoredNode } from '../../core/custody/custody-log-repository.ts'
import { type NodeKey, nodeKeyId } from '../../core/custody/subtrees.ts'
import type { DialectName } from '../dialect/dialect-adapter.ts'
import type { Database } from '../schema.ts'

/** PostgreSQL advisory lock key of the custody log's append lock ("LOUDLG" in ASCII; a safe integer). */
const APPEND_LOCK = 0x4c4f55444c47
const LOG_KEY = 'custody_log_key'
/** Rows per INSERT: inside both databases' parameter limits (SQLite 32766, PostgreSQL 65535). */
const ROWS_PER_INSERT = 5000

const hex = (b: Buffer) => b.toString('hex')
const bytes = (h: string) => Buffer.from(h, 'hex')

export function custodyLogRepository(db: Kysely<Database>, dialect: DialectName): CustodyLogRepository {
  // The size and the proof reads are compiled SQL, not the query builder: a proof is a few dozen primary-key
  // lookups, and building them took as long as running them; what the builder allocates also set off
  // garbage collections that showed in the proofs' p99 (bench/README.md, `locker`).
  const sizeQuery = CompiledQuery.raw('select max(idx) as last from custody_events', [])
  const size = async (): Promise<number> => {
    const { rows } = await db.executeQuery<{ last: number | string | null }>(sizeQuery)
    const last = rows[0]?.last
    return last === null || last === undefined ? 0 : Number(last) + 1
  }
  const placeholder = dialect === 'postgres' ? (n: number) => `$${n}` : () => '?'
  const checkpoint = (r: Database['custody_checkpoints']): StoredCheckpoint => ({ size: Number(r.size), root: bytes(r.root), note: r.note, createdAt: Number(r.created_at) })

  return {
    async lockForAppend() {
      if (dialect === 'postgres') {
        // A transaction-scoped lock is released only at commit or rollback; taken on a pooled connection
        // outside a transaction it would be released at once, and two appenders could share an index.
        if (!db.isTransaction) throw new Error('custody log appends must run inside Store.transaction')
        await sql`select pg_advisory_xact_lock(${APPEND_LOCK})`.execute(db)
      }
      // SQLite: Store.transaction began with BEGIN IMMEDIATE, which already holds the database's only write lock.
      // PostgreSQL (read committed): this statement's snapshot is taken after the lock, so it sees every earlier append.
      return size()
    },

    size,

    async hashes(keys: readonly NodeKey[]) {
      const found = new Map<string, Buffer>()
      const unique = [...new Map(keys.map((k) => [nodeKeyId(k), k])).values()]
      if (unique.length === 0) return found
      // One statement: leaves from custody_events, inner nodes from custody_nodes, each term a primary-key
      // lookup on both databases (SQLite's OR optimisation, PostgreSQL's BitmapOr).
      const params: number[] = []
      const param = (value: number) => placeholder(params.push(value))
      const leaves = unique.filter((k) => k.level === 0).map((k) => param(k.index))
      const inner = unique.filter((k) => k.level > 0).map((k) => `(level = ${param(k.level)} and idx = ${param(k.index)})`)
      const parts: string[] = []
      if (leaves.length) parts.push(`select 0 as level, idx, leaf_hash as hash from custody_events where idx in (${leaves.join(', ')})`)
      if (inner.length) parts.push(`select level, idx, hash from custody_nodes where ${inner.join(' or ')}`)
      const { rows } = await db.executeQuery<{ level: number | string; idx: number | string; hash: string }>(CompiledQuery.raw(parts.join(' union all '), params))
      for (const r of rows) found.set(nodeKeyId({ level: Number(r.level), index: Number(r.idx) }), bytes(r.hash))
      return found
    },

    async insert(entries: readonly CustodyEntry[], nodes: readonly StoredNode[]) {
      for (let i = 0; i < entries.length; i += ROWS_PER_INSERT)
        await db
          .insertInto('custody_events')
          .values(entries.slice(i, i + ROWS_PER_INSERT).map((e) => ({ idx: e.index, leaf_hash: hex(e.leafHash), body: e.body, created_at: e.createdAt })))
          .execute()
      for (let i = 0; i < nodes.length; i += ROWS_PER_INSERT)
        await db
          .insertInto('custody_nodes')
          .values(nodes.slice(i, i + ROWS_PER_INSERT).map((n) => ({ level: n.level, idx: n.index, hash: hex(n.hash) })))
          .execute()
    },

    async entry(index) {
      const r = await db.selectFrom('custody_events').selectAll().where('idx', '=', index).executeTakeFirst()
      return r ? { index: Number(r.idx), leafHash: bytes(r.leaf_hash), body: r.body, createdAt: Number(r.created_at) } : null
    },

    async latestCheckpoint() {
      const r = await db.selectFrom('custody_checkpoints').selectAll().orderBy('size', 'desc').limit(1).executeTakeFirst()
      return r ? checkpoint(r) : null
    },

    async checkpointAt(treeSize) {
      const r = await db.selectFrom('custody_checkpoints').selectAll().where('size', '=', treeSize).executeTakeFirst()
      return r ? checkpoint(r) : null
    },

    async saveCheckpoint(c) {
      await db
        .insertInto('custody_checkpoints')
        .values({ size: c.size, root: hex(c.root), note: c.note, created_at: c.createdAt })
        .onConflict((oc) => oc.column('size').doNothing())
        .execute()
    },

    async logKey() {
      const r = await db.selectFrom('meta').select('value').where('key', '=', LOG_KEY).executeTakeFirst()
      return r?.value ?? null
    },

    async saveLogKeyIfAbsent(record) {
      await db.insertInto('meta').values({ key: LOG_KEY, value: record }).onConflict((oc) => oc.column('key').doNothing()).execute()
      const r = await db.selectFrom('meta').select('value').where('key', '=', LOG_KEY).executeTakeFirstOrThrow()
      return r.value
    },
  }
}
