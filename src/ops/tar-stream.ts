import { Header, Pax } from 'tar'

/**
 * Just enough of POSIX tar (ustar, with a pax header for the rare field that does not fit) to stream a
 * backup in and out with bounded memory: regular files only, written and read one after another. The
 * archives are plain tar, so `tar x` unpacks them by hand. Headers are encoded and decoded by node-tar.
 */

const BLOCK = 512
const ZEROS = Buffer.alloc(BLOCK * 2)

/** A tar stream that is not one we can read: damaged, truncated, or holding entries a backup never has. */
export class TarFormatError extends Error {
  readonly code = 'tar_format'
}

/** Writes entries to `write` in order; each entry's size is declared before its bytes, so it must be known. */
export class TarWriter {
  readonly #write: (chunk: Uint8Array) => Promise<void>
  readonly #mtime: Date

  constructor(write: (chunk: Uint8Array) => Promise<void>, mtime: Date) {
    this.#write = write
    this.#mtime = mtime
  }

  /** Adds a regular file; throws if `body` does not hold exactly `size` bytes (the archive is then unusable). */
  async file(path: string, size: number, body: Uint8Array | AsyncIterable<Uint8Array>): Promise<void> {
    const header = new Header({ path, mode: 0o600, uid: 0, gid: 0, size, mtime: this.#mtime, type: 'File', uname: '', gname: '' })
    const block = Buffer.alloc(BLOCK)
    // A path over 100 bytes or a size over 8 GiB needs a pax record in front (POSIX.1-2001).
    if (header.encode(block)) await this.#write(new Pax({ path, size, mtime: this.#mtime }).encode())
    await this.#write(block)
    let written = 0
    for await (const piece of body instanceof Uint8Array ? [body] : body) {
      written += piece.length
      if (written > size) throw new Error(`tar entry ${path}: more than the ${size} bytes declared`)
      if (piece.length > 0) await this.#write(piece)
    }
    if (written !== size) throw new Error(`tar entry ${path}: ${written} bytes instead of the ${size} declared`)
    const pad = (BLOCK - (size % BLOCK)) % BLOCK
    if (pad) await this.#write(ZEROS.subarray(0, pad))
  }

  /** Writes the end-of-archive marker (two zero blocks). */
  async end(): Promise<void> {
    await this.#write(ZEROS)
  }
}

/** One file of an archive being read. `body` must be read to its end, or left, before asking for the next entry. */
export interface TarEntry {
  path: string
  size: number
  body: AsyncIterable<Buffer>
}

/**
 * Reads regular-file entries from a tar stream, pulling bytes only as the caller consumes them. After the
 * end marker the rest of the stream is read to its end (and must be zero padding), so whatever the source
 * checks at its end (an age file's last authenticated chunk) has been checked when this generator returns.
 */
export async function* readTar(source: AsyncIterable<Uint8Array>): AsyncGenerator<TarEntry> {
  const reader = new ByteReader(source)
  try {
    yield* entries(reader)
  } finally {
    // Stopped early (an error, or the caller gave up): let the source release what it holds (a file).
    await reader.close()
  }
}

async function* entries(reader: ByteReader): AsyncGenerator<TarEntry> {
  let pax: Record<string, unknown> | undefined
  for (;;) {
    const block = await reader.exactly(BLOCK, 'a tar header')
    if (block.every((b) => b === 0)) {
      await reader.exactly(BLOCK, 'the end-of-archive marker')
      if (!block.every((b) => b === 0)) throw new TarFormatError('tar end-of-archive marker is damaged')
      await reader.rest((piece) => {
        if (!piece.every((b) => b === 0)) throw new TarFormatError('data after the end of the tar archive')
      })
      return
    }
    const header = new Header(block, 0, pax as never)
    pax = undefined
    if (!header.cksumValid) throw new TarFormatError(`tar header at byte ${reader.position - BLOCK} is damaged (checksum mismatch)`)
    const size = header.size
    if (size === undefined || !Number.isSafeInteger(size) || size < 0) throw new TarFormatError(`tar entry ${header.path ?? '?'} has no valid size`)
    if (header.type === 'ExtendedHeader') {
      if (size > 1 << 20) throw new TarFormatError('tar pax header is implausibly large')
      pax = { ...Pax.parse((await reader.exactly(size, 'a pax header')).toString('utf8')) }
      await reader.skip(padding(size))
      continue
    }
    if (header.type !== 'File' && header.type !== 'OldFile') throw new TarFormatError(`tar entry ${header.path ?? '?'} is a ${header.type}, not a regular file`)
    let left = size
    const body = (async function* () {
      for await (const piece of reader.take(size)) {
        left -= piece.length
        yield piece
      }
    })()
    yield { path: header.path ?? '', size, body }
    // The caller may have stopped early: skip what it left.
    if (left > 0) await reader.skip(left)
    await reader.skip(padding(size))
  }
}

function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK
}

/** Pulls exact byte counts out of a stream of arbitrary chunks. */
class ByteReader {
  readonly #source: AsyncIterator<Uint8Array>
  #buffer: Buffer = Buffer.alloc(0)
  #ended = false
  /** Bytes handed out so far, for error messages. */
  position = 0

  constructor(source: AsyncIterable<Uint8Array>) {
    this.#source = source[Symbol.asyncIterator]()
  }

  async #fill(): Promise<boolean> {
    if (this.#ended) return false
    const { done, value } = await this.#source.next()
    if (done) {
      this.#ended = true
      return false
    }
    const piece = Buffer.from(value.buffer, value.byteOffset, value.byteLength)
    this.#buffer = this.#buffer.length === 0 ? piece : Buffer.concat([this.#buffer, piece])
    return true
  }

  async exactly(n: number, what: string): Promise<Buffer> {
    while (this.#buffer.length < n) {
      if (!(await this.#fill())) throw new TarFormatError(`tar archive ends in the middle of ${what} (byte ${this.position + this.#buffer.length})`)
    }
    const out = this.#buffer.subarray(0, n)
    this.#buffer = this.#buffer.subarray(n)
    this.position += n
    return out
  }

  async *take(n: number): AsyncGenerator<Buffer> {
    let left = n
    while (left > 0) {
      if (this.#buffer.length === 0 && !(await this.#fill()))
        throw new TarFormatError(`tar archive ends in the middle of an entry (byte ${this.position})`)
      const piece = this.#buffer.subarray(0, Math.min(left, this.#buffer.length))
      this.#buffer = this.#buffer.subarray(piece.length)
      this.position += piece.length
      left -= piece.length
      yield piece
    }
  }

  async skip(n: number): Promise<void> {
    for await (const _ of this.take(n)) void _
  }

  async close(): Promise<void> {
    if (!this.#ended) {
      this.#ended = true
      await this.#source.return?.()
    }
  }

  async rest(check: (piece: Buffer) => void): Promise<void> {
    do {
      check(this.#buffer)
      this.position += this.#buffer.length
      this.#buffer = Buffer.alloc(0)
    } while (await this.#fill())
  }
}
