import type { Kysely } from 'kysely'
import type { CaptureRepository, StoredCapture } from '../../core/evidence/capture.ts'
import type { CapturesTable, Database } from '../schema.ts'

export function captureRepository(db: Kysely<Database>): CaptureRepository {
  return {
    async get(sha256) {
      const row = await db.selectFrom('captures').selectAll().where('sha256', '=', sha256).executeTakeFirst()
      return row && fromRow(row)
    },
    async insert(c) {
      await db
        .insertInto('captures')
        .values({
          sha256: c.sha256,
          record_sha256: c.recordSha256,
          media_type: c.mediaType,
          byte_length: c.byteLength,
          device_key_id: c.deviceKeyId,
          record: c.sealedRecord,
          data_key_id: c.dataKeyId,
          signature: c.signature,
          log_index: c.logIndex,
          leaf_hash: c.leafHash,
          received_at: c.receivedAt,
        })
        .execute()
    },
  }
}

// PostgreSQL returns bigint columns as strings.
function fromRow(r: CapturesTable): StoredCapture {
  return {
    sha256: r.sha256,
    recordSha256: r.record_sha256,
    mediaType: r.media_type,
    byteLength: Number(r.byte_length),
    deviceKeyId: r.device_key_id,
    sealedRecord: r.record,
    dataKeyId: r.data_key_id,
    signature: r.signature,
    logIndex: Number(r.log_index),
    leafHash: r.leaf_hash,
    receivedAt: Number(r.received_at),
  }
}
