/** SHA-256 of a blob's bytes, lower-case hex. */
export type Sha256 = string

export interface ByteRange {
  start: number
  /** Inclusive end offset. */
  end: number
}

/**
 * Storage for sealed bytes. Keys are 64 hex digits, never file paths: the SHA-256 of the bytes stored
 * (`put`, `putByContent`), or a name the caller derives (`putNamed`). Blobs are write-once.
 */
export interface BlobStore {
  readonly caps: { signedUrls: boolean }
  /** Stores the body under its hash; durable before it resolves. Refuses a body whose hash is not `key`. */
  put(key: Sha256, body: AsyncIterable<Uint8Array>): Promise<void>
  /**
   * Stores a body whose hash is not known in advance (ciphertext with a random nonce) under the hash it turns
   * out to have, in one pass: durable before it resolves, like `put`. `check` runs once the body is written
   * and before it is named; if it throws, the body is discarded and the error passed on.
   */
  putByContent(body: AsyncIterable<Uint8Array>, check?: () => void | Promise<void>): Promise<{ key: Sha256; size: number }>
  /**
   * Stores a body under a name chosen by the caller that is not its hash (a sealed original, named after its
   * data key: `sealedBlobName`), durable before it resolves, with `check` as in `putByContent`. Write-once: a
   * name already taken is refused (BlobExistsError) and nothing is overwritten.
   */
  putNamed(name: Sha256, body: AsyncIterable<Uint8Array>, check?: () => void | Promise<void>): Promise<{ size: number }>
  /**
   * Removes a named blob, durably: a sealed copy that nothing records (the loser of two ingests of the same
   * bytes). Blobs named by their hash cannot be removed this way; a name not stored is no error.
   */
  removeNamed(name: Sha256): Promise<void>
  get(key: Sha256, range?: ByteRange): Promise<AsyncIterable<Uint8Array>>
  has(key: Sha256): Promise<boolean>
  size(key: Sha256): Promise<number | null>
  /** Every key of a blob named by its hash (`put`, `putByContent`), in no particular order (backups, garbage collection). */
  list(): AsyncIterable<Sha256>
  /** Every name of a blob stored with `putNamed`, in no particular order. */
  listNamed(): AsyncIterable<Sha256>
  close(): Promise<void>
}

export class BlobExistsError extends Error {
  readonly code = 'blob_exists'
  constructor(name: string) {
    super(`a blob named ${name} exists already; blobs are write-once`)
  }
}

export class BlobHashMismatchError extends Error {
  readonly code = 'blob_hash_mismatch'
  constructor(expected: string, actual: string) {
    super(`blob body hashes to ${actual}, not to its key ${expected}`)
  }
}

export class BlobNotFoundError extends Error {
  readonly code = 'blob_not_found'
  constructor(key: string) {
    super(`no blob ${key}`)
  }
}
