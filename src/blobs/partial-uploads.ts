/**
 * The bytes of unfinished uploads, encrypted as they arrive: never in clear under the data directory.
 *
 * Each upload has a data key of its own and one file, DATA/uploads/<id>, holding AES-256-CTR ciphertext at
 * the plaintext's own offsets: byte n is encrypted with keystream block n / 16 (counter = that block number,
 * big-endian), so a PATCH that resumes at any offset, aligned or not, continues the keystream where the last
 * one stopped and nothing before it is rewritten. CTR has no integrity of its own; it needs none here: the
 * bytes are checked against the declared SHA-256 when they are sealed, and sealed with AES-GCM (STREAM).
 *
 * Durability: bytes are fsynced before the offset that counts them is recorded (`onDurable`), so an offset
 * the server reported is always backed by the file, also after a cut connection or a kill -9.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdir, open, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { isUuid } from '../core/ids.ts'
import type { PartialUploads, Upload } from '../core/sync/uploads.ts'

const BLOCK = 16
/** How many bytes a long PATCH receives between fsync + offset records: a kill -9 loses at most this much. */
export const SYNC_EVERY_BYTES = 1024 * 1024
/**
 * …and at least this often while bytes trickle in over a slow link, so the recorded offset (what HEAD /media
 * reports) keeps moving: a client whose whole body is in its socket buffers watches it to tell a slow link from
 * a dead one (src/sync/http-transport.ts).
 */
export const SYNC_EVERY_MS = 5_000

/** The AES-256-CTR cipher (or decipher: CTR is symmetric) whose keystream starts at plaintext byte `offset`. */
export function ctrAt(key: Buffer, offset: number, decipher = false) {
  const iv = Buffer.alloc(BLOCK)
  iv.writeBigUInt64BE(BigInt(Math.floor(offset / BLOCK)), 8)
  const cipher = decipher ? createDecipheriv('aes-256-ctr', key, iv) : createCipheriv('aes-256-ctr', key, iv)
  // An unaligned offset starts inside a block: spend the keystream bytes before it.
  const skip = offset % BLOCK
  if (skip) cipher.update(Buffer.alloc(skip))
  return cipher
}

export class PartialUploadFiles implements PartialUploads {
  readonly dir: string
  readonly #keyFor: (dataKeyId: string) => Promise<Buffer>

  private constructor(dir: string, keyFor: (dataKeyId: string) => Promise<Buffer>) {
    this.dir = dir
    this.#keyFor = keyFor
  }

  static async open(dir: string, keyFor: (dataKeyId: string) => Promise<Buffer>): Promise<PartialUploadFiles> {
    await mkdir(dir, { recursive: true, mode: 0o700 })
    return new PartialUploadFiles(dir, keyFor)
  }

  /** Ids are UUIDs, checked again here: an id never becomes a path that leaves the directory. */
  path(id: string): string {
    if (!isUuid(id)) throw new TypeError(`not an upload id: ${JSON.stringify(id).slice(0, 80)}`)
    return join(this.dir, id)
  }

  /** An empty file for a new upload, durable (file and directory entry) before the upload is recorded. */
  async create(id: string): Promise<void> {
    const file = await open(this.path(id), 'wx', 0o600)
    try {
      await file.sync()
    } finally {
      await file.close()
    }
    await syncDir(this.dir)
  }

  /**
   * Encrypts `source` into the upload's file from `offset` on. `onDurable(offset)` is called after each fsync,
   * every SYNC_EVERY_BYTES (or SYNC_EVERY_MS) and at the end, also when the source fails (a cut connection): what arrived before
   * the cut is kept and counted. Returns the offset after the last byte written; rethrows the source's error.
   */
  async write(upload: Pick<Upload, 'id' | 'dataKeyId'>, offset: number, source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, onDurable: (offset: number) => Promise<void>): Promise<number> {
    const cipher = ctrAt(await this.#keyFor(upload.dataKeyId), offset)
    const file = await open(this.path(upload.id), 'r+')
    let position = offset
    let durable = offset
    let syncedAt = Date.now()
    let failure: unknown = null
    const sync = async () => {
      syncedAt = Date.now()
      await file.sync()
      if (position > durable) {
        durable = position
        await onDurable(position)
      }
    }
    try {
      for await (const piece of source) {
        const sealed = cipher.update(piece)
        await file.write(sealed, 0, sealed.length, position)
        position += sealed.length
        if (position - durable >= SYNC_EVERY_BYTES || Date.now() - syncedAt >= SYNC_EVERY_MS) await sync()
      }
    } catch (err) {
      failure = err
    }
    try {
      await sync()
    } finally {
      await file.close()
    }
    if (failure) throw failure
    return position
  }

  async *read(upload: Upload): AsyncGenerator<Uint8Array> {
    const decipher = ctrAt(await this.#keyFor(upload.dataKeyId), 0, true)
    if (upload.length === 0) return
    for await (const piece of createReadStream(this.path(upload.id), { start: 0, end: upload.length - 1 })) yield decipher.update(piece as Buffer)
  }

  async remove(id: string): Promise<void> {
    await rm(this.path(id), { force: true })
  }
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}
