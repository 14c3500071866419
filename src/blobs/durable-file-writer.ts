/**
 * Writes a new file once, front to back, and makes it durable: the blob store's temp files (fs-blob-store.ts).
 *
 * Where the file system allows it the bytes go to the disk with direct I/O (O_DIRECT), not through the page
 * cache. On the virtual machines Louder runs on, copying into the cache and writing it back costs as much CPU as
 * encrypting the bytes (1 GiB with `dd … conv=fsync`: 1.25 s of system time through the cache, 0.35 s direct),
 * and sealing a large original is CPU-bound. Direct I/O wants block-aligned memory, offsets and lengths, so
 * pieces are gathered into aligned staging buffers and written a whole buffer at a time (a piece that is itself a
 * whole block of aligned memory, as the sealing threads produce, is written from where it lies); the last block is
 * written padded and the file truncated to its length before the fsync. Where direct I/O is refused (tmpfs,
 * some network file systems) the same calls write through the page cache, and the store remembers not to try
 * again.
 */
import { constants } from 'node:fs'
import { type FileHandle, open, rm } from 'node:fs/promises'
import { copyBytes } from '../core/copy-bytes.ts'
import { isPageAligned, PAGE_BYTES, pageAlignedMemory, WRITE_BLOCK_BYTES } from './aligned-memory.ts'

/** Bytes per write: large enough that a write's fixed cost vanishes, small enough to stage cheaply. */
export const STAGING_BYTES = WRITE_BLOCK_BYTES
/** Staging buffers per slab of aligned memory. */
const SLAB_BUFFERS = 8

/** Page-aligned staging buffers (aligned-memory.ts), in slabs: as many as writes ever ran at once, two each. */
class AlignedBuffers {
  readonly #free: Buffer[] = []

  /** A page-aligned buffer, or null where the process may not map aligned memory. */
  take(): Buffer | null {
    if (this.#free.length === 0) {
      const slab = pageAlignedMemory(STAGING_BYTES * SLAB_BUFFERS)
      if (!slab) return null
      for (let i = 0; i < SLAB_BUFFERS; i++) this.#free.push(Buffer.from(slab, i * STAGING_BYTES, STAGING_BYTES))
    }
    return this.#free.pop()!
  }

  giveBack(buffer: Buffer): void {
    this.#free.push(buffer)
  }
}

const aligned = new AlignedBuffers()

/** Whether direct I/O works under one directory: unknown until tried, then remembered (one per blob store). */
export interface DirectIo {
  usable: boolean | null
}

export interface DurableFileWriter {
  /**
   * Takes a piece; resolves once it is staged and at most one write is still running. The piece may be reused
   * afterwards, except a whole block of page-aligned memory (aligned-memory.ts) at a block boundary: that is
   * written from where it lies and may still be being written when this resolves, so its memory must stay as it
   * is until the next `write`, `finish` or `abort` resolves (or, if that call rejects, until `abort` resolves). Only the sealing threads' output ring is handed
   * over that way, and it keeps to this (src/protection/sealing-pool.ts).
   */
  write(piece: Uint8Array): Promise<void>
  /** Writes what is staged, sets the file's exact length and fsyncs it; then closes it. */
  finish(): Promise<number>
  /** Closes the file after a failure (the caller removes it). */
  abort(): Promise<void>
}

/** Creates `path` (which must not exist) for writing with `mode`. */
export async function createDurableFile(path: string, mode: number, direct: DirectIo): Promise<DurableFileWriter> {
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL
  // Staging first: without aligned memory there is no direct I/O, and nothing is opened yet to clean up.
  let staging = aligned.take()
  let spare = staging ? aligned.take() : null
  const pooled = staging !== null && spare !== null
  if (!staging || !spare) {
    if (staging) aligned.giveBack(staging)
    staging = Buffer.allocUnsafeSlow(STAGING_BYTES)
    spare = Buffer.allocUnsafeSlow(STAGING_BYTES)
    direct.usable = false
  } else if (direct.usable !== false && constants.O_DIRECT !== undefined) {
    try {
      return new Writer(path, await open(path, flags | constants.O_DIRECT, mode), true, direct, staging, spare, true)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EINVAL') {
        aligned.giveBack(staging)
        aligned.giveBack(spare)
        throw err
      }
      // Refused for O_DIRECT after the file was made (Linux creates it first): it is ours to remove.
      direct.usable = false
      await rm(path, { force: true })
    }
  }
  try {
    return new Writer(path, await open(path, flags, mode), false, direct, staging, spare, pooled)
  } catch (err) {
    if (pooled) {
      aligned.giveBack(staging)
      aligned.giveBack(spare)
    }
    throw err
  }
}

class Writer implements DurableFileWriter {
  readonly #path: string
  #handle: FileHandle
  #direct: boolean
  readonly #directIo: DirectIo
  #staging: Buffer | null
  #spare: Buffer | null
  readonly #pooled: boolean
  #fill = 0
  /** File offset of the staging buffer's first byte. */
  #offset = 0
  #writing: Promise<void> = Promise.resolve()
  /** Whether `#writing` writes from the caller's memory (a whole aligned block) rather than from staging. */
  #borrowed = false
  /** The O_DIRECT handle, until a write through it is refused and the file is reopened (`#reopening`). */
  #directHandle: FileHandle | null
  #reopening: Promise<void> | null = null

  constructor(path: string, handle: FileHandle, direct: boolean, directIo: DirectIo, staging: Buffer, spare: Buffer, pooled: boolean) {
    this.#path = path
    this.#handle = handle
    this.#direct = direct
    this.#directIo = directIo
    this.#staging = staging
    this.#spare = spare
    this.#pooled = pooled
    this.#directHandle = direct ? handle : null
  }

  async write(piece: Uint8Array): Promise<void> {
    if (this.#fill === 0 && piece.byteLength === STAGING_BYTES && isPageAligned(piece)) {
      // Written from where it lies, the write before it awaited: copying it into staging would cost the event loop
      // a memcpy of every byte written (bench/README.md, locker), and awaiting its own write would leave the disk
      // idle while the next block is sealed.
      this.#buffers()
      const before = this.#writing
      const mine = this.#writeAll(piece, STAGING_BYTES, this.#offset)
      // The next write, `finish` or `abort` awaits this block's write, and gets the failure of the one before it
      // too, as on the staging path: a file with a hole in it never finishes as if it had none.
      this.#writing = Promise.allSettled([before, mine]).then(([b, m]) => {
        if (b.status === 'rejected') throw b.reason
        if (m.status === 'rejected') throw m.reason
      })
      this.#writing.catch(() => {})
      this.#borrowed = true
      this.#offset += STAGING_BYTES
      await before
      return
    }
    // The caller's block written last may be reused once this resolves: it must be on disk by then.
    if (this.#borrowed) await this.#settleBorrowed()
    let at = 0
    while (at < piece.byteLength) {
      const take = Math.min(piece.byteLength - at, STAGING_BYTES - this.#fill)
      // Pieces are often views of shared memory (the sealing threads'), which `set` copies word by word.
      copyBytes(piece.subarray(at, at + take), this.#buffers()[0], this.#fill)
      this.#fill += take
      at += take
      if (this.#fill === STAGING_BYTES) await this.#flushFull()
    }
  }

  async finish(): Promise<number> {
    const [staging] = this.#buffers()
    await this.#writing
    const length = this.#offset + this.#fill
    if (this.#fill > 0) {
      // Direct I/O writes whole blocks: the last one goes out padded with zeros, and the length is set after.
      const padded = this.#direct ? Math.ceil(this.#fill / PAGE_BYTES) * PAGE_BYTES : this.#fill
      staging.fill(0, this.#fill, padded)
      await this.#writeAll(staging, padded, this.#offset)
      if (padded !== this.#fill) await this.#handle.truncate(length)
    }
    await this.#handle.sync()
    await this.#close()
    return length
  }

  async #settleBorrowed(): Promise<void> {
    await this.#writing
    this.#borrowed = false
  }

  async abort(): Promise<void> {
    await this.#writing.catch(() => {})
    await this.#close()
  }

  #buffers(): [Buffer, Buffer] {
    if (!this.#staging || !this.#spare) throw new Error('the file was already finished or aborted')
    return [this.#staging, this.#spare]
  }

  /** Starts writing the full staging buffer and fills the other meanwhile; the one before must be done first. */
  async #flushFull(): Promise<void> {
    await this.#writing
    const [full, next] = this.#buffers()
    this.#writing = this.#writeAll(full, STAGING_BYTES, this.#offset)
    // Marks a failure as seen; the next write, `finish` or `abort` awaits it again and gets the error.
    this.#writing.catch(() => {})
    this.#borrowed = false
    this.#offset += STAGING_BYTES
    this.#staging = next
    this.#spare = full
    this.#fill = 0
  }

  async #writeAll(buffer: Uint8Array, length: number, position: number): Promise<void> {
    let done = 0
    while (done < length) {
      let written: number
      const handle = this.#handle
      try {
        ;({ bytesWritten: written } = await handle.write(buffer, done, length - done, position + done))
      } catch (err) {
        // A file system that opens O_DIRECT files but refuses their writes: go on through the page cache. Two
        // writes may be refused at once (one from staging, one from the caller's block): the file is reopened once.
        if (handle !== this.#directHandle || (err as NodeJS.ErrnoException).code !== 'EINVAL') throw err
        this.#reopening ??= this.#reopenBuffered(handle)
        await this.#reopening
        continue
      }
      if (written === 0) throw new Error(`writing ${this.#path} made no progress at byte ${position + done}`)
      done += written
    }
  }

  async #reopenBuffered(old: FileHandle): Promise<void> {
    this.#directIo.usable = false
    this.#handle = await open(this.#path, constants.O_WRONLY)
    this.#direct = false
    // Node closes a handle once the operations still running on it are done.
    await old.close()
  }

  async #close(): Promise<void> {
    if (!this.#staging || !this.#spare) return // closed already (a failed finish, then abort)
    // Plain buffers (no aligned memory on this host) are left to the garbage collector.
    if (this.#pooled) {
      aligned.giveBack(this.#staging)
      aligned.giveBack(this.#spare)
    }
    this.#staging = this.#spare = null
    await this.#handle.close()
  }
}
