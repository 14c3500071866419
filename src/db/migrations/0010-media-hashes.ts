import type { Kysely } from 'kysely'

/**
 * PDQ hashes of media items: one row per image, one per kept video frame. The primary key is
 * (media_sha256, frame_index) rather than involving frame_ms because frame_ms is null for images, and
 * neither database allows a null in a primary key (nor do the backups' keyset pages cope with one);
 * frame_index is 0 for an image and the frame's position among the kept frames for a video.
 * The hash is kept as hex text: the same on both databases, and what the index is rebuilt from at start-up.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('media_hashes')
    .addColumn('media_sha256', 'text', (c) => c.notNull())
    .addColumn('frame_index', 'integer', (c) => c.notNull())
    .addColumn('frame_ms', 'bigint')
    .addColumn('pdq', 'text', (c) => c.notNull())
    .addColumn('quality', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('media_hashes_pk', ['media_sha256', 'frame_index'])
    .execute()
  // What a server's in-memory index reads to catch up with hashes other processes (`louder worker`) stored.
  await db.schema.createIndex('media_hashes_created').on('media_hashes').column('created_at').execute()
}
