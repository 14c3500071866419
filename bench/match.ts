/**
 * `npm run bench -- match`: (a) exact PDQ search at distance 31 over 1,000,000 hashes (random, plus clusters
 * of planted near-duplicates), multi-index hashing against a brute-force scan and against the memory floor
 * (one sequential pass summing the same packed words), all in this run, with recall checked against brute
 * force; (b) hashing throughput (decode + PDQ) against sharp's decode and resize of the same images alone.
 * bench/README.md describes every figure.
 *
 * LOUDER_BENCH_HASHES shrinks part (a) while working on the bench; figures are only comparable at the default.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { createHammingIndex } from '../src/core/matching/hamming-index.ts'
import { hashMedia } from '../src/core/matching/hash-media.ts'
import { wordsToHex } from '../src/core/matching/hash256.ts'
import { makeMediaDecoder } from '../src/media/media-decoder.ts'
import { decodeImageForPdq } from '../src/media/sharp-image.ts'
import { progress, report, round, type Summary, summarize } from './report.ts'

const HASHES = Number(process.env.LOUDER_BENCH_HASHES ?? 1_000_000)
const CLUSTERS = Math.floor(HASHES / 100)
const PER_CLUSTER = 9
const DISTANCE = 31
const QUERIES = 500
const NEAR_QUERIES = 400
const WARMUP = 50
const P50_TARGET_MS = 5
const HASH_ROUNDS = 6
const FIXTURES = join(import.meta.dirname, '..', 'test', 'fixtures', 'pdq')

export async function run(): Promise<void> {
  await searchBench()
  await hashingBench()
}

/** xorshift32: a fixed seed, so every run searches the same collection. */
function rng(seed: number): () => number {
  let x = seed
  return () => {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    return x >>> 0
  }
}

function flipBits(words: Uint32Array, bits: number, next: () => number): Uint32Array {
  const out = Uint32Array.from(words)
  const chosen = new Set<number>()
  while (chosen.size < bits) chosen.add(next() % 256)
  for (const b of chosen) out[b >> 5]! ^= 1 << (b & 31)
  return out
}

async function searchBench(): Promise<void> {
  const next = rng(0x9e3779b9)
  const mih = createHammingIndex()
  const brute = createHammingIndex({ strategy: 'brute' })
  const centres: Uint32Array[] = []
  const started = performance.now()
  const resume = mih.pauseRebuilds()
  const add = (i: number, words: Uint32Array) => {
    const entry = { mediaSha256: `m${i}`, frameMs: i % 4 === 0 ? (i % 3600) * 1000 : null, hash: wordsToHex(words), quality: i % 100 === 0 ? 30 : 90 }
    mih.add(entry)
    brute.add(entry)
  }
  let i = 0
  // Clusters: a centre and near-duplicates at 1…31 bits from it (re-encodes, crops, frames of one scene).
  for (let c = 0; c < CLUSTERS; c++) {
    const centre = Uint32Array.from({ length: 8 }, next)
    centres.push(centre)
    add(i++, centre)
    for (let k = 0; k < PER_CLUSTER; k++) add(i++, flipBits(centre, 1 + (next() % DISTANCE), next))
  }
  while (i < HASHES) add(i++, Uint32Array.from({ length: 8 }, next))
  resume()
  progress(`match: ${HASHES} hashes (${CLUSTERS} clusters of ${PER_CLUSTER + 1}) loaded and indexed in ${((performance.now() - started) / 1000).toFixed(1)} s`)

  // Queries: most near a cluster centre (up to 4 bits off, so matches spread over 0…35), some random (no match).
  const queries = Array.from({ length: QUERIES }, (_, q) =>
    wordsToHex(q < NEAR_QUERIES ? flipBits(centres[next() % centres.length]!, next() % 5, next) : Uint32Array.from({ length: 8 }, next)),
  )
  const { words, slots } = mih.packed()
  const floorSum = () => sumWords(words, slots * 8)
  for (let w = 0; w < WARMUP; w++) {
    mih.query(queries[w]!, DISTANCE)
    if (w < 5) {
      brute.query(queries[w]!, DISTANCE)
      floorSum()
    }
  }
  const tMih: number[] = []
  const tBrute: number[] = []
  const tFloor: number[] = []
  let expected = 0
  let found = 0
  let sink = 0
  for (let q = 0; q < QUERIES; q++) {
    // Interleaved, so drift on a shared machine hits all three alike.
    let t = performance.now()
    const ours = mih.query(queries[q]!, DISTANCE)
    tMih.push(performance.now() - t)
    t = performance.now()
    const truth = brute.query(queries[q]!, DISTANCE)
    tBrute.push(performance.now() - t)
    t = performance.now()
    sink ^= floorSum()
    tFloor.push(performance.now() - t)
    const got = new Set(ours.map((m) => `${m.mediaSha256}@${m.frameMs}:${m.distance}`))
    expected += truth.length
    for (const m of truth) if (got.has(`${m.mediaSha256}@${m.frameMs}:${m.distance}`)) found++
    if (ours.length !== truth.length) throw new Error(`query ${q}: multi-index found ${ours.length}, brute force ${truth.length}`)
  }
  if (sink === 0.5) progress('unreachable') // keeps the floor's sum alive
  const recall = expected === 0 ? 1 : found / expected
  if (recall !== 1) throw new Error(`recall ${recall} against brute force: the index missed matches`)
  const mihS = summarize(tMih)
  const bruteS = summarize(tBrute)
  const floorS = summarize(tFloor)
  const common = { hashes: HASHES, clusters: CLUSTERS, per_cluster: PER_CLUSTER + 1, max_distance: DISTANCE, queries: QUERIES, matches_total: expected, node: process.version, cpus: cpus().length }
  const floorRef = { ...common, reference: `one sequential pass summing the ${slots * 8} packed 32-bit words (${(slots * 32) / 1e6} MB): the memory floor` }
  for (const stat of ['p50', 'p99'] as const) {
    const target = stat === 'p50' ? { target_ms: P50_TARGET_MS, meets_target: mihS.p50 < P50_TARGET_MS } : {}
    report(timeFigure(`match-mih-${stat}`, mihS, floorS, stat, { ...floorRef, ...target }))
    report(timeFigure(`match-brute-${stat}`, bruteS, floorS, stat, floorRef))
    report(timeFigure(`match-mih-vs-brute-${stat}`, mihS, bruteS, stat, { ...common, reference: 'brute-force scan of the same index (early exit after 4 of 8 words)' }))
  }
  report({ bench: 'match-recall', value: recall, reference: 1, ratio: recall, unit: 'fraction', params: { ...common, reference: 'brute-force scan over every query' } })
}

async function hashingBench(): Promise<void> {
  const decoder = makeMediaDecoder()
  const images = readdirSync(FIXTURES).filter((f) => f.endsWith('.jpg')).map((f) => readFileSync(join(FIXTURES, f)))
  for (const bytes of images) {
    await hashMedia({ decoder }, bytes, 'image/jpeg')
    await decodeImageForPdq(bytes)
  }
  let ours = 0
  let reference = 0
  for (let r = 0; r < HASH_ROUNDS; r++)
    for (const bytes of images) {
      let t = performance.now()
      await decodeImageForPdq(bytes)
      reference += performance.now() - t
      t = performance.now()
      await hashMedia({ decoder }, bytes, 'image/jpeg')
      ours += performance.now() - t
    }
  const n = HASH_ROUNDS * images.length
  const oursRate = (n * 1000) / ours
  const refRate = (n * 1000) / reference
  report({
    bench: 'match-hash-images',
    value: round(oursRate, 1),
    reference: round(refRate, 1),
    ratio: round(oursRate / refRate),
    unit: 'images/s',
    params: {
      images: images.length,
      rounds: HASH_ROUNDS,
      bytes_total: images.reduce((s, b) => s + b.length, 0),
      reference: "sharp's decode + EXIF rotate + resize to ≤ 512 + raw RGB of the same bytes (decodeImageForPdq), alone",
      ours: 'hashMedia(bytes, image/jpeg): the same decode, then PDQ with its eight dihedral hashes',
      node: process.version,
      cpus: cpus().length,
    },
  })
}

/** The memory floor: read every packed word once, in order, doing as little as possible with it. */
function sumWords(words: Uint32Array, n: number): number {
  let a = 0
  let b = 0
  for (let k = 0; k < n; k += 2) {
    a += words[k]!
    b += words[k + 1]!
  }
  return a + b
}

function timeFigure(bench: string, ours: Summary, reference: Summary, stat: 'p50' | 'p99', params: Record<string, unknown>) {
  return { bench, value: round(ours[stat]), reference: round(reference[stat]), ratio: round(reference[stat] / ours[stat]), unit: 'ms', params }
}
