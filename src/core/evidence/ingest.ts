/**
 * Sealing an item into the locker: the one use case the CLI, the HTTP route and (later) field sync call.
 *
 * The bytes stream once: hashed (SHA-256 of the original), sniffed, encrypted with a data key of the item's
 * own (STREAM construction) and written to the blob store (temp → fsync → rename → fsync dir) under a name
 * derived from that data key, before the database hears of them, so nothing acknowledged can name bytes that
 * are not durable. Then one transaction inserts the item and appends its `media.received` custody event: both
 * or neither. The same bytes again give
 * the existing item and no second event, also when two ingests race (the loser hits the primary key).
 */
import { type Actor, actorKey } from '../access/actor.ts'
import type { LogSigner } from '../custody/checkpoint.ts'
import { appendCustodyEvent } from '../custody/custody-log.ts'
import type { CustodyEvent } from '../custody/custody-event.ts'
import { LouderError, RuleError } from '../errors.ts'
import type { BlobStore } from '../ports/blob-store.ts'
import type { ByteSource } from '../ports/byte-source.ts'
import type { Repositories, Store } from '../ports/repositories.ts'
import { toRfc3339 } from '../time.ts'
import { captureFor, captureParentOf } from './capture.service.ts'
import { type DerivationRecord, signDerivation } from './derivation-record.ts'
import { type MediaItem, type MediaItemKind, type Sha256, sealedBlobName, type StreamSealer } from './media-item.ts'
import { SNIFF_BYTES, sniffMediaType } from './media-sniff.ts'

export interface IngestDeps {
  store: Store
  blobs: BlobStore
  sealer: StreamSealer
  isUniqueViolation(err: unknown): boolean
  /** The custody log's key, to sign the derivation record of a derivative a device declared (see below). */
  logSigner?: () => Promise<LogSigner>
}

export interface IngestInput {
  /**
   * The bytes. A source may reuse a piece's memory once the next piece is asked for: ingest never holds one. A
   * file (`fileSource`) can also be read straight into the sealer's memory (ByteSource).
   */
  body: ByteSource
  /** The hash the caller (or a registered capture record) says the bytes have: anything else is refused. */
  expectedSha256?: Sha256 | null
  /** The byte length a capture record declared, checked like the hash. */
  expectedByteLength?: number | null
  incidentId?: string | null
  /** Bytes beyond this are refused while they stream (small-file HTTP uploads). */
  maxBytes?: number
  /** Derivatives: the parent and the derivation record (logged as `derivative.created`). */
  derivative?: { parentSha256: Sha256; operations: string[]; record: string }
}

export interface IngestOptions {
  /** Runs inside the write transaction of a new item (the HTTP route's audit record). */
  inTransaction?: (repos: Repositories, item: MediaItem) => Promise<void>
  now?: () => number
}

export interface IngestResult {
  item: MediaItem
  /** `existing`: the locker already held these bytes; nothing was written or logged. */
  status: 'new' | 'existing'
}

/** The bytes do not hash to what the caller or a capture record declared. Nothing was kept. */
export class MediaHashMismatchError extends RuleError {
  constructor(expected: string, actual: string, what = 'SHA-256') {
    super('hash_mismatch', `The bytes received have ${what} ${actual}, not the declared ${expected}; they were not kept.`)
  }
}

export class MediaTooLargeError extends LouderError {
  constructor(limit: number) {
    super('body_too_large', `The media is larger than the ${limit} bytes this way of sending accepts.`)
  }
}

/** Thrown inside the blob store's check to discard a second copy of bytes the locker already holds. */
class AlreadyHeld extends Error {
  readonly item: MediaItem
  constructor(item: MediaItem) {
    super('already held')
    this.item = item
  }
}

export async function ingestMedia(deps: IngestDeps, actor: Actor, input: IngestInput, options: IngestOptions = {}): Promise<IngestResult> {
  const now = options.now ?? Date.now
  // Reserved outside the transaction: on SQLite the transaction holds the only connection.
  const dataKeyId = await deps.sealer.reserveDataKey()
  const tap = countingTap(input.body, input.maxBytes)
  // The sealer hashes the plaintext as it encrypts it (off the event loop where it can: src/protection/sealing-pool.ts).
  const sealed = deps.sealer.sealStream(dataKeyId, tap.body)
  const blobKey = sealedBlobName(dataKeyId)

  try {
    await deps.blobs.putNamed(blobKey, sealed.body, async () => {
      // The whole body has been read here: refuse a mismatch before the ciphertext is named, so it leaves no trace.
      const sha256 = sealed.sha256()
      if (input.expectedSha256 && input.expectedSha256 !== sha256) throw new MediaHashMismatchError(input.expectedSha256, sha256)
      if (input.expectedByteLength != null && input.expectedByteLength !== tap.byteLength()) throw new MediaHashMismatchError(String(input.expectedByteLength), String(tap.byteLength()), 'byte length')
      // Hash first: a capture logged earlier for these bytes fixes their length too.
      const capture = await captureFor(deps.store.repos, sha256)
      if (capture && capture.byteLength !== tap.byteLength()) throw new MediaHashMismatchError(String(capture.byteLength), String(tap.byteLength()), 'byte length')
      const held = await deps.store.repos.mediaItems.bySha256(sha256)
      if (held) throw new AlreadyHeld(held)
    })
  } catch (err) {
    // No item records the key reserved here, whatever failed (a refused hash, a cut body, the bytes already
    // held): it is destroyed, with anything it sealed that got as far as the disk.
    if (err instanceof AlreadyHeld) {
      await deps.sealer.destroyDataKey(dataKeyId)
      return { item: err.item, status: 'existing' }
    }
    await deps.sealer.destroyDataKey(dataKeyId).catch(() => {}) // the refusal is what the caller needs to hear
    throw err
  }

  const receivedAt = now()
  // A derivative made on the device (a thumbnail, a publication image) was logged as a capture naming its parent:
  // it is filed as that parent's derivative. Louder signs the derivation record, naming the device's capture
  // record, so it is logged and verified like the derivatives Louder makes (derivative.created, court bags).
  const derivative = input.derivative ?? (await deviceDerivation(deps, actor, sealed.sha256(), receivedAt))
  const parentSha256 = derivative?.parentSha256 ?? null
  const item: MediaItem = {
    sha256: sealed.sha256(),
    mediaType: sniffMediaType(tap.head()),
    byteLength: tap.byteLength(),
    blobKey,
    dataKeyId,
    kind: (parentSha256 ? 'derivative' : 'original') satisfies MediaItemKind,
    parentSha256,
    incidentId: input.incidentId ?? null,
    receivedAt,
    receivedBy: actorKey(actor),
    sealedMetadata: null,
    metadataStatus: 'pending',
    metadataError: null,
    pixelWidth: null,
    pixelHeight: null,
    durationMs: null,
    derivation: derivative?.record ?? null,
  }

  let result: IngestResult
  try {
    result = await deps.store.transaction(async (repos) => {
      // On SQLite the write lock is held already (BEGIN IMMEDIATE), so this read settles a race; on PostgreSQL
      // the loser of a race gets past it and meets the primary key below instead.
      const held = await repos.mediaItems.bySha256(item.sha256)
      if (held) return { item: held, status: 'existing' as const }
      await repos.mediaItems.insert(item)
      await logAbout(repos, item.sha256, receivedEvent(item), receivedAt)
      if (derivative?.record)
        await logAbout(repos, item.sha256, { v: 1, type: 'derivative.created', at: toRfc3339(receivedAt), actor: item.receivedBy, sha256: item.sha256, parentSha256: derivative.parentSha256, operations: derivative.operations }, receivedAt, derivative.parentSha256)
      await repos.mediaItems.queueProcessing(item.sha256, item.mediaType)
      await options.inTransaction?.(repos, item)
      return { item, status: 'new' as const }
    })
  } catch (err) {
    if (!deps.isUniqueViolation(err)) throw err
    // Another ingest of the same bytes committed first: theirs is the item, and the one event.
    const held = await deps.store.repos.mediaItems.bySha256(item.sha256)
    if (!held) throw err
    result = { item: held, status: 'existing' }
  }
  // Another item holds these bytes: this copy is recorded nowhere. (Never the copy an item names: that one is kept.)
  if (result.status === 'existing' && result.item.blobKey !== blobKey) await discardCopy(deps, blobKey, dataKeyId)
  return result
}

/**
 * Another ingest of the same bytes won the race after this one had sealed and named its copy: nothing records
 * that copy. Its key is destroyed first, so a copy that outlives a failed removal (or a backup taken meanwhile)
 * is unreadable, and then the blob goes. A crash between naming the copy and here leaves both behind, the copy
 * readable with its key: a sweep for named blobs that no item records would find them.
 */
async function discardCopy(deps: IngestDeps, blobKey: string, dataKeyId: string): Promise<void> {
  await deps.sealer.destroyDataKey(dataKeyId)
  await deps.blobs.removeNamed(blobKey)
}

/**
 * The derivation of bytes whose capture record names a parent, or undefined. Without the log's key (a caller
 * that seals no device material) the item is still filed under its parent, with no signed record.
 */
async function deviceDerivation(deps: IngestDeps, actor: Actor, sha256: Sha256, at: number): Promise<{ parentSha256: Sha256; operations: string[]; record: string | null } | undefined> {
  const declared = await captureParentOf(deps.store.repos, deps.sealer, sha256)
  if (!declared) return undefined
  const operations = [`made on device ${declared.deviceKeyId}`]
  if (!deps.logSigner) return { parentSha256: declared.parentSha256, operations, record: null }
  const record: DerivationRecord = {
    schema: 'louder.derivation',
    v: 1,
    parentSha256: declared.parentSha256,
    operations,
    operator: actorKey(actor),
    at: toRfc3339(at),
    capture: { recordSha256: declared.recordSha256, deviceKeyId: declared.deviceKeyId },
  }
  return { parentSha256: declared.parentSha256, operations, record: signDerivation(record, await deps.logSigner()) }
}

function receivedEvent(item: MediaItem): CustodyEvent {
  const at = toRfc3339(item.receivedAt)
  return { v: 1, type: 'media.received', at, actor: item.receivedBy, sha256: item.sha256, byteLength: item.byteLength, mediaType: item.mediaType, receivedAt: at }
}

/** Appends an event and links it to the items it concerns, in the caller's transaction. */
export async function logAbout(repos: Repositories, sha256: Sha256, event: CustodyEvent, now: number, also?: Sha256): Promise<{ index: number; leafHash: string }> {
  const entry = await appendCustodyEvent(repos, event, now)
  await repos.mediaItems.linkCustodyEvent(sha256, entry.index)
  if (also) await repos.mediaItems.linkCustodyEvent(also, entry.index)
  return entry
}

/**
 * Passes a body through while counting it, keeping its first bytes for sniffing and refusing it past
 * `maxBytes`, whichever way the sealer reads it. Nothing but the head is kept: a file of any size streams in
 * constant memory.
 */
function countingTap(source: ByteSource, maxBytes = Number.POSITIVE_INFINITY): { body: ByteSource; byteLength(): number; head(): Buffer } {
  let length = 0
  let head = Buffer.alloc(0)
  const count = (piece: Uint8Array) => {
    length += piece.byteLength
    if (length > maxBytes) throw new MediaTooLargeError(maxBytes)
    if (head.length < SNIFF_BYTES) head = Buffer.concat([head, Buffer.from(piece.subarray(0, SNIFF_BYTES - head.length))])
  }
  async function* pieces(): AsyncGenerator<Uint8Array> {
    for await (const piece of source) {
      count(piece)
      yield piece
    }
  }
  const readInto = source.readInto?.bind(source)
  const body: ByteSource = {
    [Symbol.asyncIterator]: () => pieces()[Symbol.asyncIterator](),
    ...(readInto && {
      async readInto(target: Uint8Array) {
        const got = await readInto(target)
        count(target.subarray(0, got))
        return got
      },
    }),
    ...(source.close && { close: source.close.bind(source) }),
  }
  return { body, byteLength: () => length, head: () => head }
}
