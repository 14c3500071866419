/**
 * Single-byte changes anywhere that matters: both `louder verify` (in-process) and verify.mjs (a process, for a
 * few cases) must fail and name the damaged file. Twice over: as received (BagIt's digests catch it), and after
 * an attacker has rewritten every manifest to match (then Louder's own proofs must catch it).
 */
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { systemActor } from '../../src/core/access/actor.ts'
import { NO_ORIGIN } from '../../src/core/audit/audit.ts'
import { renderManifest } from '../../src/core/court/bagit-format.ts'
import { exportCaseBag } from '../../src/court/export-bag.ts'
import { formatProblems, verifyBag } from '../../src/court/verify-bag.ts'
import { type CourtCase, makeCourtCase } from './case-fixture.ts'
import { startTestTsa, type TestTsa } from './test-tsa.ts'

let cc: CourtCase
let tsa: TestTsa
let dir: string
let bag: string
let n = 0

beforeAll(async () => {
  ;[cc, tsa] = await Promise.all([makeCourtCase(), startTestTsa('Tamper')])
  dir = mkdtempSync(join(tmpdir(), 'louder-tamper-'))
  bag = join(dir, 'bag')
  await exportCaseBag(await cc.deps(), systemActor('cli'), NO_ORIGIN, { incidents: [cc.incidentId], out: join(dir, 'first'), authorities: [tsa] })
  await exportCaseBag(await cc.deps(), systemActor('cli'), NO_ORIGIN, { incidents: [cc.incidentId], out: bag, authorities: [tsa] })
}, 120_000)
afterAll(async () => {
  await cc?.api.close()
  await tsa?.close()
  rmSync(dir, { recursive: true, force: true })
})

function filesOf(root: string, rel = ''): string[] {
  return readdirSync(join(root, rel)).flatMap((name) => {
    const path = rel ? `${rel}/${name}` : name
    return statSync(join(root, path)).isDirectory() ? filesOf(root, path) : [path]
  })
}

/** A copy of the bag with one byte of `file` flipped (at `at`, default the middle); optionally re-manifested. */
function damaged(file: string, options: { rebag?: boolean; at?: number } = {}): string {
  const copy = join(dir, `t${++n}`)
  cpSync(bag, copy, { recursive: true })
  const bytes = readFileSync(join(copy, file))
  const at = options.at ?? Math.floor(bytes.length / 2)
  bytes[at] = bytes[at]! ^ 0x01
  writeFileSync(join(copy, file), bytes)
  if (options.rebag) rebag(copy)
  return copy
}

/** What an attacker who understands BagIt does: new manifests, tag manifests and Payload-Oxum for the changed payload. */
function rebag(root: string): void {
  const payload = filesOf(root).filter((p) => p.startsWith('data/'))
  for (const alg of ['sha256', 'sha512']) writeFileSync(join(root, `manifest-${alg}.txt`), renderManifest(payload.map((path) => ({ path, digest: createHash(alg).update(readFileSync(join(root, path))).digest('hex') }))))
  const octets = payload.reduce((s, p) => s + statSync(join(root, p)).size, 0)
  writeFileSync(join(root, 'bag-info.txt'), readFileSync(join(root, 'bag-info.txt'), 'utf8').replace(/Payload-Oxum: .*/, `Payload-Oxum: ${octets}.${payload.length}`))
  const tags = ['bagit.txt', 'bag-info.txt', 'manifest-sha256.txt', 'manifest-sha512.txt']
  for (const alg of ['sha256', 'sha512']) writeFileSync(join(root, `tagmanifest-${alg}.txt`), renderManifest(tags.map((path) => ({ path, digest: createHash(alg).update(readFileSync(join(root, path))).digest('hex') }))))
}

async function report(root: string): Promise<string> {
  const r = await verifyBag(root)
  expect(r.ok).toBe(false)
  return formatProblems(r.problems).join('\n')
}

function verifyMjs(root: string): { code: number; out: string } {
  try {
    return { code: 0, out: execFileSync(process.execPath, [join(root, 'data/verify.mjs')], { encoding: 'utf8' }) }
  } catch (err) {
    const e = err as { status: number; stdout: string }
    return { code: e.status, out: e.stdout }
  }
}

const TARGETS = () => {
  const manifest = JSON.parse(readFileSync(join(bag, 'data/louder.json'), 'utf8')) as { checkpoints: number[]; timestamps: { size: number; n: number }[] }
  const proof = filesOf(bag).find((p) => p.startsWith('data/custody/proofs/'))!
  return {
    original: `data/originals/${cc.captured}`,
    'other original': `data/originals/${cc.plain}`,
    'capture record': `data/captures/${cc.captured}.json`,
    signature: `data/captures/${cc.captured}.sig`,
    derivative: `data/derivatives/${cc.derivative}`,
    'derivation record': `data/derivatives/${cc.derivative}.derivation.json`,
    event: 'data/custody/events.jsonl',
    proof,
    checkpoint: `data/checkpoints/${manifest.checkpoints.at(-1)}.txt`,
    'earlier checkpoint': `data/checkpoints/${manifest.checkpoints[0]}.txt`,
    'consistency proof': `data/checkpoints/consistency-${manifest.checkpoints[0]}-${manifest.checkpoints[1]}.json`,
    'timestamp reply': `data/timestamps/${manifest.timestamps[0]!.size}.${manifest.timestamps[0]!.n}.tsr`,
    'log key': 'data/keys/log.vkey',
    'bag manifest': 'data/louder.json',
  }
}

describe('tampering, as received: BagIt names the file', () => {
  it('passes untouched, in both verifiers', async () => {
    expect(formatProblems((await verifyBag(bag)).problems)).toEqual([])
    expect(verifyMjs(bag).code).toBe(0)
  })

  it('verify.mjs without openssl says the timestamps were not checked, rather than passing them silently', () => {
    const out = execFileSync(process.execPath, [join(bag, 'data/verify.mjs')], { encoding: 'utf8', env: { PATH: '/nonexistent' } })
    expect(out).toMatch(/timestamp not checked \(needs openssl\)/)
    // The message imprint is still checked without openssl: damage it.
    const reply = TARGETS()['timestamp reply']
    const size = /timestamps\/(\d+)\./.exec(reply)![1]!
    const imprint = createHash('sha256').update(readFileSync(join(bag, `data/checkpoints/${size}.txt`))).digest()
    const copy = damaged(reply, { rebag: true, at: readFileSync(join(bag, reply)).indexOf(imprint) + 5 })
    let status = 0
    try {
      execFileSync(process.execPath, [join(copy, 'data/verify.mjs')], { encoding: 'utf8', env: { PATH: '/nonexistent' } })
    } catch (err) {
      status = (err as { status: number }).status
    }
    expect(status).toBe(1)
  })

  it('fails a changed byte in each file and in the manifests, naming it', async () => {
    const targets = { ...TARGETS(), manifest: 'manifest-sha256.txt', 'tag manifest': 'tagmanifest-sha512.txt', 'bag info': 'bag-info.txt' }
    for (const [what, file] of Object.entries(targets)) {
      const at = file === 'manifest-sha256.txt' ? 3 : undefined
      expect(await report(damaged(file, { at })), what).toContain(file)
    }
  })
})

describe("tampering with re-written manifests: Louder's proofs name the file", () => {
  it('fails each change and names the damaged file', async () => {
    for (const [what, file] of Object.entries(TARGETS())) {
      const text = await report(damaged(file, { rebag: true }))
      expect(text, what).toContain(file)
    }
  })

  it('verify.mjs fails the same changes and names the file (a few cases, as a process)', () => {
    const t = TARGETS()
    for (const file of [t.original, t['capture record'], t.signature, t.event, t.proof, t.checkpoint, t['timestamp reply']]) {
      const { code, out } = verifyMjs(damaged(file, { rebag: true }))
      expect(code, file).toBe(1)
      expect(out, file).toContain(file)
    }
  })

  it('fails a removed original even with re-written manifests', async () => {
    const copy = join(dir, `t${++n}`)
    cpSync(bag, copy, { recursive: true })
    rmSync(join(copy, `data/originals/${cc.plain}`))
    rebag(copy)
    expect(await report(copy)).toContain(`data/originals/${cc.plain}: original: is missing`)
  })
})
