import type { Kysely } from 'kysely'

/**
 * Resumable uploads (tus, issue 7): one row per upload under way, or sealed and kept for a retried completion
 * until it expires. Keys, never paths: the partial bytes are DATA/uploads/<id>, encrypted with `data_key_id`.
 * `upload_offset` counts only bytes already fsynced. (0013 is another change's number.)
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('uploads')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('owner', 'text', (c) => c.notNull())
    .addColumn('sha256', 'text', (c) => c.notNull())
    .addColumn('filename', 'text')
    .addColumn('incident_id', 'text')
    .addColumn('length', 'bigint', (c) => c.notNull())
    .addColumn('upload_offset', 'bigint', (c) => c.notNull())
    .addColumn('data_key_id', 'text', (c) => c.notNull().references('data_keys.id'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('media_sha256', 'text')
    .execute()
  // HEAD /media/{sha256} looks for the caller's unfinished upload of a hash; the expiry job walks by expiry.
  await db.schema.createIndex('uploads_owner_sha256').on('uploads').columns(['owner', 'sha256']).execute()
  await db.schema.createIndex('uploads_expires').on('uploads').column('expires_at').execute()
}
