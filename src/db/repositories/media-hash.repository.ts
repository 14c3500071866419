import type { Kysely } from 'kysely'
import type { MediaHashRepository, StoredMediaHash } from '../../core/ports/repositories.ts'
import type { Database, MediaHashesTable } from '../schema.ts'

// SQLite allows 32766 parameters a statement, PostgreSQL 65535; 6 columns a row.
const ROWS_PER_INSERT = 4000

export function mediaHashRepository(db: Kysely<Database>): MediaHashRepository {
  return {
    async replace(mediaSha256, frames, at) {
      await db.deleteFrom('media_hashes').where('media_sha256', '=', mediaSha256).execute()
      const rows = frames.map((f, i) => ({ media_sha256: mediaSha256, frame_index: i, frame_ms: f.frameMs, pdq: f.hash, quality: f.quality, created_at: at }))
      for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) await db.insertInto('media_hashes').values(rows.slice(i, i + ROWS_PER_INSERT)).execute()
    },
    async forMedia(mediaSha256) {
      const rows = await db.selectFrom('media_hashes').selectAll().where('media_sha256', '=', mediaSha256).orderBy('frame_index').execute()
      return rows.map(fromRow)
    },
    async createdSince(at) {
      const rows = await db.selectFrom('media_hashes').selectAll().where('created_at', '>=', at).orderBy('created_at').orderBy('media_sha256').orderBy('frame_index').execute()
      return rows.map(fromRow)
    },
    async remove(mediaSha256) {
      const res = await db.deleteFrom('media_hashes').where('media_sha256', '=', mediaSha256).executeTakeFirst()
      return Number(res.numDeletedRows)
    },
    async page(limit, after) {
      let query = db.selectFrom('media_hashes').selectAll()
      if (after)
        query = query.where((eb) =>
          eb.or([eb('media_sha256', '>', after.mediaSha256), eb.and([eb('media_sha256', '=', after.mediaSha256), eb('frame_index', '>', after.frameIndex)])]),
        )
      const rows = await query.orderBy('media_sha256').orderBy('frame_index').limit(limit).execute()
      return rows.map(fromRow)
    },
  }
}

function fromRow(r: MediaHashesTable): StoredMediaHash {
  return {
    mediaSha256: r.media_sha256,
    frameIndex: Number(r.frame_index),
    frameMs: r.frame_ms === null ? null : Number(r.frame_ms),
    hash: r.pdq,
    quality: Number(r.quality),
    createdAt: Number(r.created_at),
  }
}
