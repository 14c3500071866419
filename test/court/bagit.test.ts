import { mkdtemp, readdir, rm, symlink, writeFile, appendFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { decodeManifestPath, encodeManifestPath, parseManifest, unsafePathReason } from '../../src/core/court/bagit-format.ts'
import { BagWriter } from '../../src/court/bag-writer.ts'
import { validateBag } from '../../src/court/bagit-validate.ts'

const SUITE = join(import.meta.dirname, '..', 'fixtures', 'bagit-conformance')
const dirs: string[] = []
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true })
})

async function smallBag(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'louder-bag-'))
  dirs.push(root)
  const bag = new BagWriter(root)
  await bag.add('hello.txt', 'hello\n')
  await bag.add('nested/odd name %.bin', new Uint8Array([1, 2, 3]))
  await bag.finish({ organisation: 'Test Org', contact: 'Clerk', externalIdentifier: 'case-1', baggingDate: new Date('2026-01-02T00:00:00Z') })
  return root
}

describe('BagIt: Library of Congress conformance cases', async () => {
  for (const kind of ['valid', 'invalid'] as const)
    for (const name of await readdir(join(SUITE, kind)))
      it(`${kind}/${name} ${kind === 'valid' ? 'passes' : 'fails'}`, async () => {
        const { problems } = await validateBag(join(SUITE, kind, name))
        if (kind === 'valid') expect(problems).toEqual([])
        else expect(problems.length).toBeGreaterThan(0)
      })
})

describe('BagIt: writer and validator', () => {
  it('writes a bag its own validator accepts', async () => {
    const { problems, payload } = await validateBag(await smallBag())
    expect(problems).toEqual([])
    expect([...payload.keys()].sort()).toEqual(['data/hello.txt', 'data/nested/odd name %.bin'])
  })

  it('percent-encodes CR, LF and % in manifest paths and decodes only those', () => {
    expect(encodeManifestPath('a%b\nc\rd')).toBe('a%25b%0Ac%0Dd')
    expect(decodeManifestPath('a%25b%0Ac%0Dd%41')).toBe('a%b\nc\rd%41')
  })

  it('refuses unsafe manifest paths', () => {
    for (const p of ['../etc/passwd', '/etc/passwd', 'data/../../x', 'data//x', 'data/./x', 'data\\x', 'C:/x']) expect(unsafePathReason(p)).not.toBeNull()
    const { errors } = parseManifest(`${'0'.repeat(64)}  data/../../etc/passwd\n${'0'.repeat(64)}  /etc/passwd\n`, 'sha256')
    expect(errors).toHaveLength(2)
  })

  it('fails a changed payload byte, an extra file, a missing file, a symlink and a wrong Payload-Oxum', async () => {
    const root = await smallBag()
    await appendFile(join(root, 'data/hello.txt'), 'x')
    await writeFile(join(root, 'data/extra.txt'), 'unlisted')
    await rm(join(root, 'data/nested/odd name %.bin'))
    await symlink('/etc/passwd', join(root, 'data/link'))
    const { problems } = await validateBag(root)
    const steps = problems.map((p) => `${p.file}: ${p.step}`)
    expect(steps).toContain('data/hello.txt: digest')
    expect(steps).toContain('data/extra.txt: completeness')
    expect(steps).toContain('data/nested/odd name %.bin: completeness')
    expect(steps).toContain('data/link: files')
    expect(steps).toContain('bag-info.txt: payload-oxum')
  })

  it('fails a manifest that points outside the bag and a huge declared Payload-Oxum', async () => {
    const root = await smallBag()
    await appendFile(join(root, 'manifest-sha256.txt'), `${'0'.repeat(64)}  data/../../../etc/passwd\n`)
    await writeFile(join(root, 'bag-info.txt'), 'Payload-Oxum: 999999999999999999999999.1\n')
    const { problems } = await validateBag(root)
    expect(problems.some((p) => p.file === 'manifest-sha256.txt' && p.message.includes('".."'))).toBe(true)
    expect(problems.some((p) => p.step === 'payload-oxum')).toBe(true)
  })

  it('fails a bag without a declaration or a manifest', async () => {
    const root = await smallBag()
    await rm(join(root, 'bagit.txt'))
    await rm(join(root, 'manifest-sha256.txt'))
    await rm(join(root, 'manifest-sha512.txt'))
    const { problems } = await validateBag(root)
    expect(problems.map((p) => p.file)).toEqual(expect.arrayContaining(['bagit.txt', 'manifest-<algorithm>.txt']))
  })
})

describe('hostile serialised bags', () => {
  async function tarOf(build: (dir: string) => Promise<void>, flags: string[] = []): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'louder-hostile-'))
    dirs.push(dir)
    await build(dir)
    const { execFileSync } = await import('node:child_process')
    execFileSync('tar', ['-cf', join(dir, 'bag.tar'), ...flags, '-C', dir, 'bag'])
    return join(dir, 'bag.tar')
  }

  it('refuses a tar holding a symlink', async () => {
    const { verifyBag } = await import('../../src/court/verify-bag.ts')
    const tar = await tarOf(async (dir) => {
      const bag = new BagWriter(join(dir, 'bag'))
      await bag.add('a.txt', 'a')
      await bag.finish({ organisation: 'o', contact: 'c', externalIdentifier: 'x', baggingDate: new Date() })
      await symlink('/etc/passwd', join(dir, 'bag', 'data', 'link'))
    })
    const r = await verifyBag(tar)
    expect(r.ok).toBe(false)
    expect(r.problems[0]).toMatchObject({ step: 'tar' })
  })

  it('refuses a tar whose entries climb out with ".."', async () => {
    const { verifyBag } = await import('../../src/court/verify-bag.ts')
    const tar = await tarOf(async (dir) => {
      const bag = new BagWriter(join(dir, 'bag'))
      await bag.add('a.txt', 'a')
      await bag.finish({ organisation: 'o', contact: 'c', externalIdentifier: 'x', baggingDate: new Date() })
    }, ['--transform', 's,^bag/data/a.txt,bag/../../escaped.txt,'])
    const r = await verifyBag(tar)
    expect(r.ok).toBe(false)
    expect(r.problems.map((p) => p.message).join()).toMatch(/\.\./)
  })
})

describe('serialised bags made by plain tar', () => {
  it('accepts a bag tarred with directory entries, and refuses it truncated (a size larger than what follows)', async () => {
    const { execFileSync } = await import('node:child_process')
    const { truncateSync, statSync } = await import('node:fs')
    const { verifyBag } = await import('../../src/court/verify-bag.ts')
    const dir = await mkdtemp(join(tmpdir(), 'louder-plain-tar-'))
    dirs.push(dir)
    const bag = new BagWriter(join(dir, 'bag'))
    await bag.add('big.bin', new Uint8Array(200_000).fill(7))
    await bag.finish({ organisation: 'o', contact: 'c', externalIdentifier: 'x', baggingDate: new Date() })
    execFileSync('tar', ['-cf', join(dir, 'bag.tar'), '-C', dir, 'bag'])
    expect((await verifyBag(join(dir, 'bag.tar'))).problems).toEqual([])
    truncateSync(join(dir, 'bag.tar'), Math.floor(statSync(join(dir, 'bag.tar')).size / 2))
    const r = await verifyBag(join(dir, 'bag.tar'))
    expect(r.ok).toBe(false)
  })
})
