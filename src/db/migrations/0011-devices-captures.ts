import type { Kysely } from 'kysely'

/**
 * Capture devices' keys and hash-first capture records (src/core/evidence). A capture row keeps in clear only
 * what the locker and the log need (hashes, type, length, key id, log index); the signed record, which may
 * hold a location, notes and a collector's pseudonym, is sealed. The device key id is not a foreign key
 * from captures so that a backup's table order stays free; the use case checks it.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('devices')
    .addColumn('key_id', 'text', (c) => c.primaryKey())
    .addColumn('public_key', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('requested_by', 'text', (c) => c.notNull())
    .addColumn('requested_at', 'bigint', (c) => c.notNull())
    .addColumn('registered_by', 'text')
    .addColumn('registered_at', 'bigint')
    .addColumn('registered_log_index', 'bigint')
    .addColumn('revoked_by', 'text')
    .addColumn('revoked_at', 'bigint')
    .addColumn('revoked_log_index', 'bigint')
    .addColumn('revoke_reason', 'text')
    .execute()

  await db.schema
    .createTable('captures')
    .addColumn('sha256', 'text', (c) => c.primaryKey())
    .addColumn('record_sha256', 'text', (c) => c.notNull())
    .addColumn('media_type', 'text', (c) => c.notNull())
    .addColumn('byte_length', 'bigint', (c) => c.notNull())
    .addColumn('device_key_id', 'text', (c) => c.notNull())
    .addColumn('record', 'text', (c) => c.notNull())
    .addColumn('data_key_id', 'text', (c) => c.notNull())
    .addColumn('signature', 'text', (c) => c.notNull())
    .addColumn('log_index', 'bigint', (c) => c.notNull().unique())
    .addColumn('leaf_hash', 'text', (c) => c.notNull())
    .addColumn('received_at', 'bigint', (c) => c.notNull())
    .execute()
  await db.schema.createIndex('captures_device').on('captures').columns(['device_key_id', 'log_index']).execute()
}
