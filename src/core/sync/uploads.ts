/**
 * Resumable media uploads (tus 1.0, `/api/v1/uploads/`, docs/field-sync.md): what an upload is, the rules on
 * what it declares, and how it ends — sealed into the locker exactly once, refused and discarded, or expired.
 *
 * The bytes of an unfinished upload live encrypted outside the database (the `PartialUploads` port: AES-CTR
 * under a data key of the upload's own); the row says how many of them are durable (`offset`). Sealing reads
 * them back through `ingestMedia`, which hashes what was received and refuses anything but the declared hash,
 * and marks the upload sealed in the same transaction as the new item, so a retried completion, or one after a
 * crash between the last byte and the seal, finds the upload sealed or seals it then: one item, one event.
 */
import { createHash } from 'node:crypto'
import { type Actor, actorKey } from '../access/actor.ts'
import { authorize } from '../access/policy.ts'
import { ConflictError, RuleError, ValidationError } from '../errors.ts'
import { isUuid } from '../ids.ts'
import { type CaptureReceipt, parseCaptureSubmission, registerCapture, reserveCaptureSealing } from '../evidence/capture.service.ts'
import { type CaptureRecord, captureRecordBytes } from '../evidence/capture-record.ts'
import { ingestMedia, type IngestDeps, MediaHashMismatchError } from '../evidence/ingest.ts'
import type { MediaItem } from '../evidence/media-item.ts'
import type { Repositories, Store } from '../ports/repositories.ts'
import type { Sealer } from '../ports/sealer.ts'

export interface Upload {
  id: string
  /** actorKey of whoever created it: nobody else sees it. */
  owner: string
  /** The SHA-256 the client declared for the whole file; the locker refuses anything else. */
  sha256: string
  filename: string | null
  incidentId: string | null
  length: number
  /** Bytes received and durable (fsynced before this was written). */
  offset: number
  /** The data key the partial bytes are encrypted with. */
  dataKeyId: string
  createdAt: number
  /** When bytes last arrived (or it was sealed): expiry counts from here. */
  updatedAt: number
  expiresAt: number
  status: 'receiving' | 'sealed'
  /** Sealed: the locker item the bytes became. */
  mediaSha256: string | null
}

export interface UploadRepository {
  insert(upload: Upload): Promise<void>
  get(id: string): Promise<Upload | null>
  /** Records that bytes up to `offset` are durable. */
  advance(id: string, offset: number, at: number, expiresAt: number): Promise<void>
  markSealed(id: string, mediaSha256: string, at: number, expiresAt: number): Promise<void>
  remove(id: string): Promise<void>
  /** The caller's newest unfinished upload declaring this hash, if any. */
  unfinishedFor(owner: string, sha256: string): Promise<Upload | null>
  /** Uploads whose expiry is before `at`, oldest first. */
  expiredBefore(at: number, limit: number): Promise<Upload[]>
  /** Uploads that hold all their bytes but were not sealed (the server stopped in between). */
  awaitingSeal(limit: number): Promise<Upload[]>
}

/** The encrypted partial bytes of uploads (src/blobs/partial-uploads.ts). */
export interface PartialUploads {
  /** The plaintext of the first `upload.length` bytes, decrypted as it streams. */
  read(upload: Upload): AsyncIterable<Uint8Array>
  remove(id: string): Promise<void>
}

export interface UploadLimits {
  /** The largest Upload-Length accepted. */
  maxBytes: number
  /** An upload that received nothing for this long is discarded (and answers 410 meanwhile). */
  expireAfterMs: number
}

export interface UploadDeps extends IngestDeps {
  partials: PartialUploads
  /** Crypto-shreds the upload's own data key once its bytes are gone. */
  destroyDataKey(id: string): Promise<void>
  limits: UploadLimits
  now?: () => number
}

/** What the client declares in Upload-Metadata. */
export interface UploadDeclaration {
  sha256: string
  filename: string | null
  incidentId: string | null
  /** The bytes' signed capture record, sent beside them (`capture`: its JSON, as `POST /captures` takes it). */
  capture: { record: CaptureRecord; signature: string } | null
}

const SHA256 = /^[0-9a-f]{64}$/
/** A capture record with its signature is ~1 KB; Upload-Metadata is a header, so this keeps it well under Node's 16 KiB. */
export const MAX_DECLARED_CAPTURE_CHARS = 8 * 1024
const CAPTURE_FIELD = '/headers/upload-metadata/capture'

/** Checks Upload-Metadata (already base64-decoded) and Upload-Length; hostile values are refused, never stored. */
export function checkUploadDeclaration(metadata: Record<string, string | null> | undefined, length: number | undefined, limits: UploadLimits): UploadDeclaration {
  const field = (name: string) => `/headers/upload-metadata/${name}`
  const sha256 = metadata?.sha256
  if (typeof sha256 !== 'string' || !SHA256.test(sha256)) throw new ValidationError([{ field: field('sha256'), message: 'is required: the SHA-256 of the whole file, 64 lower-case hex digits' }])
  const filename = metadata?.filename ?? null
  if (filename !== null && (filename.length > 255 || /[\u0000-\u001f\u007f]/.test(filename) || /\p{Cs}/u.test(filename)))
    throw new ValidationError([{ field: field('filename'), message: 'must be at most 255 characters, without control characters' }])
  const incidentId = metadata?.incidentId ?? null
  if (incidentId !== null && !isUuid(incidentId)) throw new ValidationError([{ field: field('incidentId'), message: 'must be an incident id (UUID)' }])
  if (length === undefined) throw new ValidationError([{ field: '/headers/upload-length', message: 'is required: deferred lengths are not accepted' }])
  if (length > limits.maxBytes) throw new UploadTooLargeError(limits.maxBytes)
  return { sha256, filename, incidentId, capture: declaredCapture(metadata?.capture ?? null, sha256, length) }
}

/** `capture` in Upload-Metadata: a capture submission for exactly these bytes, checked strictly (and purely: nothing is stored yet). */
function declaredCapture(value: string | null, sha256: string, length: number): UploadDeclaration['capture'] {
  if (value === null) return null
  const field = CAPTURE_FIELD
  if (value.length > MAX_DECLARED_CAPTURE_CHARS) throw new ValidationError([{ field, message: `must be at most ${MAX_DECLARED_CAPTURE_CHARS} characters; send a larger record with POST /api/v1/captures` }])
  let parsed: unknown
  try {
    parsed = JSON.parse(value)
  } catch {
    throw new ValidationError([{ field, message: 'must be JSON: {"record": {…}, "signature": "…"}, as POST /api/v1/captures takes it' }])
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new ValidationError([{ field, message: 'must be a JSON object with record and signature' }])
  const { record, signature } = parsed as { record?: unknown; signature?: unknown }
  const submission = parseCaptureSubmission({ record, signature }, field)
  if (submission.record.sha256 !== sha256) throw new ValidationError([{ field: `${field}/record/sha256`, message: `must be the upload's declared sha256 (${sha256})` }])
  if (submission.record.byteLength !== length) throw new ValidationError([{ field: `${field}/record/byteLength`, message: `must be the upload's Upload-Length (${length})` }])
  return submission
}

/**
 * Logs the capture record an upload declared, before the upload exists, exactly as `POST /captures` would (device
 * checks, signature, one `capture.registered` event): a derivative made on a device (thumbnail, publication
 * image) can then travel beside its record instead of a round trip behind the batch that carries it, and is
 * still filed under its parent when sealed. The same record again logs nothing; a different record already
 * logged for these bytes stands (one medium, one record), and the upload goes on. `inTransaction` writes the
 * audit record in the same transaction. Answers the hash of the record now logged for these bytes when it is
 * the declared one (the client then need not send it again), or null when another stands.
 */
export async function logDeclaredCapture(
  deps: { store: Store; sealer: Sealer },
  actor: Actor,
  capture: NonNullable<UploadDeclaration['capture']>,
  inTransaction: (repos: Repositories, receipt: CaptureReceipt & { created: boolean }) => Promise<void>,
): Promise<string | null> {
  authorize(actor, 'capture.register')
  const recordSha256 = createHash('sha256').update(captureRecordBytes(capture.record)).digest('hex')
  // Often already logged (the batch carries the same record beside the upload): nothing to seal, no data key to make.
  const logged = await deps.store.repos.captures.get(capture.record.sha256)
  if (logged) return logged.recordSha256 === recordSha256 ? recordSha256 : null
  const sealing = await reserveCaptureSealing(deps.sealer)
  try {
    await deps.store.transaction(async (repos) => {
      const receipt = await registerCapture(repos, sealing, actor, capture, Date.now(), CAPTURE_FIELD)
      await inTransaction(repos, receipt)
    })
    return recordSha256
  } catch (err) {
    if (err instanceof ConflictError && err.code === 'capture_conflict') return null
    throw err
  }
}

export class UploadTooLargeError extends RuleError {
  constructor(limit: number) {
    super('upload_too_large', `This server accepts uploads of at most ${limit} bytes.`)
  }
}

/** The upload belongs to someone else, or never existed: both look the same to the caller. */
export function ownedUpload(upload: Upload | null, actor: Actor): Upload | null {
  return upload && upload.owner === actorKey(actor) ? upload : null
}

/** The actor that owns an upload, for sealing it when no request of theirs is at hand (start-up, the expiry job). */
export function ownerActor(owner: string): Actor {
  if (owner.startsWith('user:')) return { kind: 'user', userId: owner.slice(5), roles: [], orgId: null, via: 'token', tokenId: null, sessionId: null, twoFactorPending: false }
  return { kind: 'system', name: owner.startsWith('system:') ? owner.slice(7) : owner }
}

/**
 * Seals a complete upload into the locker, or answers how it was sealed before. Refuses (and discards the
 * bytes, the row and the upload's data key) when they do not hash to the declared value.
 * `inTransaction` runs in the transaction of a new item (the HTTP audit record).
 */
export async function sealUpload(
  deps: UploadDeps,
  actor: Actor,
  upload: Upload,
  inTransaction?: (repos: Repositories, item: MediaItem) => Promise<void>,
): Promise<{ mediaSha256: string; created: boolean }> {
  if (upload.status === 'sealed' && upload.mediaSha256) return { mediaSha256: upload.mediaSha256, created: false }
  if (upload.offset !== upload.length) throw new RuleError('upload_incomplete', `The upload holds ${upload.offset} of ${upload.length} bytes.`)
  const now = deps.now ?? Date.now
  let result
  try {
    result = await ingestMedia(
      deps,
      actor,
      { body: deps.partials.read(upload), expectedSha256: upload.sha256, expectedByteLength: upload.length, incidentId: upload.incidentId },
      {
        now,
        inTransaction: async (repos, item) => {
          await repos.uploads.markSealed(upload.id, item.sha256, now(), now() + deps.limits.expireAfterMs)
          await inTransaction?.(repos, item)
        },
      },
    )
  } catch (err) {
    if (err instanceof MediaHashMismatchError) await discardUpload(deps, upload)
    throw err
  }
  // Already held (sent before, by anyone): this upload is done all the same.
  if (result.status === 'existing') await deps.store.repos.uploads.markSealed(upload.id, result.item.sha256, now(), now() + deps.limits.expireAfterMs)
  await deps.partials.remove(upload.id)
  await deps.destroyDataKey(upload.dataKeyId)
  return { mediaSha256: result.item.sha256, created: result.status === 'new' }
}

/** Termination, refusal and expiry: the bytes, then the row, then the key (a crash in between leaves only garbage the next expiry run removes). */
export async function discardUpload(deps: Pick<UploadDeps, 'store' | 'partials' | 'destroyDataKey'>, upload: Upload): Promise<void> {
  await deps.partials.remove(upload.id)
  await deps.store.repos.uploads.remove(upload.id)
  await deps.destroyDataKey(upload.dataKeyId)
}

/** Discards uploads that received nothing within the expiry window (and sealed ones kept for retries), a batch at a time. */
export async function expireUploads(deps: Pick<UploadDeps, 'store' | 'partials' | 'destroyDataKey' | 'now'>, batch = 500): Promise<number> {
  const now = (deps.now ?? Date.now)()
  let removed = 0
  for (;;) {
    const expired = await deps.store.repos.uploads.expiredBefore(now, batch)
    for (const upload of expired) await discardUpload(deps, upload)
    removed += expired.length
    if (expired.length < batch) return removed
  }
}

/** Seals uploads whose last byte arrived but whose seal did not happen (the server stopped in between). */
export async function sealAwaitingUploads(deps: UploadDeps, seal: (upload: Upload) => Promise<unknown> = (u) => sealUpload(deps, ownerActor(u.owner), u)): Promise<number> {
  let sealed = 0
  for (const upload of await deps.store.repos.uploads.awaitingSeal(1000)) {
    try {
      await seal(upload)
      sealed++
    } catch (err) {
      // A refused upload is discarded by sealUpload; anything else waits for the next try.
      if (!(err instanceof MediaHashMismatchError)) throw err
    }
  }
  return sealed
}
