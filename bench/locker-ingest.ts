/**
 * The locker's ingest throughput (bench/README.md, `locker`): 2 GB of mixed files (random bytes of various
 * sizes and real JPEGs) sealed through `ingestMedia` as `louder ingest` does (each file read straight into a
 * sealing thread's memory, SHA-256 of the original and AES-256-GCM STREAM encryption in one pass, the sealed
 * blocks written with direct I/O, temp → fsync → rename → fsync dir, one transaction with its custody event),
 * against `openssl dgst -sha256` over the same files in the same run.
 *
 * Both read the files from the page cache (a warm-up pass reads them first). Rounds alternate ours and the
 * reference, each round of ours on a fresh data directory, so dedup never shortcuts it.
 * LOUDER_BENCH_INGEST_BYTES shrinks the set while working on the bench; figures are comparable only at the default.
 */
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createAppContext } from '../src/app-context.ts'
import { fileSource } from '../src/blobs/file-pieces.ts'
import { INGEST_CONCURRENCY, sealLargestFirst } from '../src/cli/ingest-files.ts'
import { tuneForBulkSealing } from '../src/protection/sealing-pool.ts'
import { buildConfig } from '../src/config/build-config.ts'
import { systemActor } from '../src/core/access/actor.ts'
import { ingestMedia } from '../src/core/evidence/ingest.ts'
import { createLogger } from '../src/log.ts'
import { progress, report, round } from './report.ts'

const TOTAL = Number(process.env.LOUDER_BENCH_INGEST_BYTES ?? 2 * 1024 ** 3)
const ROUNDS = 2
const TARGET_RATIO = 0.7
const PHOTOS = join(import.meta.dirname, '..', 'test', 'fixtures', 'field-photos')

/** Sizes from 4 KiB to 256 MiB, log-uniform from a fixed seed, until TOTAL; a few real JPEGs among them. */
async function makeFiles(dir: string): Promise<string[]> {
  const jpegs = readdirSync(PHOTOS).filter((n) => n.endsWith('.jpg')).map((n) => readFileSync(join(PHOTOS, n)))
  const files: string[] = []
  let made = 0
  let x = 12345
  const next = () => (x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
  for (let i = 0; made < TOTAL; i++) {
    const path = join(dir, `f${String(i).padStart(4, '0')}`)
    if (i % 10 === 3) {
      // A real JPEG, made unique so each is a new item.
      const jpeg = Buffer.concat([jpegs[i % jpegs.length]!, Buffer.from(`#${i}`)])
      await writeFile(path, jpeg)
      made += jpeg.length
    } else {
      const size = Math.min(TOTAL - made, Math.round(4096 * 2 ** (next() * 16)))
      await writeFile(path, randomBytes(size))
      made += size
    }
    files.push(path)
  }
  // On disk before any round: otherwise the kernel writes these bytes back during the first round of ours,
  // which writes and fsyncs too, while the reference only reads. That made round 1 ~30 % slower than round 2.
  for (const path of files) {
    const handle = await open(path, 'r')
    await handle.datasync()
    await handle.close()
  }
  return files
}

function openssl(files: string[]): number {
  const t = performance.now()
  const r = spawnSync('openssl', ['dgst', '-sha256', ...files], { stdio: ['ignore', 'ignore', 'inherit'] })
  if (r.status !== 0) throw new Error('openssl dgst failed')
  return (performance.now() - t) / 1000
}

async function ours(files: string[]): Promise<number> {
  const dataDir = await mkdtemp(join(tmpdir(), 'louder-bench-ingest-'))
  // As `louder ingest` starts: V8 tuned for bulk sealing, the sealing threads started.
  tuneForBulkSealing()
  const ctx = await createAppContext(buildConfig({ dataDir }), createLogger({ level: 'warn' }), { warmSealing: true })
  const deps = ctx.ingest
  const actor = systemActor('bench')
  try {
    const t = performance.now()
    // As `louder ingest` seals them: two at a time, largest first.
    await sealLargestFirst(files, async (path) => {
      const r = await ingestMedia(deps, actor, { body: fileSource(path) })
      if (r.status !== 'new') throw new Error(`${path} was not new`)
    })
    return (performance.now() - t) / 1000
  } finally {
    await ctx.close()
    await rm(dataDir, { recursive: true, force: true })
  }
}

export async function runIngest(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'louder-bench-files-'))
  try {
    const files = await makeFiles(dir)
    const bytes = TOTAL
    progress(`ingest: ${files.length} files, ${(bytes / 1024 ** 3).toFixed(2)} GiB; warm-up read`)
    openssl(files)
    let oursSeconds = 0
    let refSeconds = 0
    for (let round_ = 0; round_ < ROUNDS; round_++) {
      const o = await ours(files)
      const r = openssl(files)
      progress(`ingest round ${round_ + 1}: ours ${o.toFixed(2)} s (${(bytes / o / 1e6).toFixed(0)} MB/s), openssl ${r.toFixed(2)} s (${(bytes / r / 1e6).toFixed(0)} MB/s)`)
      oursSeconds += o
      refSeconds += r
    }
    const value = (bytes * ROUNDS) / oursSeconds
    const reference = (bytes * ROUNDS) / refSeconds
    report({
      bench: 'locker-ingest',
      value: round(value / 1e6, 1),
      reference: round(reference / 1e6, 1),
      ratio: round(value / reference),
      unit: 'MB/s',
      params: { files: files.length, bytes, rounds: ROUNDS, concurrency: INGEST_CONCURRENCY, order: 'largest first', cpus: cpus().length, dialect: 'sqlite', node: process.version, reference: 'openssl dgst -sha256 over the same files (page cache warm)', target_ratio: TARGET_RATIO, met: value / reference >= TARGET_RATIO },
    })
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
