/**
 * The tus DataStore (@tus/server's storage port) over Louder's own parts: the `uploads` table (state, owner,
 * declared hash, durable offset) and the encrypted partial files (src/blobs/partial-uploads.ts). The only
 * importer of @tus/utils besides the route (src/http/routes/uploads.ts).
 *
 * tus computes expiry as `creation_date + getExpiration()`; we hand it the time bytes last arrived as
 * `creation_date`, so Upload-Expires and 410 count from the last activity, not from the upload's birth.
 */
import type { Readable } from 'node:stream'
import { DataStore, ERRORS, Upload as TusUpload } from '@tus/utils'
import type { PartialUploadFiles } from '../../blobs/partial-uploads.ts'
import { isUuid } from '../../core/ids.ts'
import type { Store } from '../../core/ports/repositories.ts'
import { expireUploads, type Upload, type UploadLimits } from '../../core/sync/uploads.ts'

/** Upload-Metadata keys the store reads from `create`; OWNER_KEY is set by the route, never by the client. */
export const OWNER_KEY = 'louder-owner'

export interface EncryptedFileStoreDeps {
  store: Store
  partials: PartialUploadFiles
  reserveDataKey(): Promise<string>
  destroyDataKey(id: string): Promise<void>
  limits: UploadLimits
  now?: () => number
}

export class EncryptedFileStore extends DataStore {
  readonly #deps: EncryptedFileStoreDeps

  constructor(deps: EncryptedFileStoreDeps) {
    super()
    this.#deps = deps
    this.extensions = ['creation', 'creation-with-upload', 'termination', 'expiration']
  }

  #now(): number {
    return (this.#deps.now ?? Date.now)()
  }

  override async create(file: TusUpload): Promise<TusUpload> {
    const meta = file.metadata ?? {}
    const owner = meta[OWNER_KEY]
    if (!owner || file.size === undefined || !isUuid(file.id)) throw ERRORS.UNKNOWN_ERROR
    // Reserved outside any transaction (SQLite: one connection), and the file made before the row names it.
    const dataKeyId = await this.#deps.reserveDataKey()
    await this.#deps.partials.create(file.id)
    const now = this.#now()
    await this.#deps.store.repos.uploads.insert({
      id: file.id,
      owner,
      sha256: meta.sha256!,
      filename: meta.filename ?? null,
      incidentId: meta.incidentId ?? null,
      length: file.size,
      offset: 0,
      dataKeyId,
      createdAt: now,
      updatedAt: now,
      expiresAt: now + this.#deps.limits.expireAfterMs,
      status: 'receiving',
      mediaSha256: null,
    })
    file.creation_date = new Date(now).toISOString()
    return file
  }

  override async write(stream: Readable, id: string, offset: number): Promise<number> {
    const upload = await this.#row(id)
    if (upload.status !== 'receiving') return upload.offset
    return this.#deps.partials.write(upload, offset, stream, async (durable) => {
      const at = this.#now()
      await this.#deps.store.repos.uploads.advance(id, durable, at, at + this.#deps.limits.expireAfterMs)
    })
  }

  override async getUpload(id: string): Promise<TusUpload> {
    return toTus(await this.#row(id))
  }

  override async remove(id: string): Promise<void> {
    const upload = await this.#row(id)
    await this.#deps.partials.remove(upload.id)
    await this.#deps.store.repos.uploads.remove(upload.id)
    await this.#deps.destroyDataKey(upload.dataKeyId)
  }

  override async deleteExpired(): Promise<number> {
    return expireUploads(this.#deps)
  }

  override getExpiration(): number {
    return this.#deps.limits.expireAfterMs
  }

  async #row(id: string): Promise<Upload> {
    const upload = isUuid(id) ? await this.#deps.store.repos.uploads.get(id) : null
    if (!upload) throw ERRORS.FILE_NOT_FOUND
    return upload
  }
}

/** What tus sees of an upload: its declared metadata, never the owner or the key. */
export function toTus(upload: Upload): TusUpload {
  const metadata: Record<string, string | null> = { sha256: upload.sha256 }
  if (upload.filename !== null) metadata.filename = upload.filename
  if (upload.incidentId !== null) metadata.incidentId = upload.incidentId
  return new TusUpload({ id: upload.id, size: upload.length, offset: upload.offset, metadata, creation_date: new Date(upload.updatedAt).toISOString() })
}
