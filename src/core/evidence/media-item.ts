/**
 * The evidence locker's items and what the core needs to keep them. An item is named by the SHA-256 of its
 * original bytes (what a capture record, an observation and a court name); where its sealed bytes lie (a blob
 * named after its data key) and which data key opens them are the locker's business.
 */
import { createHash } from 'node:crypto'
import type { ByteSource } from '../ports/byte-source.ts'

/** Hex SHA-256. */
export type Sha256 = string

export type MediaItemKind = 'original' | 'derivative'

export type MetadataStatus = 'pending' | 'done' | 'failed'

export interface MediaItem {
  sha256: Sha256
  /** Sniffed from the bytes (media-sniff.ts), never taken from the client. */
  mediaType: string
  byteLength: number
  /** SHA-256 of the stored ciphertext: the blob store's key. */
  blobKey: Sha256
  dataKeyId: string
  kind: MediaItemKind
  parentSha256: Sha256 | null
  incidentId: string | null
  receivedAt: number
  /** Who handed it in, as the audit log names actors (`user:<id>`, `system:cli`). */
  receivedBy: string
  /** Sealed JSON (restricted); opened only through readMediaMetadata. */
  sealedMetadata: string | null
  metadataStatus: MetadataStatus
  metadataError: string | null
  pixelWidth: number | null
  pixelHeight: number | null
  durationMs: number | null
  /** Derivatives: the canonical JSON of their signed derivation record. */
  derivation: string | null
}

/** What the metadata job found: sealed metadata, or why there is none, and the sizes it could read. */
export interface MetadataResult {
  sealedMetadata: string | null
  status: Exclude<MetadataStatus, 'pending'>
  error: string | null
  pixelWidth: number | null
  pixelHeight: number | null
  durationMs: number | null
}

export interface MediaItemRepository {
  /** Inserts a new item; a second insert of the same sha256 fails with the database's unique violation. */
  insert(item: MediaItem): Promise<void>
  bySha256(sha256: Sha256): Promise<MediaItem | null>
  /** Queues the item's background processing (metadata, PDQ hashes) in the caller's transaction. */
  queueProcessing(sha256: Sha256, mediaType: string): Promise<void>
  /** Queues a working copy of the item for `requestedBy` (an Actor of kind user or system); returns the job id. */
  queueWorkingCopy(sha256: Sha256, requestedBy: { kind: 'user'; userId: string } | { kind: 'system'; name: string }): Promise<string>
  /** Records that custody event `index` concerns the item. */
  linkCustodyEvent(sha256: Sha256, index: number): Promise<void>
  /** Indexes of the custody events about the item, oldest first. */
  custodyEvents(sha256: Sha256): Promise<number[]>
  setMetadata(sha256: Sha256, result: MetadataResult): Promise<void>
  count(): Promise<number>
}

/**
 * Envelope encryption of streams and values (src/protection/envelope.ts implements it): each item has its own
 * data key, reserved before the write transaction (on SQLite the transaction holds the only connection).
 */
export interface StreamSealer {
  reserveDataKey(): Promise<string>
  /** Crypto-shreds a data key: what it sealed can never be opened again (a copy nothing records). */
  destroyDataKey(dataKeyId: string): Promise<void>
  encryptStream(dataKeyId: string, source: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array>
  /** Encrypts like `encryptStream` and hashes the plaintext on the way: one pass over the bytes, off the event loop where the adapter can. */
  sealStream(dataKeyId: string, source: ByteSource): SealedStream
  decryptStream(dataKeyId: string, source: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array>
  seal(plaintext: string | Buffer, context: string, options?: { dataKeyId?: string }): Promise<string>
  open(sealed: string, context: string): Promise<Buffer>
}

export interface SealedStream {
  body: AsyncIterable<Uint8Array>
  /** SHA-256 (hex) of the plaintext; valid once `body` has been read to its end. */
  sha256(): Sha256
}

/**
 * The blob holding an item's ciphertext is named after its data key, not after the ciphertext's hash: hashing
 * every byte a second time was a third of the cost of sealing (bench/README.md, `locker-ingest`). The name is
 * unique (one data key per item), says nothing about the content, and the STREAM construction authenticates
 * every chunk, so a damaged or swapped blob still fails to open. Backups record each blob's hash (docs/backup.md).
 */
export function sealedBlobName(dataKeyId: string): Sha256 {
  return createHash('sha256').update(`louder.sealed-blob.v1:${dataKeyId}`).digest('hex')
}

/** The seal context of an item's metadata: a ciphertext moved to another item does not open there. */
export const metadataContext = (sha256: Sha256) => `media_items.metadata:${sha256}`
