import { createHash, randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { createDurableFile, type DirectIo } from './durable-file-writer.ts'
import { BlobExistsError, BlobHashMismatchError, BlobNotFoundError, type BlobStore, type ByteRange, type Sha256 } from '../core/ports/blob-store.ts'

const KEY = /^[0-9a-f]{64}$/

/**
 * Blobs as files under ROOT/ab/cd/<sha256>, and named blobs (`putNamed`) under ROOT/named/ab/cd/<name>, so
 * neither kind can pass for the other. A put streams to ROOT/tmp, fsyncs, checks the hash, renames
 * into place and fsyncs the directory, so a crash leaves either nothing or the whole blob, never a torn one.
 *
 * Opening sweeps temp files older than a day: left by a crash, incomplete by definition. Younger ones may
 * be another process's put in flight (a worker or `louder backup` beside a running server) and stay.
 * `sweepTemp: false` leaves ROOT/tmp alone altogether. `directIo: false` writes through the page cache only.
 */
export async function makeFsBlobStore(root: string, options: { sweepTemp?: boolean; staleTempMs?: number; directIo?: boolean } = {}): Promise<BlobStore> {
  const tmpDir = join(root, 'tmp')
  await mkdir(tmpDir, { recursive: true, mode: 0o700 })
  if (options.sweepTemp !== false) {
    const staleBefore = Date.now() - (options.staleTempMs ?? 24 * 3600_000)
    for (const leftover of await readdir(tmpDir)) {
      const path = join(tmpDir, leftover)
      const info = await stat(path).catch(() => null)
      if (info && info.mtimeMs < staleBefore) await rm(path, { force: true })
    }
  }

  const directIo: DirectIo = { usable: options.directIo === false ? false : null }
  const namedRoot = join(root, 'named')
  const dirOf = (key: Sha256, named: boolean) => {
    if (!KEY.test(key)) throw new TypeError(`not a SHA-256 key: ${key.slice(0, 80)}`)
    return join(named ? namedRoot : root, key.slice(0, 2), key.slice(2, 4))
  }
  const pathOf = (key: Sha256, named = false) => join(dirOf(key, named), key)
  /** Where a blob of either kind lies, or null. */
  const locate = async (key: Sha256) => {
    const content = pathOf(key)
    if (await exists(content)) return content
    const named = pathOf(key, true)
    return (await exists(named)) ? named : null
  }

  async function fsyncDir(dir: string) {
    const handle = await open(dir, 'r')
    try {
      await handle.sync()
    } finally {
      await handle.close()
    }
  }

  /**
   * Streams a body to a new temp file and fsyncs it; `check` runs after the sync, and on any failure the temp
   * file is gone. The file is written with direct I/O where the file system allows (durable-file-writer.ts), one
   * write in flight while the next piece is produced, so the disk and the code making the bytes (encryption,
   * hashing) overlap instead of taking turns.
   */
  async function writeTemp(name: string, body: AsyncIterable<Uint8Array>, onPiece: (piece: Uint8Array) => void, check?: () => void | Promise<void>): Promise<string> {
    const tmp = join(tmpDir, `${name}.${randomBytes(6).toString('hex')}`)
    const file = await createDurableFile(tmp, 0o600, directIo)
    try {
      for await (const piece of body) {
        onPiece(piece)
        await file.write(piece)
      }
      await file.finish()
      await check?.()
    } catch (err) {
      await file.abort()
      await rm(tmp, { force: true })
      throw err
    }
    return tmp
  }

  /** Renames a synced temp file into place and syncs the directory; a name already taken keeps its blob. */
  async function publish(tmp: string, key: Sha256, named = false): Promise<void> {
    const finalPath = pathOf(key, named)
    if (await exists(finalPath)) {
      await rm(tmp, { force: true })
      return
    }
    const dir = dirOf(key, named)
    await mkdir(dir, { recursive: true, mode: 0o700 })
    await rename(tmp, finalPath)
    await fsyncDir(dir)
  }

  return {
    caps: { signedUrls: false },

    async put(key, body) {
      if (await exists(pathOf(key))) {
        for await (const _ of body) void _ // drain: callers may stream from a request
        return
      }
      const hash = createHash('sha256')
      const tmp = await writeTemp(key, body, (piece) => hash.update(piece), () => {
        const actual = hash.digest('hex')
        if (actual !== key) throw new BlobHashMismatchError(key, actual)
      })
      await publish(tmp, key)
    },

    async putByContent(body, check) {
      // Named after the hash only once it is known: the temp name is random, the rest is `put`'s sequence.
      const hash = createHash('sha256')
      let size = 0
      const tmp = await writeTemp('content', body, (piece) => {
        hash.update(piece)
        size += piece.byteLength
      }, check)
      const key = hash.digest('hex')
      await publish(tmp, key)
      return { key, size }
    },

    async putNamed(name, body, check) {
      if (await locate(name)) throw new BlobExistsError(name)
      let size = 0
      const tmp = await writeTemp(name, body, (piece) => (size += piece.byteLength), check)
      // Write-once: a name is never reused, so finding it taken now means two writers raced for it.
      if (await locate(name)) {
        await rm(tmp, { force: true })
        throw new BlobExistsError(name)
      }
      await publish(tmp, name, true)
      return { size }
    },

    async removeNamed(name) {
      const path = pathOf(name, true)
      if (!(await exists(path))) return
      await rm(path, { force: true })
      await fsyncDir(dirOf(name, true))
    },

    async get(key, range?: ByteRange) {
      const path = await locate(key)
      if (!path) throw new BlobNotFoundError(key)
      return createReadStream(path, range ? { start: range.start, end: range.end } : {})
    },

    has: async (key) => (await locate(key)) !== null,

    async size(key) {
      // Outside the try: a key that is not a SHA-256 is refused, as by every other method, not reported missing.
      const path = await locate(key)
      if (!path) return null
      try {
        return (await stat(path)).size
      } catch {
        return null
      }
    },

    list: () => listUnder(root),
    listNamed: () => listUnder(namedRoot),

    async close() {},
  }
}

async function* listUnder(root: string): AsyncGenerator<Sha256> {
  for (const a of await readdirSafe(root)) {
    if (!/^[0-9a-f]{2}$/.test(a)) continue
    for (const b of await readdirSafe(join(root, a)))
      for (const name of await readdirSafe(join(root, a, b))) if (KEY.test(name)) yield name
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path)
    return true
  } catch {
    return false
  }
}

async function readdirSafe(dir: string): Promise<string[]> {
  try {
    return await readdir(dir)
  } catch {
    return []
  }
}
