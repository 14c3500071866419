/**
 * `npm run bench -- verify`: verifying a ~1 GB court bag (BagIt digests in SHA-256 and SHA-512 over every
 * payload file, as `louder verify` does) against `openssl dgst -sha256` plus `openssl dgst -sha512` over the
 * same payload, in the same run. Target (court export issue): ratio ≥ 0.8.
 */
import { spawnSync } from 'node:child_process'
import { randomFillSync } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { BagWriter } from '../src/court/bag-writer.ts'
import { verifyBag } from '../src/court/verify-bag.ts'
import { progress, report, round } from './report.ts'

const FILES = 16
const FILE_BYTES = 64 << 20
const ROUNDS = 3

async function* randomBytes(total: number): AsyncGenerator<Uint8Array> {
  const chunk = Buffer.alloc(1 << 20)
  for (let left = total; left > 0; left -= chunk.length) yield randomFillSync(chunk).subarray(0, Math.min(left, chunk.length))
}

function openssl(alg: string, files: string[]): number {
  const started = performance.now()
  const r = spawnSync('openssl', ['dgst', `-${alg}`, ...files], { stdio: ['ignore', 'ignore', 'inherit'] })
  if (r.status !== 0) throw new Error(`openssl dgst -${alg} failed`)
  return performance.now() - started
}

export async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'louder-bench-verify-'))
  try {
    const root = join(dir, 'bag')
    progress(`verify: writing a bag of ${FILES} × ${FILE_BYTES >> 20} MiB`)
    const bag = new BagWriter(root)
    const names: string[] = []
    for (let i = 0; i < FILES; i++) {
      names.push(join(root, 'data', `file-${i}.bin`))
      await bag.add(`file-${i}.bin`, randomBytes(FILE_BYTES))
    }
    await bag.finish({ organisation: 'bench', contact: 'bench', externalIdentifier: 'bench', baggingDate: new Date() })
    const bytes = FILES * FILE_BYTES
    openssl('sha256', names) // warm the page cache, so both sides read from memory
    let best = { ref256: Infinity, ref512: Infinity, ours: Infinity }
    for (let r = 0; r < ROUNDS; r++) {
      const ref256 = openssl('sha256', names)
      const ref512 = openssl('sha512', names)
      const started = performance.now()
      const result = await verifyBag(root, { timestamps: false })
      const ours = performance.now() - started
      if (!result.ok) throw new Error(`the bench bag does not verify: ${JSON.stringify(result.problems.slice(0, 3))}`)
      progress(`verify: round ${r + 1}: ours ${ours.toFixed(0)} ms, openssl sha256 ${ref256.toFixed(0)} ms + sha512 ${ref512.toFixed(0)} ms`)
      best = { ref256: Math.min(best.ref256, ref256), ref512: Math.min(best.ref512, ref512), ours: Math.min(best.ours, ours) }
    }
    const reference = best.ref256 + best.ref512
    const ratio = reference / best.ours
    report({
      bench: 'verify-bag',
      value: round(bytes / (best.ours / 1000) / 1e6, 1),
      reference: round(bytes / (reference / 1000) / 1e6, 1),
      ratio: round(ratio),
      unit: 'MB/s',
      params: {
        bytes,
        files: FILES,
        rounds: ROUNDS,
        oursMs: round(best.ours, 0),
        opensslSha256Ms: round(best.ref256, 0),
        opensslSha512Ms: round(best.ref512, 0),
        ratioVsSha256Only: round(best.ref256 / best.ours),
        ratioVsSha512Only: round(best.ref512 / best.ours),
        cpus: availableParallelism(),
        target: 0.8,
        met: ratio >= 0.8,
      },
    })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
