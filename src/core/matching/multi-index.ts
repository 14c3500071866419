/**
 * Multi-index hashing (Norouzi, Punjani, Fleet, "Fast Search in Hamming Space with Multi-Index Hashing",
 * CVPR 2012) over 256-bit hashes: each hash is cut into 16 chunks of 16 bits and each chunk indexes a table.
 * Pigeonhole: if two hashes differ in at most d bits, some chunk differs in at most ⌊d/16⌋ bits, so looking
 * up every chunk of the query and its neighbours within that radius finds every true match (then checked on
 * all 256 bits). At PDQ's threshold (31) the radius is 1: 16 × 17 bucket reads instead of a full scan.
 *
 * The tables are immutable arrays (counting sort into offsets + slot ids): compact and fast to walk. The
 * HammingIndex keeps the newest hashes in a small tail it scans by brute force and rebuilds the tables when
 * the tail grows.
 */
import { HASH_WORDS, popcount32 } from './hash256.ts'

export const CHUNKS = 16
const BUCKETS = 1 << 16

/** The largest per-chunk radius worth enumerating; beyond it a brute-force scan reads less. */
export const MAX_CHUNK_RADIUS = 2

/** Masks of 16 bits with at most `radius` bits set, fewest first. */
const NEIGHBOUR_MASKS: Uint16Array[] = (() => {
  const byRadius: Uint16Array[] = []
  for (let r = 0; r <= MAX_CHUNK_RADIUS; r++) {
    const masks: number[] = []
    for (let m = 0; m < BUCKETS; m++) if (popcount32(m) <= r) masks.push(m)
    masks.sort((a, b) => popcount32(a) - popcount32(b))
    byRadius.push(Uint16Array.from(masks))
  }
  return byRadius
})()

export function chunkOf(words: Uint32Array, at: number, chunk: number): number {
  const w = words[at + (chunk >> 1)]!
  return chunk & 1 ? w & 0xffff : w >>> 16
}

export interface MultiIndexTables {
  /** Per chunk: bucket b's slots are ids[offsets[b] … offsets[b + 1]). */
  offsets: Uint32Array[]
  ids: Uint32Array[]
}

/** Tables over the slots in `slots` (ascending) of the packed `words`. */
export function buildTables(words: Uint32Array, slots: Uint32Array): MultiIndexTables {
  const offsets: Uint32Array[] = []
  const ids: Uint32Array[] = []
  for (let c = 0; c < CHUNKS; c++) {
    const off = new Uint32Array(BUCKETS + 1)
    for (let k = 0; k < slots.length; k++) off[chunkOf(words, slots[k]! * HASH_WORDS, c) + 1]!++
    for (let b = 0; b < BUCKETS; b++) off[b + 1]! += off[b]!
    const fill = off.slice(0, BUCKETS)
    const out = new Uint32Array(slots.length)
    for (let k = 0; k < slots.length; k++) {
      const slot = slots[k]!
      out[fill[chunkOf(words, slot * HASH_WORDS, c)]!++] = slot
    }
    offsets.push(off)
    ids.push(out)
  }
  return { offsets, ids }
}

/**
 * Calls `candidate(slot)` for every slot in the tables whose some chunk lies within ⌊maxDistance/16⌋ of the
 * query's; a slot may come more than once (the caller de-duplicates). Requires ⌊maxDistance/16⌋ ≤ MAX_CHUNK_RADIUS.
 */
export function forEachCandidate(tables: MultiIndexTables, query: Uint32Array, maxDistance: number, candidate: (slot: number) => void): void {
  const radius = Math.floor(maxDistance / CHUNKS)
  if (radius > MAX_CHUNK_RADIUS) throw new RangeError(`multi-index search needs ⌊d/16⌋ ≤ ${MAX_CHUNK_RADIUS}`)
  const masks = NEIGHBOUR_MASKS[radius]!
  for (let c = 0; c < CHUNKS; c++) {
    const key = chunkOf(query, 0, c)
    const off = tables.offsets[c]!
    const ids = tables.ids[c]!
    for (let m = 0; m < masks.length; m++) {
      const b = key ^ masks[m]!
      for (let k = off[b]!, end = off[b + 1]!; k < end; k++) candidate(ids[k]!)
    }
  }
}
