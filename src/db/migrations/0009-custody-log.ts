import type { Kysely } from 'kysely'

/**
 * The custody log (RFC 6962/9162 Merkle tree). `custody_events` holds each leaf: its index, leaf hash and
 * the canonical JSON it hashes. `custody_nodes` holds every perfect subtree above the leaves, written once
 * when its last leaf is appended, so any root or proof needs O(log n) keyed reads. `custody_checkpoints`
 * keeps every signed checkpoint published. Hashes are lower-case hex. All three are append-only in use.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('custody_events')
    .addColumn('idx', 'bigint', (c) => c.primaryKey())
    .addColumn('leaf_hash', 'text', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute()

  await db.schema
    .createTable('custody_nodes')
    .addColumn('level', 'integer', (c) => c.notNull())
    .addColumn('idx', 'bigint', (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('custody_nodes_pk', ['level', 'idx'])
    .execute()

  await db.schema
    .createTable('custody_checkpoints')
    .addColumn('size', 'bigint', (c) => c.primaryKey())
    .addColumn('root', 'text', (c) => c.notNull())
    .addColumn('note', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute()
}
