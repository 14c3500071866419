import { execFileSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Header } from 'tar'
import { afterAll, describe, expect, it } from 'vitest'
import { readTar, TarFormatError, TarWriter } from './tar-stream.ts'

const dir = mkdtempSync(join(tmpdir(), 'louder-tar-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

async function write(entries: [string, Buffer][]): Promise<Buffer> {
  const chunks: Buffer[] = []
  const tar = new TarWriter(async (c) => void chunks.push(Buffer.from(c)), new Date(0))
  for (const [path, body] of entries) await tar.file(path, body.length, body)
  await tar.end()
  return Buffer.concat(chunks)
}

/** Feeds `bytes` in pieces of the given sizes, round robin, as a network or a decrypter would. */
async function* pieces(bytes: Buffer, sizes = [1, 7, 511, 512, 513, 65536]): AsyncGenerator<Uint8Array> {
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const n = sizes[i % sizes.length]!
    yield bytes.subarray(at, at + n)
    at += n
  }
}

/** Each entry's path and the SHA-256 of its body (deep equality on MiB-sized buffers is slow). */
async function read(source: AsyncIterable<Uint8Array>): Promise<[string, string][]> {
  const out: [string, string][] = []
  for await (const entry of readTar(source)) {
    const hash = createHash('sha256')
    for await (const p of entry.body) hash.update(p)
    out.push([entry.path, hash.digest('hex')])
  }
  return out
}

function digests(entries: [string, Buffer][]): [string, string][] {
  return entries.map(([path, body]) => [path, createHash('sha256').update(body).digest('hex')])
}

describe('tar stream', () => {
  const long = `db/${'x'.repeat(150)}/00000001.jsonl`
  const entries: [string, Buffer][] = [
    ['louder-backup.json', Buffer.from('{}\n')],
    ['empty', Buffer.alloc(0)],
    ['blobs/exactly-a-block', randomBytes(512)],
    ['blobs/big', randomBytes((1 << 20) + 3)],
    [long, Buffer.from('a path too long for ustar goes in a pax record\n')],
  ]

  it('round-trips entries through any chunking of the stream', async () => {
    const bytes = await write(entries)
    expect(bytes.length % 512).toBe(0)
    expect(await read(pieces(bytes))).toEqual(digests(entries))
    const small = entries.filter(([p]) => p !== 'blobs/big')
    expect(await read(pieces(await write(small), [1, 2, 3]))).toEqual(digests(small))
  })

  it('writes archives that GNU tar reads', async () => {
    const file = join(dir, 'ours.tar')
    writeFileSync(file, await write(entries))
    expect(execFileSync('tar', ['-tf', file], { encoding: 'utf8' }).trim().split('\n')).toEqual(entries.map(([p]) => p))
  })

  it('reads regular files from a GNU tar archive', async () => {
    writeFileSync(join(dir, 'a.txt'), 'alpha')
    const file = join(dir, 'gnu.tar')
    execFileSync('tar', ['-cf', file, '-C', dir, 'a.txt'])
    async function* whole() {
      yield (await import('node:fs')).readFileSync(file)
    }
    expect(await read(whole())).toEqual(digests([['a.txt', Buffer.from('alpha')]]))
  })

  it('lets a reader skip bodies it does not want', async () => {
    const bytes = await write(entries)
    const paths: string[] = []
    for await (const entry of readTar(pieces(bytes))) paths.push(entry.path)
    expect(paths).toEqual(entries.map(([p]) => p))
  })

  it('refuses a body that is not the declared size', async () => {
    const tar = new TarWriter(async () => {}, new Date())
    await expect(tar.file('a', 3, Buffer.from('four'))).rejects.toThrow(/more than the 3 bytes/)
    await expect(tar.file('b', 5, Buffer.from('four'))).rejects.toThrow(/4 bytes instead of the 5/)
  })

  describe('refuses a stream that is not a whole, plain archive', () => {
    const cases: [string, (b: Buffer) => Buffer, RegExp][] = [
      ['a damaged header', (b) => flip(b, 512 * 2 + 3), /checksum mismatch/],
      ['cut in an entry', (b) => b.subarray(0, 512 * 4 + 100), /ends in the middle of an entry/],
      ['without its end marker', (b) => b.subarray(0, b.length - 1024), /ends in the middle of a tar header/],
      ['with data after its end', (b) => Buffer.concat([b, Buffer.from('x')]), /data after the end/],
      ['with a symbolic link', (b) => Buffer.concat([symlinkHeader(), b]), /SymbolicLink, not a regular file/],
      ['empty', () => Buffer.alloc(0), /ends in the middle of a tar header/],
    ]
    it.each(cases)('%s', async (_, damage, message) => {
      const bytes = damage(await write(entries.slice(0, 4)))
      const err = await read(pieces(bytes)).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(TarFormatError)
      expect((err as Error).message).toMatch(message)
    })
  })
})

function flip(bytes: Buffer, at: number): Buffer {
  const copy = Buffer.from(bytes)
  copy[at] = copy[at]! ^ 0x01
  return copy
}

function symlinkHeader(): Buffer {
  const block = Buffer.alloc(512)
  new Header({ path: 'keys/master.key', type: 'SymbolicLink', linkpath: '/etc/shadow', size: 0, mode: 0o777, mtime: new Date(0) }).encode(block)
  return block
}
