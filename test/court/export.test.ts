import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { systemActor } from '../../src/core/access/actor.ts'
import { NO_ORIGIN } from '../../src/core/audit/audit.ts'
import { exportCaseBag } from '../../src/court/export-bag.ts'
import { formatProblems, verifyBag } from '../../src/court/verify-bag.ts'
import { type CourtCase, makeCourtCase } from './case-fixture.ts'
import { startTestTsa, type TestTsa } from './test-tsa.ts'

const LEGAL = systemActor('cli')

describe('court export and verification', () => {
  let cc: CourtCase
  let tsa: TestTsa
  let dir: string
  let bag: string
  beforeAll(async () => {
    ;[cc, tsa] = await Promise.all([makeCourtCase(), startTestTsa('Court')])
    dir = mkdtempSync(join(tmpdir(), 'louder-export-'))
    bag = join(dir, 'bag')
    // A first export timestamps an earlier checkpoint, so the second carries two and a consistency proof.
    await exportCaseBag(await cc.deps(), LEGAL, NO_ORIGIN, { incidents: [cc.incidentId], out: join(dir, 'first'), authorities: [tsa] })
    await exportCaseBag(await cc.deps(), LEGAL, NO_ORIGIN, { incidents: [cc.incidentId], out: bag, authorities: [tsa] })
  }, 120_000)
  afterAll(async () => {
    await cc?.api.close()
    await tsa?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('writes a bag that verifies, with only court-consented material, and logs the export', async () => {
    const result = await verifyBag(bag)
    expect(formatProblems(result.problems)).toEqual([])
    expect(result.ok).toBe(true)
    const originals = readdirSync(join(bag, 'data/originals')).sort()
    expect(originals).toEqual([cc.captured, cc.plain].sort())
    expect(readdirSync(join(bag, 'data/derivatives'))).toContain(cc.derivative)
    // The device's derivative travels with its Louder-signed derivation record, which verify checked above.
    expect(readdirSync(join(bag, 'data/derivatives'))).toContain(`${cc.deviceDerivative}.derivation.json`)
    const manifest = JSON.parse(readFileSync(join(bag, 'data/louder.json'), 'utf8'))
    expect(manifest.checkpoints).toHaveLength(2)
    expect(manifest.timestamps.length).toBeGreaterThanOrEqual(2)
    const bagHash = createHash('sha256').update(readFileSync(join(bag, 'tagmanifest-sha256.txt'))).digest('hex')
    const size = await cc.api.ctx.store.repos.custodyLog.size()
    const last = JSON.parse((await cc.api.ctx.store.repos.custodyLog.entry(size - 1))!.body)
    expect(last).toMatchObject({ type: 'export.created', sha256: bagHash, items: 4 })
  })

  it('verifies a tar of the bag, and writes an age file with --recipient', async () => {
    const tar = join(dir, 'case.tar')
    await exportCaseBag(await cc.deps(), LEGAL, NO_ORIGIN, { incidents: [cc.incidentId], out: tar, tar: true })
    expect(formatProblems((await verifyBag(tar)).problems)).toEqual([])
    const age = join(dir, 'case.tar.age')
    await exportCaseBag(await cc.deps(), LEGAL, NO_ORIGIN, { incidents: [cc.incidentId], out: age, tar: true, recipients: ['age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p'] })
    expect(readFileSync(age).subarray(0, 21).toString()).toBe('age-encryption.org/v1')
  })

  it('decrypts an age-encrypted export with the recipient\'s identity to a tar that verifies', async () => {
    const { Decrypter, generateIdentity, identityToRecipient } = await import('age-encryption')
    const identity = await generateIdentity()
    const age = join(dir, 'mine.tar.age')
    await exportCaseBag(await cc.deps(), LEGAL, NO_ORIGIN, { incidents: [cc.incidentId], out: age, tar: true, recipients: [await identityToRecipient(identity)] })
    const d = new Decrypter()
    d.addIdentity(identity)
    writeFileSync(join(dir, 'mine.tar'), await d.decrypt(readFileSync(age)))
    expect(formatProblems((await verifyBag(join(dir, 'mine.tar'))).problems)).toEqual([])
  })

  it('exports and verifies through the louder command (exit 0; exit 1 with FILE: STEP lines when damaged)', () => {
    const louder = join(import.meta.dirname, '..', '..', 'bin', 'louder')
    const out = join(dir, 'cli-bag')
    execFileSync(louder, ['export', 'case', '--data', cc.api.ctx.config.dataDir, '--incident', cc.incidentId, '--out', out], { encoding: 'utf8' })
    expect(execFileSync(louder, ['verify', out], { encoding: 'utf8' })).toContain('OK: the bag verifies.')
    const original = join(out, 'data/originals', cc.plain)
    const bytes = readFileSync(original)
    bytes[7] = bytes[7]! ^ 0x01
    writeFileSync(original, bytes)
    let failure = { status: 0, stdout: '' }
    try {
      execFileSync(louder, ['verify', out], { encoding: 'utf8' })
    } catch (err) {
      failure = err as { status: number; stdout: string }
    }
    expect(failure.status).toBe(1)
    expect(failure.stdout).toContain(`data/originals/${cc.plain}: digest: sha256 is`)
  })

  it('louder timestamp stamps a checkpoint that later bags carry, with a consistency proof to their own', async () => {
    const louder = join(import.meta.dirname, '..', '..', 'bin', 'louder')
    const ca = join(dir, 'tsa-ca.pem')
    writeFileSync(ca, tsa.caPem)
    // Asynchronously: the test TSA answers from this very process.
    const { promisify } = await import('node:util')
    const { execFile } = await import('node:child_process')
    const { stdout: out } = await promisify(execFile)(louder, ['timestamp', '--data', cc.api.ctx.config.dataDir, '--tsa', tsa.url, '--tsa-ca', ca], { encoding: 'utf8' })
    const size = Number(/checkpoint of (\d+) entries: 1 of 1 timestamps kept/.exec(out)?.[1])
    expect(size).toBeGreaterThan(0)
    const later = join(dir, 'after-cron')
    await exportCaseBag(await cc.deps(), LEGAL, NO_ORIGIN, { incidents: [cc.incidentId], out: later })
    const manifest = JSON.parse(readFileSync(join(later, 'data/louder.json'), 'utf8'))
    expect(manifest.checkpoints).toContain(size)
    expect(manifest.timestamps.some((t: { size: number }) => t.size === size)).toBe(true)
    expect(formatProblems((await verifyBag(later)).problems)).toEqual([])
  })

  it('verify.mjs agrees with the conformance cases and says when Louder proofs are absent', () => {
    const suite = join(import.meta.dirname, '..', 'fixtures', 'bagit-conformance')
    const run = (bagDir: string) => {
      try {
        return { code: 0, out: execFileSync(process.execPath, [join(bag, 'data/verify.mjs'), bagDir], { encoding: 'utf8' }) }
      } catch (err) {
        return { code: (err as { status: number }).status, out: (err as { stdout: string }).stdout }
      }
    }
    const valid = run(join(suite, 'valid/basicBag'))
    expect(valid.code).toBe(0)
    expect(valid.out).toContain("Louder's proofs are absent")
    for (const name of readdirSync(join(suite, 'invalid'))) expect(run(join(suite, 'invalid', name)).code, name).toBe(1)
  })

  it('runs verify.mjs as a process: the untouched bag passes', () => {
    const out = execFileSync(process.execPath, [join(bag, 'data/verify.mjs')], { encoding: 'utf8' })
    expect(out).toMatch(/OK: the bag and its proofs verify/)
  })
})

describe('court export over the API', () => {
  let cc: CourtCase
  beforeAll(async () => {
    cc = await makeCourtCase()
  }, 120_000)
  afterAll(async () => {
    await cc?.api.close()
  })

  it('lets a legal officer export a case and download a tar that verifies', async () => {
    const { call } = await import('../access/support.ts')
    const res = await call(cc.api.app, { url: '/api/v1/exports', token: cc.api.token.legal, body: { incidents: [cc.incidentId] } })
    expect(res.statusCode, res.body).toBe(201)
    const made = res.json() as { id: string; sha256: string; originals: number; download: string }
    expect(made.originals).toBe(2)
    const got = await cc.api.app.inject({ method: 'GET', url: made.download, headers: { authorization: `Bearer ${cc.api.token.legal}` } })
    expect(got.statusCode).toBe(200)
    const dir = mkdtempSync(join(tmpdir(), 'louder-export-api-'))
    try {
      writeFileSync(join(dir, 'case.tar'), got.rawPayload)
      expect(formatProblems((await verifyBag(join(dir, 'case.tar'))).problems)).toEqual([])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
    const editor = await call(cc.api.app, { url: '/api/v1/exports', token: cc.api.token.editor, body: { incidents: [cc.incidentId] } })
    expect(editor.statusCode).toBe(403)
    const badRecipient = await call(cc.api.app, { url: '/api/v1/exports', token: cc.api.token.legal, body: { incidents: [cc.incidentId], recipients: ['not-a-key'] } })
    expect(badRecipient.statusCode).toBe(400)
  })
})
