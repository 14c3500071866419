/** The blob store's temp-file writer: exact bytes and length whatever the pieces, with direct I/O and without. */
import { randomBytes } from 'node:crypto'
import { readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createDurableFile, type DirectIo, STAGING_BYTES } from '../../src/blobs/durable-file-writer.ts'
import { isPageAligned, pageAlignedMemory, PAGE_BYTES } from '../../src/blobs/aligned-memory.ts'
import { fileSource, readFilePieces } from '../../src/blobs/file-pieces.ts'
import { collect, pieces } from '../support/byte-streams.ts'
import { tmpDir } from '../support/tmp.ts'

const dir = tmpDir('louder-durable-')
let n = 0

async function writeInPieces(bytes: Uint8Array, sizes: number[], direct: DirectIo): Promise<{ path: string; length: number }> {
  const path = join(dir, `file-${n++}`)
  const file = await createDurableFile(path, 0o600, direct)
  for await (const piece of pieces(bytes, sizes)) await file.write(piece)
  return { path, length: await file.finish() }
}

describe('createDurableFile', () => {
  const lengths = [0, 1, 4095, 4096, 4097, STAGING_BYTES - 1, STAGING_BYTES, STAGING_BYTES + 1, 3 * STAGING_BYTES + 12_345]

  it.each(lengths)('writes %i bytes exactly, through direct I/O where the file system allows it and through the page cache', async (length) => {
    const bytes = randomBytes(length)
    for (const direct of [{ usable: null }, { usable: false }] satisfies DirectIo[]) {
      const { path, length: written } = await writeInPieces(bytes, [1_000_000, 13, 65_536, 3 * STAGING_BYTES], direct)
      expect(written).toBe(length)
      expect(statSync(path).size).toBe(length)
      expect(readFileSync(path).equals(bytes)).toBe(true)
      expect(statSync(path).mode & 0o777).toBe(0o600)
    }
  })

  it('uses direct I/O on this machine’s temp directory (ext4 or tmpfs take O_DIRECT)', async () => {
    const direct: DirectIo = { usable: null }
    await writeInPieces(randomBytes(10_000), [4096], direct)
    expect(direct.usable).not.toBe(false)
  })

  it('keeps the same bytes whatever the piece sizes (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 2 * STAGING_BYTES + 5000 }), fc.array(fc.integer({ min: 1, max: STAGING_BYTES + 7 }), { minLength: 1, maxLength: 4 }), async (length, sizes) => {
        const bytes = randomBytes(length)
        const { path } = await writeInPieces(bytes, sizes, { usable: null })
        expect(readFileSync(path).equals(bytes)).toBe(true)
      }),
      { numRuns: 25, seed: 20261129 },
    )
  })

  it('copies a piece before its write resolves, so the caller may reuse the memory at once', async () => {
    const path = join(dir, 'reused')
    const file = await createDurableFile(path, 0o600, { usable: null })
    const piece = Buffer.alloc(700_000)
    const expected: Buffer[] = []
    for (let i = 0; i < 5; i++) {
      piece.fill(i + 1)
      expected.push(Buffer.from(piece))
      await file.write(piece)
    }
    piece.fill(0xff)
    await file.finish()
    expect(readFileSync(path).equals(Buffer.concat(expected))).toBe(true)
  })

  it('writes whole aligned blocks from where they lie, each kept until the next write resolves, between copied pieces', async () => {
    // The sealing threads' ring: blocks of aligned memory, each reused once the block after it has been written.
    const memory = pageAlignedMemory(2 * STAGING_BYTES, { shared: true })!
    const blocks = [new Uint8Array(memory, 0, STAGING_BYTES), new Uint8Array(memory, STAGING_BYTES, STAGING_BYTES)]
    const expected: Buffer[] = []
    for (const direct of [{ usable: null }, { usable: false }] satisfies DirectIo[]) {
      const path = join(dir, `aligned-${n++}`)
      const file = await createDurableFile(path, 0o600, direct)
      expected.length = 0
      for (let i = 0; i < 6; i++) {
        const block = blocks[i % 2]!
        // Only now may the block written two writes ago be reused.
        block.fill(i + 1)
        expected.push(Buffer.from(block))
        await file.write(block)
        if (i === 3) {
          // A piece that is not a whole block is copied; the next block then no longer starts the staging, and is copied too.
          const odd = randomBytes(5000)
          expected.push(odd)
          await file.write(odd)
        }
      }
      const tail = randomBytes(123)
      expected.push(tail)
      await file.write(tail)
      blocks[0]!.fill(0xee)
      await file.finish()
      blocks[1]!.fill(0xee)
      expect(readFileSync(path).equals(Buffer.concat(expected))).toBe(true)
    }
  })

  it('has the block it wrote from the caller’s memory on disk before a later piece’s write resolves, even an empty one', async () => {
    const memory = pageAlignedMemory(STAGING_BYTES, { shared: true })!
    const block = new Uint8Array(memory, 0, STAGING_BYTES)
    for (const tail of [123, 0]) {
      for (const direct of [{ usable: null }, { usable: false }] satisfies DirectIo[]) {
        for (let round = 0; round < 5; round++) {
          const path = join(dir, `borrowed-${n++}`)
          const file = await createDurableFile(path, 0o600, direct)
          block.fill(7)
          await file.write(block)
          await file.write(new Uint8Array(tail))
          // The sealing ring hands this memory to the next stream now.
          block.fill(0xee)
          await file.finish()
          expect(readFileSync(path).equals(Buffer.concat([Buffer.alloc(STAGING_BYTES, 7), Buffer.alloc(tail)]))).toBe(true)
        }
      }
    }
  })

  it('goes on through the page cache when direct writes are refused, with two writes in flight, reopening the file once', async () => {
    // A file system that takes O_DIRECT at open but refuses its writes (EINVAL), as some FUSE and network ones do.
    const refused = new Set<unknown>()
    let firstHandle: unknown = null
    const openFiles = () => readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`).includes('refused-direct')
      } catch {
        return false
      }
    }).length
    await withFailingWrites((handle) => {
      firstHandle ??= handle
      if (handle !== firstHandle) return null
      refused.add(handle)
      return 'EINVAL'
    }, async () => {
      const memory = pageAlignedMemory(3 * STAGING_BYTES, { shared: true })!
      const blocks = [0, 1, 2].map((i) => new Uint8Array(memory, i * STAGING_BYTES, STAGING_BYTES).fill(i + 1))
      const path = join(dir, 'refused-direct')
      const direct: DirectIo = { usable: null }
      const file = await createDurableFile(path, 0o600, direct)
      for (const block of blocks) await file.write(block)
      await file.write(Buffer.from('tail'))
      expect(await file.finish()).toBe(3 * STAGING_BYTES + 4)
      expect(readFileSync(path).equals(Buffer.concat([...blocks.map((b) => Buffer.from(b)), Buffer.from('tail')]))).toBe(true)
      expect(direct.usable).toBe(false)
      expect(refused.size).toBe(1)
      expect(openFiles()).toBe(0)
    })
  })

  it('keeps the failure of a block written from the caller’s memory for every later call, finish included', async () => {
    let calls = 0
    // The first block's write fails, as a full or failing disk would; the rest go through.
    await withFailingWrites(() => (++calls === 1 ? 'EIO' : null), async () => {
      const memory = pageAlignedMemory(2 * STAGING_BYTES, { shared: true })!
      const file = await createDurableFile(join(dir, 'failed-block'), 0o600, { usable: null })
      await file.write(new Uint8Array(memory, 0, STAGING_BYTES))
      await expect(file.write(new Uint8Array(memory, STAGING_BYTES, STAGING_BYTES))).rejects.toThrow(/EIO/)
      await expect(file.finish()).rejects.toThrow(/EIO/)
      await file.abort()
    })
  })

  it('refuses a file that exists and writes after the end', async () => {
    const path = join(dir, 'taken')
    writeFileSync(path, 'someone else’s')
    await expect(createDurableFile(path, 0o600, { usable: null })).rejects.toThrow(/EEXIST/)
    expect(readFileSync(path, 'utf8')).toBe('someone else’s')
    const other = await createDurableFile(join(dir, 'finished'), 0o600, { usable: null })
    await other.write(Buffer.from('done'))
    await other.finish()
    await expect(other.write(Buffer.from('more'))).rejects.toThrow(/already finished/)
    await other.abort() // closing twice is harmless
  })
})

describe('pageAlignedMemory', () => {
  it('gives page-aligned memory, shared if asked, and tells its aligned views from others', () => {
    const plain = pageAlignedMemory(100_000)!
    const shared = pageAlignedMemory(3 * PAGE_BYTES, { shared: true })!
    expect(plain).toBeInstanceOf(ArrayBuffer)
    expect(shared).toBeInstanceOf(SharedArrayBuffer)
    expect(plain.byteLength).toBe(131_072) // whole 64 KiB WebAssembly pages
    expect(isPageAligned(new Uint8Array(plain))).toBe(true)
    expect(isPageAligned(new Uint8Array(shared, PAGE_BYTES, 10))).toBe(true)
    expect(isPageAligned(new Uint8Array(shared, PAGE_BYTES + 16, 10))).toBe(false)
    expect(isPageAligned(Buffer.alloc(STAGING_BYTES))).toBe(false)
    expect(isPageAligned(new Uint8Array(new SharedArrayBuffer(PAGE_BYTES)))).toBe(false)
  })
})

describe('readFilePieces', () => {
  it('reads a file in pieces of one reused buffer, an empty file as nothing, a missing one as ENOENT', async () => {
    const bytes = randomBytes(2 * 65_536 + 17)
    const path = join(dir, 'source')
    writeFileSync(path, bytes)
    const seen = new Set<ArrayBufferLike>()
    const parts: Buffer[] = []
    for await (const piece of readFilePieces(path, 65_536)) {
      seen.add(piece.buffer)
      parts.push(Buffer.from(piece))
    }
    expect(parts.map((p) => p.length)).toEqual([65_536, 65_536, 17])
    expect(Buffer.concat(parts).equals(bytes)).toBe(true)
    expect(seen.size).toBe(1)
    writeFileSync(join(dir, 'empty'), '')
    expect((await collect(readFilePieces(join(dir, 'empty')))).length).toBe(0)
    await expect(collect(readFilePieces(join(dir, 'missing')))).rejects.toThrow(/ENOENT/)
  })
})

describe('fileSource', () => {
  it('reads a file into the memory it is given, or as pieces, and closes it at the end or when told', async () => {
    const bytes = randomBytes(3 * 65_536 + 5)
    const path = join(dir, 'source-into')
    writeFileSync(path, bytes)
    const target = new Uint8Array(new SharedArrayBuffer(65_536))
    const source = fileSource(path)
    const parts: Buffer[] = []
    for (let got = await source.readInto!(target); got > 0; got = await source.readInto!(target)) parts.push(Buffer.from(target.subarray(0, got)))
    expect(parts.map((p) => p.length)).toEqual([65_536, 65_536, 65_536, 5])
    expect(Buffer.concat(parts).equals(bytes)).toBe(true)
    expect(await source.readInto!(target)).toBe(0) // stays at its end
    await source.close!()
    expect((await collect(fileSource(path))).equals(bytes)).toBe(true)

    const stopped = fileSource(path)
    expect(await stopped.readInto!(target)).toBe(65_536)
    await stopped.close!()
    await stopped.close!()
    expect(await stopped.readInto!(target)).toBe(0)
    await expect(fileSource(join(dir, 'missing')).readInto!(target)).rejects.toThrow(/ENOENT/)
  })
})

/**
 * Runs `body` while Node's file writes fail as a disk or file system would: `refuse` names the error code for a
 * write on a handle (after a short delay, so writes overlap), or null to let it through. Node's own FileHandle is
 * patched, not any code of ours.
 */
async function withFailingWrites(refuse: (handle: unknown) => string | null, body: () => Promise<void>): Promise<void> {
  const probe = await open('/dev/null')
  const prototype = Object.getPrototypeOf(probe) as { write: (...args: unknown[]) => Promise<unknown> }
  await probe.close()
  const realWrite = prototype.write
  prototype.write = function (this: unknown, ...args: unknown[]) {
    const code = refuse(this)
    if (code === null) return realWrite.apply(this, args)
    return new Promise((_, reject) => setTimeout(() => reject(Object.assign(new Error(`${code}: refused, write`), { code })), 2))
  }
  try {
    await body()
  } finally {
    prototype.write = realWrite
  }
}
