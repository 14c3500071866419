/**
 * `npm run bench -- locker`: the custody log on SQLite (bench/README.md, `locker`).
 *
 * - Append rate, one event per write transaction and in batches, against plain inserts of the same rows into
 *   a table of the same shape with no Merkle tree, through the same transactions (what the tree costs).
 * - Inclusion and consistency proof times at 1,000,000 leaves (the tree built through the bulk path), against
 *   one primary-key read of one leaf (what a proof costs in single reads). Every timed proof is verified
 *   against the root afterwards, outside the timing.
 *
 * LOUDER_BENCH_LOG_LEAVES shrinks the tree while working on the bench; figures are comparable only at the default.
 * Then ingest throughput for 2 GB of mixed files against `openssl dgst -sha256` (bench/locker-ingest.ts).
 */
import { createHash } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { sql } from 'kysely'
import { appendCustodyEvent, appendCustodyEvents, consistencyProof, inclusionProof, rootAt } from '../src/core/custody/custody-log.ts'
import type { CustodyEvent } from '../src/core/custody/custody-event.ts'
import { encodeCustodyEvent } from '../src/core/custody/custody-event.ts'
import { leafHash } from '../src/core/custody/merkle.ts'
import { verifyConsistency, verifyInclusion } from '../src/core/custody/verify.ts'
import { openDatabase } from '../src/db/database.ts'
import type { DialectAdapter } from '../src/db/dialect/dialect-adapter.ts'
import { makeStore } from '../src/db/store.ts'
import { runIngest } from './locker-ingest.ts'
import { progress, report, round, type Summary, summarize } from './report.ts'

const LEAVES = Number(process.env.LOUDER_BENCH_LOG_LEAVES ?? 1_000_000)
const SINGLE_APPENDS = 2_000
const BATCHES = 20
const BATCH = 1_000
const BULK_BATCH = 20_000
const PROOFS = 2_000
const WARMUP = 2_000
const PROOF_TARGET_MS = 1

/** A media.received event per n: the most common event, with a realistic body (~250 bytes). */
function event(n: number): CustodyEvent {
  const at = new Date(1_700_000_000_000 + n * 1000).toISOString()
  return { v: 1, type: 'media.received', at, actor: 'user:01900000-0000-7000-8000-000000000001', sha256: createHash('sha256').update(`o${n}`).digest('hex'), byteLength: 2_000_000 + n, mediaType: 'image/jpeg', receivedAt: at }
}

/** The reference rows: the same columns and bodies, no tree. */
async function plainInsert(db: DialectAdapter, from: number, count: number): Promise<void> {
  await db.writeTransaction(async (trx) => {
    const rows = Array.from({ length: count }, (_, j) => {
      const body = encodeCustodyEvent(event(from + j))
      return { idx: from + j, leaf_hash: leafHash(body).toString('hex'), body: body.toString('utf8'), created_at: Date.now() }
    })
    await sql`insert into bench_plain (idx, leaf_hash, body, created_at) values ${sql.join(rows.map((r) => sql`(${r.idx}, ${r.leaf_hash}, ${r.body}, ${r.created_at})`))}`.execute(trx)
  })
}

async function rate(label: string, count: number, fn: () => Promise<void>): Promise<number> {
  const started = performance.now()
  await fn()
  const seconds = (performance.now() - started) / 1000
  progress(`${label}: ${count} in ${seconds.toFixed(2)} s`)
  return count / seconds
}

/**
 * Times `ours` and `reference` alternately, question by question, so drift on a shared machine (other
 * processes, page cache) hits both alike; a full warm-up pass over other questions first, so the figure is
 * the steady state of a server that has been answering proofs, not the first touch of each page.
 */
async function timePair(n: number, ours: (i: number) => Promise<unknown>, reference: (i: number) => Promise<unknown>): Promise<{ ours: Summary; reference: Summary }> {
  for (let i = 0; i < WARMUP; i++) {
    await ours(n + i)
    await reference(n + i)
  }
  const a: number[] = []
  const b: number[] = []
  for (let i = 0; i < n; i++) {
    let t = performance.now()
    await ours(i)
    a.push(performance.now() - t)
    t = performance.now()
    await reference(i)
    b.push(performance.now() - t)
  }
  return { ours: summarize(a), reference: summarize(b) }
}

/** Deterministic spread of positions (a fixed-seed LCG), so runs ask the same questions. */
function positions(n: number, below: number, seed: number): number[] {
  let x = seed
  return Array.from({ length: n }, () => {
    x = (x * 1103515245 + 12345) % 2 ** 31
    return Math.floor((x / 2 ** 31) * below)
  })
}

function timeFigure(bench: string, ours: Summary, reference: Summary, stat: 'p50' | 'p99', params: Record<string, unknown>) {
  return { bench, value: round(ours[stat], 4), reference: round(reference[stat], 4), ratio: round(reference[stat] / ours[stat]), unit: 'ms', params }
}

export async function run(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'louder-bench-locker-'))
  const db = await openDatabase({ dataDir, databaseUrl: null })
  try {
    const store = makeStore(db)
    await sql`create table bench_plain (idx bigint primary key, leaf_hash text not null, body text not null, created_at bigint not null)`.execute(db.kysely)
    const common = { dialect: 'sqlite', synchronous: 'FULL', cpus: cpus().length, node: process.version }

    // Alternating halves, so drift on a shared machine hits ours and the reference alike.
    let ours = 0
    let plain = 0
    let oursTime = 0
    let plainTime = 0
    for (let half = 0; half < 2; half++) {
      const n = SINGLE_APPENDS / 2
      let t = performance.now()
      for (let i = 0; i < n; i++) await store.transaction((repos) => appendCustodyEvent(repos, event(ours + i)))
      oursTime += performance.now() - t
      ours += n
      t = performance.now()
      for (let i = 0; i < n; i++) await plainInsert(db, plain + i, 1)
      plainTime += performance.now() - t
      plain += n
    }
    progress(`one per transaction: ${SINGLE_APPENDS} appends in ${(oursTime / 1000).toFixed(2)} s, plain ${(plainTime / 1000).toFixed(2)} s`)
    const single = SINGLE_APPENDS / (oursTime / 1000)
    const singleRef = SINGLE_APPENDS / (plainTime / 1000)
    report({ bench: 'locker-log-append-single', value: round(single, 1), reference: round(singleRef, 1), ratio: round(single / singleRef), unit: 'events/s', params: { ...common, events: SINGLE_APPENDS, perTransaction: 1, reference: 'plain INSERT of the same row into a table of the same shape, one per transaction' } })

    let batchTime = 0
    let plainBatchTime = 0
    for (let b = 0; b < BATCHES; b++) {
      let t = performance.now()
      const from = ours
      await store.transaction((repos) => appendCustodyEvents(repos, Array.from({ length: BATCH }, (_, j) => event(from + j))))
      batchTime += performance.now() - t
      ours += BATCH
      t = performance.now()
      await plainInsert(db, plain, BATCH)
      plainBatchTime += performance.now() - t
      plain += BATCH
    }
    const batched = (BATCHES * BATCH) / (batchTime / 1000)
    const batchedRef = (BATCHES * BATCH) / (plainBatchTime / 1000)
    progress(`batches of ${BATCH}: ${BATCHES * BATCH} in ${(batchTime / 1000).toFixed(2)} s, plain ${(plainBatchTime / 1000).toFixed(2)} s`)
    report({ bench: 'locker-log-append-batch', value: round(batched, 1), reference: round(batchedRef, 1), ratio: round(batched / batchedRef), unit: 'events/s', params: { ...common, events: BATCHES * BATCH, perTransaction: BATCH, reference: 'plain multi-row INSERT of the same rows, same batches' } })

    // The rest of the million through the bulk path (the same appendCustodyEvents, large batches).
    const bulkFrom = ours
    const bulkRate = await rate(`bulk build to ${LEAVES} leaves`, LEAVES - bulkFrom, async () => {
      for (let from = bulkFrom; from < LEAVES; from += BULK_BATCH) {
        const count = Math.min(BULK_BATCH, LEAVES - from)
        await store.transaction((repos) => appendCustodyEvents(repos, Array.from({ length: count }, (_, j) => event(from + j))))
        if ((from - bulkFrom) % 200_000 === 0) progress(`  ${from + count} leaves`)
      }
    })
    ours = LEAVES
    const root = await rootAt(store.repos, LEAVES)
    await sql`pragma optimize`.execute(db.kysely)

    const leafIdx = positions(PROOFS + WARMUP, LEAVES, 7)
    const read = (i: number) => store.repos.custodyLog.entry(leafIdx[i]!)
    const proofs: { index: number; leaf: Buffer; hashes: Buffer[] }[] = []
    const inclusion = await timePair(
      PROOFS,
      async (i) => {
        const p = await inclusionProof(store.repos, leafIdx[i]!, LEAVES)
        if (i < PROOFS) proofs.push({ index: p.index, leaf: p.leafHash, hashes: p.hashes })
      },
      read,
    )
    for (const p of proofs) if (!verifyInclusion(p.index, LEAVES, p.leaf, p.hashes, root)) throw new Error(`inclusion proof of ${p.index} does not verify`)
    const froms = positions(PROOFS + WARMUP, LEAVES - 1, 11).map((x) => x + 1)
    const consistency = await timePair(PROOFS, (i) => consistencyProof(store.repos, froms[i]!, LEAVES), read)
    for (const from of froms.slice(0, 50)) {
      const { hashes } = await consistencyProof(store.repos, from, LEAVES)
      if (!verifyConsistency(from, LEAVES, await rootAt(store.repos, from), root, hashes)) throw new Error(`consistency proof from ${from} does not verify`)
    }
    progress(`inclusion p50 ${inclusion.ours.p50.toFixed(3)} ms p99 ${inclusion.ours.p99.toFixed(3)} ms; consistency p50 ${consistency.ours.p50.toFixed(3)} ms p99 ${consistency.ours.p99.toFixed(3)} ms`)
    const params = { ...common, leaves: LEAVES, proofs: PROOFS, warmup: WARMUP, bulkBuildEventsPerSecond: round(bulkRate, 1), reference: 'one primary-key read of one leaf row (repos.custodyLog.entry)', target_ms: PROOF_TARGET_MS }
    for (const stat of ['p50', 'p99'] as const) {
      report(timeFigure(`locker-log-inclusion-${stat}`, inclusion.ours, inclusion.reference, stat, { ...params, met: inclusion.ours[stat] < PROOF_TARGET_MS }))
      report(timeFigure(`locker-log-consistency-${stat}`, consistency.ours, consistency.reference, stat, params))
    }
  } finally {
    await db.close()
    await rm(dataDir, { recursive: true, force: true })
  }
  await runIngest()
}
