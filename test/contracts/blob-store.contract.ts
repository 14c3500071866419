import { createHash, randomBytes } from 'node:crypto'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { BlobExistsError, BlobHashMismatchError, BlobNotFoundError, type BlobStore } from '../../src/core/ports/blob-store.ts'

/** What the contract needs from one adapter's test setup, beyond the store itself. */
export interface BlobStoreFixture {
  /** A new, empty store. */
  store: BlobStore
  /** Opens the same storage again, as a process restarting after a crash would. */
  reopen(): Promise<BlobStore>
  /** Leaves behind what a crash in the middle of putting `bytes` under `key` would (a temp file, an unfinished upload). */
  leaveCrashDebris(key: string, bytes: Uint8Array): Promise<void>
  /** Everything the storage holds, temp files included (paths or object names), to prove nothing was left behind. */
  residue(): Promise<string[]>
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')

/** Yields `bytes` in pieces of uneven sizes, as a network upload would arrive. */
async function* pieces(bytes: Uint8Array, size = 7_919): AsyncGenerator<Uint8Array> {
  for (let i = 0, n = 0; i < bytes.length; i += size + (n++ % 3) * 1_000) yield bytes.subarray(i, i + size + (n % 3) * 1_000)
}

async function readAll(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const part of body) parts.push(Buffer.from(part))
  return Buffer.concat(parts)
}

async function keysOf(store: BlobStore): Promise<string[]> {
  const keys: string[] = []
  for await (const key of store.list()) keys.push(key)
  return keys.sort()
}

/** Keys that are not a SHA-256 in lower-case hex, several of them attempts to escape the store's root. */
export const HOSTILE_KEYS = [
  '../../etc/passwd',
  '/etc/passwd',
  `../${'a'.repeat(61)}`,
  `${'a'.repeat(62)}/..`,
  `ab/../../${'c'.repeat(55)}`,
  'A'.repeat(64),
  'a'.repeat(63),
  'a'.repeat(65),
  `${'a'.repeat(63)}\u0000`,
  `${'g'.repeat(64)}`,
  '',
]

/** The contract every BlobStore adapter must meet: the same suite for the filesystem, S3, and whatever comes next. */
export function blobStoreContract(name: string, make: () => Promise<BlobStoreFixture>): void {
  describe(`BlobStore contract: ${name}`, () => {
    let fixture: BlobStoreFixture
    let store: BlobStore
    const opened: BlobStore[] = []

    beforeEach(async () => {
      fixture = await make()
      store = fixture.store
      opened.push(store)
    })
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((s) => s.close()))
    })

    it.each([0, 1, 65_536 + 3, 1_048_576 + 17])('returns exactly what was put (%i bytes)', async (length) => {
      const bytes = randomBytes(length)
      const key = sha256(bytes)
      await store.put(key, pieces(bytes))
      expect(await store.has(key)).toBe(true)
      expect(await store.size(key)).toBe(length)
      expect((await readAll(await store.get(key))).equals(bytes)).toBe(true)
    })

    it('reads byte ranges, end inclusive', async () => {
      const bytes = randomBytes(200_000)
      const key = sha256(bytes)
      await store.put(key, pieces(bytes))
      for (const [start, end] of [[0, 0], [10, 99], [65_530, 65_540], [199_999, 199_999], [0, 199_999]] as const)
        expect((await readAll(await store.get(key, { start, end }))).equals(bytes.subarray(start, end + 1))).toBe(true)
    })

    it('knows nothing of a key never put', async () => {
      const key = sha256(randomBytes(8))
      expect(await store.has(key)).toBe(false)
      expect(await store.size(key)).toBeNull()
      await expect(store.get(key)).rejects.toBeInstanceOf(BlobNotFoundError)
    })

    it('treats a put of a key it holds as a no-op, still reading the body to its end', async () => {
      const bytes = randomBytes(10_000)
      const key = sha256(bytes)
      await store.put(key, pieces(bytes))
      let drained = false
      async function* again() {
        yield* pieces(bytes)
        drained = true
      }
      await store.put(key, again())
      expect(drained).toBe(true)
      expect((await readAll(await store.get(key))).equals(bytes)).toBe(true)
      expect(await keysOf(store)).toEqual([key])
    })

    it('takes concurrent puts of the same blob', async () => {
      const bytes = randomBytes(300_000)
      const key = sha256(bytes)
      await Promise.all([store.put(key, pieces(bytes)), store.put(key, pieces(bytes)), store.put(key, pieces(bytes))])
      expect((await readAll(await store.get(key))).equals(bytes)).toBe(true)
      expect(await keysOf(store)).toEqual([key])
    })

    it('refuses a body whose hash is not its key, and keeps nothing of it', async () => {
      const bytes = randomBytes(100_000)
      const key = sha256(randomBytes(16))
      await expect(store.put(key, pieces(bytes))).rejects.toBeInstanceOf(BlobHashMismatchError)
      expect(await store.has(key)).toBe(false)
      expect(await store.has(sha256(bytes))).toBe(false)
      expect(await keysOf(store)).toEqual([])
      expect(await fixture.residue()).toEqual([])
    })

    it('keeps nothing of a body that fails half-way', async () => {
      const bytes = randomBytes(100_000)
      const key = sha256(bytes)
      const failure = new Error('connection reset')
      async function* broken() {
        yield bytes.subarray(0, 50_000)
        throw failure
      }
      await expect(store.put(key, broken())).rejects.toBe(failure)
      expect(await store.has(key)).toBe(false)
      expect(await fixture.residue()).toEqual([])
    })

    it('never shows what a crash left half-written, and clears it when opened again', async () => {
      const bytes = randomBytes(70_000)
      const key = sha256(bytes)
      await fixture.leaveCrashDebris(key, bytes.subarray(0, 30_000))
      expect(await store.has(key)).toBe(false)
      expect(await keysOf(store)).toEqual([])

      const reopened = await fixture.reopen()
      opened.push(reopened)
      expect(await fixture.residue()).toEqual([])
      expect(await reopened.has(key)).toBe(false)
      expect(await keysOf(reopened)).toEqual([])
      await reopened.put(key, pieces(bytes))
      expect((await readAll(await reopened.get(key))).equals(bytes)).toBe(true)
    })

    it('lists every key it holds', async () => {
      const keys: string[] = []
      for (let i = 0; i < 20; i++) {
        const bytes = randomBytes(100 + i)
        keys.push(sha256(bytes))
        await store.put(sha256(bytes), pieces(bytes))
      }
      expect(await keysOf(store)).toEqual(keys.sort())
    })

    it('refuses keys that are not SHA-256 lower-case hex, touching nothing', async () => {
      const bytes = Buffer.from('root:x:0:0:root:/root:/bin/bash\n')
      for (const key of HOSTILE_KEYS) {
        await expect(store.put(key, pieces(bytes)), key).rejects.toThrow()
        await expect(store.get(key), key).rejects.toThrow()
        await expect(store.has(key), key).rejects.toThrow()
        await expect(store.size(key), key).rejects.toThrow()
      }
      expect(await fixture.residue()).toEqual([])
    })

    it('stores a body of unknown hash under the hash it has, once', async () => {
      const bytes = randomBytes(300_001)
      const first = await store.putByContent(pieces(bytes))
      expect(first).toEqual({ key: sha256(bytes), size: bytes.length })
      expect((await readAll(await store.get(first.key))).equals(bytes)).toBe(true)
      expect(await store.putByContent(pieces(bytes))).toEqual(first)
      expect(await keysOf(store)).toEqual([first.key])
      expect((await fixture.residue()).filter((p) => !p.includes(first.key))).toEqual([])
    })

    it('discards a body of unknown hash that its check refuses, leaving nothing', async () => {
      const refused = new Error('declared hash does not match')
      await expect(store.putByContent(pieces(randomBytes(100_000)), () => Promise.reject(refused))).rejects.toBe(refused)
      expect(await keysOf(store)).toEqual([])
      expect(await fixture.residue()).toEqual([])
    })

    it('stores a named blob once, reads it by name, and lists it apart from the content-named ones', async () => {
      const bytes = randomBytes(200_003)
      const name = sha256(Buffer.from('a data key id'))
      expect(await store.putNamed(name, pieces(bytes))).toEqual({ size: bytes.length })
      expect((await readAll(await store.get(name))).equals(bytes)).toBe(true)
      expect((await readAll(await store.get(name, { start: 10, end: 19 }))).equals(bytes.subarray(10, 20))).toBe(true)
      expect(await store.has(name)).toBe(true)
      expect(await store.size(name)).toBe(bytes.length)
      // Write-once: the same name again is refused and the first blob is untouched.
      await expect(store.putNamed(name, pieces(randomBytes(10)))).rejects.toBeInstanceOf(BlobExistsError)
      expect((await readAll(await store.get(name))).equals(bytes)).toBe(true)
      // A named blob never passes for content: `put` of its hash is a different blob, and the listings keep them apart.
      const content = randomBytes(1_000)
      await store.put(sha256(content), pieces(content))
      expect(await keysOf(store)).toEqual([sha256(content)])
      const named: string[] = []
      for await (const key of store.listNamed()) named.push(key)
      expect(named).toEqual([name])
    })

    it('keeps nothing of a named blob whose check refuses it or whose body fails', async () => {
      const name = sha256(Buffer.from('another data key id'))
      const refused = new Error('declared hash does not match')
      await expect(store.putNamed(name, pieces(randomBytes(100_000)), () => Promise.reject(refused))).rejects.toBe(refused)
      async function* failing(): AsyncGenerator<Uint8Array> {
        yield randomBytes(50_000)
        throw new Error('connection reset')
      }
      await expect(store.putNamed(name, failing())).rejects.toThrow('connection reset')
      expect(await store.has(name)).toBe(false)
      expect(await fixture.residue()).toEqual([])
      for (const key of HOSTILE_KEYS) await expect(store.putNamed(key, pieces(Buffer.from('x'))), key).rejects.toThrow()
      expect(await fixture.residue()).toEqual([])
    })

    it('removes a named blob, and only a named one: a blob named by its hash stays, a name not stored is no error', async () => {
      const name = sha256(Buffer.from('a copy that lost a race'))
      await store.putNamed(name, pieces(randomBytes(70_000)))
      const content = randomBytes(3_000)
      await store.put(sha256(content), pieces(content))
      await store.removeNamed(name)
      expect(await store.has(name)).toBe(false)
      const named: string[] = []
      for await (const key of store.listNamed()) named.push(key)
      expect(named).not.toContain(name)
      await store.removeNamed(name)
      await store.removeNamed(sha256(content))
      expect((await readAll(await store.get(sha256(content)))).equals(content)).toBe(true)
      for (const key of HOSTILE_KEYS) await expect(store.removeNamed(key), key).rejects.toThrow()
      expect(await fixture.residue()).toEqual([])
    })
  })
}
