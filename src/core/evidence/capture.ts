/**
 * A capture record as stored: the clear part the locker needs to accept media (the expected hash, type and
 * length) and to find the log entry, and the signed record itself sealed (it may hold a location, notes
 * and a collector's pseudonym, which are restricted).
 */
export interface StoredCapture {
  /** SHA-256 hex of the original media bytes (the key). */
  sha256: string
  /** SHA-256 hex of the record's canonical JSON: what the custody event names. */
  recordSha256: string
  mediaType: string
  byteLength: number
  deviceKeyId: string
  /** The whole record's canonical JSON, sealed (context `captureRecordContext(sha256)`). */
  sealedRecord: string
  dataKeyId: string
  /** Base64 Ed25519 signature over the record's canonical JSON. */
  signature: string
  logIndex: number
  leafHash: string
  receivedAt: number
}

export interface CaptureRepository {
  get(sha256: string): Promise<StoredCapture | undefined>
  insert(capture: StoredCapture): Promise<void>
}

/** The context a record is sealed under: it opens only as this media item's record. */
export const captureRecordContext = (sha256: string) => `captures.record:${sha256}`
