import { createHash, randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { BlobHashMismatchError, BlobNotFoundError, type BlobStore, type ByteRange, type Sha256 } from '../core/ports/blob-store.ts'

const KEY = /^[0-9a-f]{64}$/

/**
 * Blobs as files under ROOT/ab/cd/<sha256>. A put streams to ROOT/tmp, fsyncs, checks the hash, renames
 * into place and fsyncs the directory, so a crash leaves either nothing or the whole blob, never a torn one.
 *
 * Opening sweeps temp files older than a day: left by a crash, incomplete by definition. Younger ones may
 * be another process's put in flight (a worker or `louder backup` beside a running server) and stay.
 * `sweepTemp: false` leaves ROOT/tmp alone altogether.
 */
export async function makeFsBlobStore(root: string, options: { sweepTemp?: boolean; staleTempMs?: number } = {}): Promise<BlobStore> {
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

  const pathOf = (key: Sha256) => {
    if (!KEY.test(key)) throw new TypeError(`not a SHA-256 key: ${key.slice(0, 80)}`)
    return join(root, key.slice(0, 2), key.slice(2, 4), key)
  }

  async function fsyncDir(dir: string) {
    const handle = await open(dir, 'r')
    try {
      await handle.sync()
    } finally {
      await handle.close()
    }
  }

  return {
    caps: { signedUrls: false },

    async put(key, body) {
      const finalPath = pathOf(key)
      if (await exists(finalPath)) {
        for await (const _ of body) void _ // drain: callers may stream from a request
        return
      }
      const tmp = join(tmpDir, `${key}.${randomBytes(6).toString('hex')}`)
      const handle = await open(tmp, 'wx', 0o600)
      const hash = createHash('sha256')
      try {
        for await (const piece of body) {
          hash.update(piece)
          await handle.write(piece)
        }
        await handle.sync()
      } catch (err) {
        await handle.close()
        await rm(tmp, { force: true })
        throw err
      }
      await handle.close()
      const actual = hash.digest('hex')
      if (actual !== key) {
        await rm(tmp, { force: true })
        throw new BlobHashMismatchError(key, actual)
      }
      const dir = join(root, key.slice(0, 2), key.slice(2, 4))
      await mkdir(dir, { recursive: true, mode: 0o700 })
      await rename(tmp, finalPath)
      await fsyncDir(dir)
    },

    async putByContent(body, check) {
      // Named after the hash only once it is known: the temp name is random, the rest is `put`'s sequence.
      const tmp = join(tmpDir, `content.${randomBytes(8).toString('hex')}`)
      const handle = await open(tmp, 'wx', 0o600)
      const hash = createHash('sha256')
      let size = 0
      try {
        for await (const piece of body) {
          hash.update(piece)
          size += piece.byteLength
          await handle.write(piece)
        }
        await handle.sync()
        await check?.()
      } catch (err) {
        await handle.close()
        await rm(tmp, { force: true })
        throw err
      }
      await handle.close()
      const key = hash.digest('hex')
      const finalPath = pathOf(key)
      if (await exists(finalPath)) {
        await rm(tmp, { force: true })
        return { key, size }
      }
      const dir = join(root, key.slice(0, 2), key.slice(2, 4))
      await mkdir(dir, { recursive: true, mode: 0o700 })
      await rename(tmp, finalPath)
      await fsyncDir(dir)
      return { key, size }
    },

    async get(key, range?: ByteRange) {
      const path = pathOf(key)
      if (!(await exists(path))) throw new BlobNotFoundError(key)
      return createReadStream(path, range ? { start: range.start, end: range.end } : {})
    },

    has: async (key) => exists(pathOf(key)),

    async size(key) {
      // Outside the try: a key that is not a SHA-256 is refused, as by every other method, not reported missing.
      const path = pathOf(key)
      try {
        return (await stat(path)).size
      } catch {
        return null
      }
    },

    async *list() {
      for (const a of await readdirSafe(root)) {
        if (!/^[0-9a-f]{2}$/.test(a)) continue
        for (const b of await readdirSafe(join(root, a)))
          for (const name of await readdirSafe(join(root, a, b))) if (KEY.test(name)) yield name
      }
    },

    async close() {},
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
