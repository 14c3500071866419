import type { Kysely, Selectable } from 'kysely'
import type { MediaItem, MediaItemRepository } from '../../core/evidence/media-item.ts'
import { insertJob } from './job-row.ts'
import type { Database, MediaItemsTable } from '../schema.ts'

/**
 * Attempts of an item's processing job. Hostile media end in a recorded error, not a throw, so retries are for
 * a worker that died mid-job; three are plenty, and a file that kills its worker every time goes dead.
 */
export const MEDIA_PROCESS_ATTEMPTS = 3

export function mediaItemRepository(db: Kysely<Database>): MediaItemRepository {
  return {
    async insert(item) {
      await db.insertInto('media_items').values(toRow(item)).execute()
    },
    async bySha256(sha256) {
      const row = await db.selectFrom('media_items').selectAll().where('sha256', '=', sha256).executeTakeFirst()
      return row ? fromRow(row) : null
    },
    async queueProcessing(sha256, mediaType) {
      await insertJob(db, 'media.process', { sha256, mediaType }, { maxAttempts: MEDIA_PROCESS_ATTEMPTS })
    },
    async queueWorkingCopy(sha256, requestedBy) {
      return insertJob(db, 'media.working-copy', { sha256, requestedBy }, { maxAttempts: MEDIA_PROCESS_ATTEMPTS })
    },
    async linkCustodyEvent(sha256, index) {
      await db.insertInto('media_custody').values({ media_sha256: sha256, event_index: index }).execute()
    },
    async custodyEvents(sha256) {
      const rows = await db.selectFrom('media_custody').select('event_index').where('media_sha256', '=', sha256).orderBy('event_index').execute()
      return rows.map((r) => Number(r.event_index))
    },
    async setMetadata(sha256, r) {
      await db
        .updateTable('media_items')
        .set({ metadata: r.sealedMetadata, metadata_status: r.status, metadata_error: r.error, pixel_width: r.pixelWidth, pixel_height: r.pixelHeight, duration_ms: r.durationMs })
        .where('sha256', '=', sha256)
        .execute()
    },
    async count() {
      const row = await db.selectFrom('media_items').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()
      return Number(row.n)
    },
  }
}


function toRow(i: MediaItem): MediaItemsTable {
  return {
    sha256: i.sha256,
    media_type: i.mediaType,
    byte_length: i.byteLength,
    blob_key: i.blobKey,
    data_key_id: i.dataKeyId,
    kind: i.kind,
    parent_sha256: i.parentSha256,
    incident_id: i.incidentId,
    received_at: i.receivedAt,
    received_by: i.receivedBy,
    metadata: i.sealedMetadata,
    metadata_status: i.metadataStatus,
    metadata_error: i.metadataError,
    pixel_width: i.pixelWidth,
    pixel_height: i.pixelHeight,
    duration_ms: i.durationMs,
    derivation: i.derivation,
  }
}

function fromRow(r: Selectable<MediaItemsTable>): MediaItem {
  const num = (v: number | string | null) => (v === null ? null : Number(v))
  return {
    sha256: r.sha256,
    mediaType: r.media_type,
    byteLength: Number(r.byte_length),
    blobKey: r.blob_key,
    dataKeyId: r.data_key_id,
    kind: r.kind,
    parentSha256: r.parent_sha256,
    incidentId: r.incident_id,
    receivedAt: Number(r.received_at),
    receivedBy: r.received_by,
    sealedMetadata: r.metadata,
    metadataStatus: r.metadata_status,
    metadataError: r.metadata_error,
    pixelWidth: num(r.pixel_width),
    pixelHeight: num(r.pixel_height),
    durationMs: num(r.duration_ms),
    derivation: r.derivation,
  }
}
