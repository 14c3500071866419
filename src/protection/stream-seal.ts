/**
 * The sealed-stream format (one data key per stream): `LSB1`, a 7-byte random prefix, then the plaintext in
 * 64 KiB chunks, each AES-256-GCM with its 16-byte tag. The nonce is prefix ‖ chunk counter (32 bits) ‖ a
 * last-chunk flag (the STREAM construction), so a truncated, reordered or spliced stream fails to open.
 *
 * `StreamSealing` is the encrypting side as a push machine, shared by the in-process path (envelope.ts) and the
 * sealing threads (sealing-worker.ts): pieces of any size in, whole sealed chunks out, into a fresh buffer per
 * piece or a sink of the caller's (a thread's output ring), no copy of a chunk that a piece holds whole. It can hash the plaintext as it goes, so a caller reads
 * each byte once.
 */
import { createCipheriv, createHash, type Hash, randomBytes } from 'node:crypto'
import { copyBytes } from '../core/copy-bytes.ts'

export const STREAM_MAGIC = Buffer.from('LSB1')
export const STREAM_PREFIX_BYTES = 7
export const STREAM_CHUNK = 64 * 1024
export const STREAM_TAG = 16

export function chunkNonce(prefix: Buffer, counter: number, last: boolean): Buffer {
  const nonce = Buffer.alloc(12)
  prefix.copy(nonce, 0)
  nonce.writeUInt32BE(counter, 7)
  nonce[11] = last ? 1 : 0
  return nonce
}

export class StreamSealing {
  readonly #key: Buffer
  readonly #prefix: Buffer
  readonly #hash: Hash | null
  #counter = 0
  /** Plaintext not yet sealed: at most one chunk, and always kept back until more arrives or the end. */
  readonly #pending = Buffer.allocUnsafe(STREAM_CHUNK)
  #fill = 0
  #finished = false
  #digest: string | null = null

  constructor(key: Buffer, options: { prefix?: Buffer; hashPlaintext?: boolean } = {}) {
    this.#key = key
    this.#prefix = options.prefix ?? randomBytes(STREAM_PREFIX_BYTES)
    this.#hash = options.hashPlaintext ? createHash('sha256') : null
  }

  header(): Buffer {
    return Buffer.concat([STREAM_MAGIC, this.#prefix])
  }

  /** Seals what `piece` completes; the last chunk is held back until `finish`, so it is the one flagged last. */
  push(piece: Uint8Array): Buffer {
    const out = Buffer.allocUnsafeSlow(this.sealedBytes(piece.byteLength))
    this.pushTo(piece, new LinearSink(out))
    return out
  }

  /** Bytes that `push` of a piece of `length` bytes gives now. */
  sealedBytes(length: number): number {
    const total = this.#fill + length
    return (total === 0 ? 0 : Math.floor((total - 1) / STREAM_CHUNK)) * (STREAM_CHUNK + STREAM_TAG)
  }

  /** `push` into a sink of the caller's (a sealing thread's output ring). */
  pushTo(piece: Uint8Array, sink: SealedSink): void {
    this.#hash?.update(piece)
    // Chunks sealed now: every full chunk that has at least one more byte after it.
    const sealing = this.sealedBytes(piece.byteLength) / (STREAM_CHUNK + STREAM_TAG)
    let offset = 0
    for (let n = 0; n < sealing; n++) {
      let plain: Uint8Array
      if (this.#fill === 0) {
        plain = piece.subarray(offset, offset + STREAM_CHUNK)
        offset += STREAM_CHUNK
      } else {
        const take = STREAM_CHUNK - this.#fill
        copyBytes(piece.subarray(offset, offset + take), this.#pending, this.#fill)
        offset += take
        plain = this.#pending
        this.#fill = 0
      }
      this.#seal(plain, false, sink)
    }
    const rest = piece.subarray(offset)
    copyBytes(rest, this.#pending, this.#fill)
    this.#fill += rest.byteLength
  }

  /** The final chunk (possibly empty), flagged as last. */
  finish(): Buffer {
    const out = Buffer.allocUnsafeSlow(this.#fill + STREAM_TAG)
    this.finishTo(new LinearSink(out))
    return out
  }

  /** `finish` into a sink of the caller's. */
  finishTo(sink: SealedSink): void {
    if (this.#finished) throw new Error('sealed stream already finished')
    this.#finished = true
    this.#seal(this.#pending.subarray(0, this.#fill), true, sink)
    this.#digest = this.#hash?.digest('hex') ?? null
  }

  /** SHA-256 of the plaintext (with `hashPlaintext`), once finished. */
  sha256(): string {
    if (this.#digest === null) throw new Error('the plaintext hash is known only after finish(), with hashPlaintext')
    return this.#digest
  }

  #seal(plain: Uint8Array, last: boolean, sink: SealedSink): void {
    const cipher = createCipheriv('aes-256-gcm', this.#key, chunkNonce(this.#prefix, this.#counter++, last))
    sink.put(cipher.update(plain))
    sink.put(cipher.final())
    sink.put(cipher.getAuthTag())
  }
}

/** Where sealed bytes go, in order. */
export interface SealedSink {
  put(bytes: Uint8Array): void
}

/** A sink over one buffer, filled from its start. */
class LinearSink implements SealedSink {
  readonly #out: Uint8Array
  #at = 0

  constructor(out: Uint8Array) {
    this.#out = out
  }

  put(bytes: Uint8Array): void {
    this.#at = copyBytes(bytes, this.#out, this.#at)
  }
}
