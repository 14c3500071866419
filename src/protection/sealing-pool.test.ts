import { spawnSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { collect, pieces } from '../../test/support/byte-streams.ts'
import { tmpDir } from '../../test/support/tmp.ts'
import { openDatabase } from '../db/database.ts'
import type { DialectAdapter } from '../db/dialect/dialect-adapter.ts'
import { Envelope } from './envelope.ts'
import { Keyring } from './keyring.ts'
import { isPageAligned } from '../blobs/aligned-memory.ts'
import { createDurableFile } from '../blobs/durable-file-writer.ts'
import { fileSource } from '../blobs/file-pieces.ts'
import type { ByteSource } from '../core/ports/byte-source.ts'
import { SealingPool } from './sealing-pool.ts'
import { newSlots, RING_BLOCK_BYTES, RingWriter, ring, sealedBound, SLOT_INPUT_BYTES } from './sealing-slots.ts'
import { StreamSealing } from './stream-seal.ts'

const CHUNK = 64 * 1024

let db: DialectAdapter
let pool: SealingPool
let pooled: Envelope
let inProcess: Envelope
let dataKeyId: string
let keyring: Keyring

beforeAll(async () => {
  db = await openDatabase({ dataDir: tmpDir('louder-sealing-'), databaseUrl: null })
  keyring = Keyring.open(join(tmpDir('louder-keys-'), 'master.key'), { create: true })
  pool = new SealingPool(2)
  pooled = new Envelope(db.kysely, keyring, { pool })
  inProcess = new Envelope(db.kysely, keyring)
  dataKeyId = (await pooled.newDataKey()).id
})
afterAll(async () => {
  await pool?.close()
  await db?.close()
})


const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')

describe('sealStream on a pool of threads', () => {
  it('keeps a process alive while a stream it seals waits on a thread, and lets it exit when idle', () => {
    // A source with no I/O of its own: while the last piece is sealed, only the thread has anything pending.
    const pool = new URL('./sealing-pool.ts', import.meta.url).href
    const script = `
      import { SealingPool } from ${JSON.stringify(pool)}
      const sealing = new SealingPool(1)
      async function* pieces() { for (let i = 0; i < 8; i++) yield new Uint8Array(1 << 20).fill(i) }
      const sealed = sealing.seal(async () => Buffer.alloc(32, 7), pieces())
      let bytes = 0
      for await (const out of sealed.body) bytes += out.byteLength
      console.log('sealed', bytes, sealed.sha256().length)
    `
    const file = join(tmpDir('louder-pool-'), 'seal.mjs')
    writeFileSync(file, script)
    const run = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 30_000 })
    expect(run.stderr).toBe('')
    expect(run.stdout.trim()).toBe(`sealed ${11 + 8 * (1 << 20) + 128 * 16} 64`)
    expect(run.status).toBe(0)
  })

  it('starts its threads ahead of the first stream when warmed, and warming twice starts no more', async () => {
    const warm = new SealingPool(2)
    try {
      await warm.warm()
      await warm.warm()
      expect(warm.threadsRunning).toBe(2)
      const plain = randomBytes(100_000)
      const sealed = new Envelope(db.kysely, keyring, { pool: warm }).sealStream(dataKeyId, pieces(plain, [CHUNK]))
      const bytes = await collect(sealed.body)
      expect(sealed.sha256()).toBe(sha256(plain))
      expect((await collect(inProcess.decryptStream(dataKeyId, pieces(bytes, [CHUNK])))).equals(plain)).toBe(true)
      expect(warm.threadsRunning).toBe(2)
    } finally {
      await warm.close()
    }
  })

  it.each([0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 5, 5_000_000])('seals %i bytes so that they open, and hashes the plaintext', async (length) => {
    const plain = randomBytes(length)
    for (const envelope of [pooled, inProcess]) {
      const sealed = envelope.sealStream(dataKeyId, pieces(plain, [1_000, 1 << 20, 13, CHUNK, 3 << 20]))
      const bytes = await collect(sealed.body)
      expect(sealed.sha256()).toBe(sha256(plain))
      expect((await collect(inProcess.decryptStream(dataKeyId, pieces(bytes, [CHUNK])))).equals(plain)).toBe(true)
    }
  })

  it('gives the same length as encryptStream, whatever the piece sizes (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 3 * CHUNK + 100 }), fc.array(fc.integer({ min: 1, max: 2 * CHUNK }), { minLength: 1, maxLength: 5 }), async (plain, sizes) => {
        const sealed = pooled.sealStream(dataKeyId, pieces(plain, sizes))
        const bytes = await collect(sealed.body)
        expect(bytes.length).toBe((await collect(inProcess.encryptStream(dataKeyId, pieces(plain, sizes)))).length)
        expect((await collect(inProcess.decryptStream(dataKeyId, pieces(bytes, [CHUNK])))).equals(Buffer.from(plain))).toBe(true)
        expect(sealed.sha256()).toBe(sha256(plain))
      }),
      { numRuns: 30, seed: 20261129 },
    )
  })

  it('seals many streams at once, each to its own plaintext', async () => {
    const plains = Array.from({ length: 12 }, (_, i) => randomBytes(100_000 + i * 37_000))
    const results = await Promise.all(
      plains.map(async (plain) => {
        const sealed = pooled.sealStream(dataKeyId, pieces(plain, [50_000]))
        return { bytes: await collect(sealed.body), hash: sealed.sha256() }
      }),
    )
    for (const [i, r] of results.entries()) {
      expect(r.hash).toBe(sha256(plains[i]!))
      expect((await collect(inProcess.decryptStream(dataKeyId, pieces(r.bytes, [CHUNK])))).equals(plains[i]!)).toBe(true)
    }
  })

  it('passes on a failing source and keeps serving other streams', async () => {
    async function* broken(): AsyncGenerator<Uint8Array> {
      yield randomBytes(3 * CHUNK)
      throw new Error('connection reset by peer')
    }
    const sealed = pooled.sealStream(dataKeyId, broken())
    await expect(collect(sealed.body)).rejects.toThrow(/connection reset/)
    expect(() => sealed.sha256()).toThrow(/read to its end/)
    const plain = randomBytes(200_000)
    const next = pooled.sealStream(dataKeyId, pieces(plain, [CHUNK]))
    await collect(next.body)
    expect(next.sha256()).toBe(sha256(plain))
  })

  it('lets a consumer stop early without wedging the thread', async () => {
    const plain = randomBytes(20 * CHUNK)
    for await (const _ of pooled.sealStream(dataKeyId, pieces(plain, [CHUNK])).body) break
    const again = pooled.sealStream(dataKeyId, pieces(plain, [CHUNK]))
    await collect(again.body)
    expect(again.sha256()).toBe(sha256(plain))
  })
})

describe('the output ring', () => {
  // Longer than the ring (a few MiB), so every stream below wraps around it more than once.
  const LONG = 20 * RING_BLOCK_BYTES + 12_345

  it.each([0, 1, CHUNK, 5_000_000, LONG])('seals a file of %i bytes read straight into the shared slots', async (length) => {
    const plain = randomBytes(length)
    const path = join(tmpDir('louder-ring-'), 'original')
    writeFileSync(path, plain)
    const sealed = pooled.sealStream(dataKeyId, fileSource(path))
    const bytes = await collect(sealed.body)
    expect(sealed.sha256()).toBe(sha256(plain))
    expect((await collect(inProcess.decryptStream(dataKeyId, pieces(bytes, [CHUNK])))).equals(plain)).toBe(true)
  })

  it('hands on whole aligned blocks, the rest, then an empty piece, each valid until the piece after the next is asked for', async () => {
    const plain = randomBytes(LONG)
    for (const source of [pieces(plain, [1_000_000, 3 << 20, 17]), fileSourceOf(plain)]) {
      const sealed = pooled.sealStream(dataKeyId, source)
      // As the blob writer uses them: a block is copied out only once the next one has arrived.
      const parts: Buffer[] = []
      const lengths: number[] = []
      let held: Uint8Array | null = null
      for await (const piece of sealed.body) {
        if (held) parts.push(Buffer.from(held))
        held = piece
        lengths.push(piece.byteLength)
        if (piece.byteLength === RING_BLOCK_BYTES) expect(isPageAligned(piece)).toBe(true)
      }
      if (held) parts.push(Buffer.from(held))
      expect(lengths.slice(0, -2).every((l) => l === RING_BLOCK_BYTES)).toBe(true)
      expect(lengths.at(-2)).toBeLessThan(RING_BLOCK_BYTES)
      expect(lengths.at(-1)).toBe(0) // so the writer is done with the blocks before the ring serves another stream
      expect((await collect(inProcess.decryptStream(dataKeyId, pieces(Buffer.concat(parts), [CHUNK])))).equals(plain)).toBe(true)
    }
  })

  it('keeps a finished stream’s ring out of the next stream’s way until the blob writer has its last block on disk', async () => {
    // As the blob store writes a sealed body, with the next stream starting the moment the body ends: the ring's
    // last block may still be on its way to disk. Lengths whose sealed size ends in a partial block, or exactly
    // on a block's end (1,048,309 bytes: 11 header bytes, 15 whole chunks with their tags, 64,069 bytes and a tag).
    const single = new SealingPool(1)
    try {
      for (const length of [RING_BLOCK_BYTES, 1_048_309, 3 * RING_BLOCK_BYTES + 5]) {
        for (let round = 0; round < 8; round++) {
          const plain = randomBytes(length)
          const sealed = single.seal(async () => Buffer.alloc(32, 3), pieces(plain, [1 << 20]))
          const path = join(tmpDir('louder-ring-'), 'sealed')
          const file = await createDurableFile(path, 0o600, { usable: null })
          const yielded: Buffer[] = []
          for await (const piece of sealed.body) {
            yielded.push(Buffer.from(piece))
            await file.write(piece)
          }
          if (length === 1_048_309) expect(yielded.map((p) => p.length)).toEqual([RING_BLOCK_BYTES, 0])
          const next = single.seal(async () => Buffer.alloc(32, 4), pieces(randomBytes(4 << 20), [1 << 20]))
          for await (const _ of next.body) break
          await file.finish()
          expect(readFileSync(path).equals(Buffer.concat(yielded))).toBe(true)
        }
      }
    } finally {
      await single.close()
    }
  })

  it('passes on a file read that fails, closes the source, and keeps serving', async () => {
    let closed = 0
    let reads = 0
    const failing: ByteSource = {
      async *[Symbol.asyncIterator]() {},
      async readInto(target) {
        if (++reads > 3) throw new Error('EIO: i/o error, read')
        target.fill(reads)
        return target.byteLength
      },
      async close() {
        closed++
      },
    }
    const sealed = pooled.sealStream(dataKeyId, failing)
    await expect(collect(sealed.body)).rejects.toThrow(/EIO/)
    expect(closed).toBe(1)
    const plain = randomBytes(3 * RING_BLOCK_BYTES)
    const next = pooled.sealStream(dataKeyId, fileSourceOf(plain))
    expect((await collect(inProcess.decryptStream(dataKeyId, pieces(await collect(next.body), [CHUNK])))).equals(plain)).toBe(true)
  })

  it('is sized for every slot in flight beside two blocks, whole blocks of aligned memory', () => {
    const slots = newSlots(4)
    expect(slots.ringBytes % RING_BLOCK_BYTES).toBe(0)
    expect(slots.ringBytes).toBeGreaterThanOrEqual(2 * RING_BLOCK_BYTES + 4 * sealedBound(SLOT_INPUT_BYTES))
    expect(isPageAligned(ring(slots))).toBe(true)
  })

  it('wraps what it writes at the ring’s end', () => {
    const out = new Uint8Array(10)
    const writer = new RingWriter(out)
    writer.put(Uint8Array.of(1, 2, 3, 4, 5, 6, 7))
    writer.put(Uint8Array.of(8, 9, 10, 11, 12))
    expect([...out]).toEqual([11, 12, 3, 4, 5, 6, 7, 8, 9, 10])
    expect(writer.position).toBe(12)
  })

  it('never seals more for a piece than sealedBound says (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 3 * CHUNK + 7 }), { maxLength: 8 }), (lengths) => {
        const sealing = new StreamSealing(Buffer.alloc(32, 1))
        for (const length of lengths) expect(sealing.push(Buffer.alloc(length)).length).toBeLessThanOrEqual(sealedBound(length))
        expect(sealing.finish().length).toBeLessThanOrEqual(sealedBound(0))
      }),
      { numRuns: 200, seed: 20261129 },
    )
  })
})

function fileSourceOf(bytes: Uint8Array): ByteSource {
  const path = join(tmpDir('louder-ring-'), 'file')
  writeFileSync(path, bytes)
  return fileSource(path)
}
