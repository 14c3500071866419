import type { Kysely } from 'kysely'
import type { Upload, UploadRepository } from '../../core/sync/uploads.ts'
import type { Database, UploadsTable } from '../schema.ts'

export function uploadRepository(db: Kysely<Database>): UploadRepository {
  return {
    async insert(u) {
      await db
        .insertInto('uploads')
        .values({
          id: u.id,
          owner: u.owner,
          sha256: u.sha256,
          filename: u.filename,
          incident_id: u.incidentId,
          length: u.length,
          upload_offset: u.offset,
          data_key_id: u.dataKeyId,
          created_at: u.createdAt,
          updated_at: u.updatedAt,
          expires_at: u.expiresAt,
          status: u.status,
          media_sha256: u.mediaSha256,
        })
        .execute()
    },
    async get(id) {
      const row = await db.selectFrom('uploads').selectAll().where('id', '=', id).executeTakeFirst()
      return row ? fromRow(row) : null
    },
    async advance(id, offset, at, expiresAt) {
      // Offsets only grow: a late write from a cut request must not move a resumed upload backwards.
      await db.updateTable('uploads').set({ upload_offset: offset, updated_at: at, expires_at: expiresAt }).where('id', '=', id).where('status', '=', 'receiving').where('upload_offset', '<=', offset).execute()
    },
    async markSealed(id, mediaSha256, at, expiresAt) {
      await db.updateTable('uploads').set({ status: 'sealed', media_sha256: mediaSha256, updated_at: at, expires_at: expiresAt }).where('id', '=', id).execute()
    },
    async remove(id) {
      await db.deleteFrom('uploads').where('id', '=', id).execute()
    },
    async unfinishedFor(owner, sha256) {
      const row = await db.selectFrom('uploads').selectAll().where('owner', '=', owner).where('sha256', '=', sha256).where('status', '=', 'receiving').orderBy('id', 'desc').limit(1).executeTakeFirst()
      return row ? fromRow(row) : null
    },
    async expiredBefore(at, limit) {
      const rows = await db.selectFrom('uploads').selectAll().where('expires_at', '<', at).orderBy('expires_at').limit(limit).execute()
      return rows.map(fromRow)
    },
    async awaitingSeal(limit) {
      const rows = await db.selectFrom('uploads').selectAll().where('status', '=', 'receiving').whereRef('upload_offset', '=', 'length').orderBy('id').limit(limit).execute()
      return rows.map(fromRow)
    },
  }
}

// PostgreSQL returns bigint columns as strings.
function fromRow(r: UploadsTable): Upload {
  return {
    id: r.id,
    owner: r.owner,
    sha256: r.sha256,
    filename: r.filename,
    incidentId: r.incident_id,
    length: Number(r.length),
    offset: Number(r.upload_offset),
    dataKeyId: r.data_key_id,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
    expiresAt: Number(r.expires_at),
    status: r.status === 'sealed' ? 'sealed' : 'receiving',
    mediaSha256: r.media_sha256,
  }
}
