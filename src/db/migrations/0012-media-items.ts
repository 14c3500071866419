import type { Kysely } from 'kysely'

/**
 * The evidence locker (src/core/evidence): one row per sealed item, keyed by the SHA-256 of its original bytes
 * (what a capture record and a court name), mapping it to the blob holding its ciphertext and the data key
 * that opens it. `metadata` is sealed JSON (restricted data). `media_custody` links an item to the custody
 * events about it, written with each event, so an item's trail is a keyed read rather than a scan of the log.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('media_items')
    .addColumn('sha256', 'text', (c) => c.primaryKey())
    .addColumn('media_type', 'text', (c) => c.notNull())
    .addColumn('byte_length', 'bigint', (c) => c.notNull())
    .addColumn('blob_key', 'text', (c) => c.notNull())
    .addColumn('data_key_id', 'text', (c) => c.notNull().references('data_keys.id'))
    .addColumn('kind', 'text', (c) => c.notNull())
    // Not a foreign key: backups load a table in primary-key order, and a derivative may sort before its parent.
    .addColumn('parent_sha256', 'text')
    .addColumn('incident_id', 'text')
    .addColumn('received_at', 'bigint', (c) => c.notNull())
    .addColumn('received_by', 'text', (c) => c.notNull())
    .addColumn('metadata', 'text')
    .addColumn('metadata_status', 'text', (c) => c.notNull())
    .addColumn('metadata_error', 'text')
    .addColumn('pixel_width', 'integer')
    .addColumn('pixel_height', 'integer')
    .addColumn('duration_ms', 'bigint')
    .addColumn('derivation', 'text')
    .execute()
  await db.schema.createIndex('media_items_parent').on('media_items').column('parent_sha256').execute()

  await db.schema
    .createTable('media_custody')
    .addColumn('media_sha256', 'text', (c) => c.notNull())
    .addColumn('event_index', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('media_custody_pk', ['media_sha256', 'event_index'])
    .execute()
}
