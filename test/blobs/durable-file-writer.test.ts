/** The blob store's temp-file writer: exact bytes and length whatever the pieces, with direct I/O and without. */
import { randomBytes } from 'node:crypto'
import { readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createDurableFile, type DirectIo, STAGING_BYTES } from '../../src/blobs/durable-file-writer.ts'
import { readFilePieces } from '../../src/blobs/file-pieces.ts'
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
