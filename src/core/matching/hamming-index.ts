/**
 * The exact index over every stored PDQ hash (image hashes and video-frame hashes): "everything within
 * Hamming distance d of this hash", with no missed matches. Multi-index hashing answers from tables built over
 * most hashes; the newest sit in a tail scanned by brute force until the tables are rebuilt with them.
 * Removed hashes are tombstoned and compacted away at a rebuild. Hashes of quality ≤ 49 are kept (so they
 * count, and go when their media item goes) but never returned: PDQ says they are too featureless to match.
 */
import { bruteForceScan } from './brute-force.ts'
import { DIHEDRAL_TRANSFORMS, type DihedralTransform } from './dihedral.ts'
import { distanceAt, HASH_WORDS, hexToWords, isPdqHex, wordsToHex } from './hash256.ts'
import { buildTables, CHUNKS, forEachCandidate, MAX_CHUNK_RADIUS, type MultiIndexTables } from './multi-index.ts'
import { MAX_UNMATCHABLE_QUALITY } from './pdq.ts'

export interface IndexedHash {
  /** The media item (SHA-256 hex of its original bytes). */
  mediaSha256: string
  /** null for an image; the frame's time in a video, in milliseconds. */
  frameMs: number | null
  hash: string
  quality: number
}

export interface HashMatch extends IndexedHash {
  distance: number
  /** Which rotation or flip of the query matched ('original' unless the query asked for dihedral matching). */
  transform: DihedralTransform
}

/** A query hash, or the eight hashes of its rotations and flips (pdqDihedral) for dihedral matching. */
export type QueryHash = string | Record<DihedralTransform, string>

export interface HammingIndexOptions {
  /** 'brute' scans every hash for every query: the baseline, and the reference the tests compare against. */
  strategy?: 'mih' | 'brute'
  /** Tail length that triggers a rebuild, at least; it may also grow to 1/32 of the indexed hashes. */
  minTail?: number
}

export interface HammingIndex {
  add(entry: IndexedHash): void
  /** Drops every hash of the media item; returns how many there were. */
  remove(mediaSha256: string): number
  /** Matches within `maxDistance` (0–256), nearest first, then by media item and frame time. */
  query(hash: QueryHash, maxDistance: number, opts?: { dihedral?: boolean }): HashMatch[]
  /** Hashes held, matchable or not. */
  readonly size: number
  /**
   * Stops folding new hashes into the tables until the returned function is called (which folds them in
   * once): loading a million hashes at start-up then costs one table build instead of dozens. Queries stay
   * exact meanwhile (the tail is scanned).
   */
  pauseRebuilds(): () => void
  /** The packed words of slots 0 … slots−1 (8 per hash), for benchmarks' memory-floor reference. */
  packed(): { words: Uint32Array; slots: number }
}

export function createHammingIndex(options: HammingIndexOptions = {}): HammingIndex {
  const strategy = options.strategy ?? 'mih'
  const minTail = options.minTail ?? 4096
  let capacity = 1024
  let words = new Uint32Array(capacity * HASH_WORDS)
  let seen = new Uint32Array(capacity)
  let stamp = 0
  let flags = new Uint8Array(capacity) // bit 0: alive, bit 1: matchable
  let shas: string[] = []
  let frames: (number | null)[] = []
  let qualities: number[] = []
  let slots = 0
  let live = 0
  let dead = 0
  const bySha = new Map<string, number[]>()
  let tables: MultiIndexTables | null = null
  let built = 0 // slots [0, built) are in the tables (when matchable and alive)
  let paused = 0
  const ALIVE = 1
  const MATCHABLE = 2

  function grow(): void {
    capacity *= 2
    const w = new Uint32Array(capacity * HASH_WORDS)
    w.set(words)
    words = w
    const f = new Uint8Array(capacity)
    f.set(flags)
    flags = f
    seen = new Uint32Array(capacity)
    stamp = 0
  }

  /** Drops tombstones (renumbering slots) when they are a quarter of the slots, then indexes everything. */
  function rebuild(): void {
    if (dead > 0 && dead * 4 >= slots) compact()
    const matchable: number[] = []
    for (let s = 0; s < slots; s++) if (flags[s] === (ALIVE | MATCHABLE)) matchable.push(s)
    tables = buildTables(words, Uint32Array.from(matchable))
    built = slots
  }

  function compact(): void {
    let to = 0
    const nextShas: string[] = []
    const nextFrames: (number | null)[] = []
    const nextQualities: number[] = []
    bySha.clear()
    for (let from = 0; from < slots; from++) {
      if (!(flags[from]! & ALIVE)) continue
      if (to !== from) {
        words.copyWithin(to * HASH_WORDS, from * HASH_WORDS, (from + 1) * HASH_WORDS)
        flags[to] = flags[from]!
      }
      nextShas.push(shas[from]!)
      nextFrames.push(frames[from]!)
      nextQualities.push(qualities[from]!)
      const list = bySha.get(shas[from]!)
      if (list) list.push(to)
      else bySha.set(shas[from]!, [to])
      to++
    }
    flags.fill(0, to, slots)
    shas = nextShas
    frames = nextFrames
    qualities = nextQualities
    slots = to
    dead = 0
  }

  function searchOne(query: Uint32Array, maxDistance: number, hit: (slot: number, distance: number) => void): void {
    const isMatchable = (slot: number) => flags[slot] === (ALIVE | MATCHABLE)
    if (strategy === 'brute' || Math.floor(maxDistance / CHUNKS) > MAX_CHUNK_RADIUS || !tables) {
      bruteForceScan(words, 0, slots, query, maxDistance, isMatchable, hit)
      return
    }
    if (++stamp === 0xffffffff) {
      seen.fill(0)
      stamp = 1
    }
    const mark = stamp
    forEachCandidate(tables, query, maxDistance, (slot) => {
      if (seen[slot] === mark) return
      seen[slot] = mark
      if (!isMatchable(slot)) return
      const d = distanceAt(words, slot * HASH_WORDS, query, 0)
      if (d <= maxDistance) hit(slot, d)
    })
    bruteForceScan(words, built, slots, query, maxDistance, isMatchable, hit)
  }

  return {
    add(entry) {
      if (!isPdqHex(entry.hash)) throw new RangeError(`not a PDQ hash: ${JSON.stringify(entry.hash.slice(0, 80))}`)
      if (slots === capacity) grow()
      const slot = slots++
      hexToWords(entry.hash, words, slot * HASH_WORDS)
      flags[slot] = ALIVE | (entry.quality > MAX_UNMATCHABLE_QUALITY ? MATCHABLE : 0)
      shas[slot] = entry.mediaSha256
      frames[slot] = entry.frameMs
      qualities[slot] = entry.quality
      const list = bySha.get(entry.mediaSha256)
      if (list) list.push(slot)
      else bySha.set(entry.mediaSha256, [slot])
      live++
      if (strategy === 'mih' && !paused && slots - built > Math.max(minTail, built / 32)) rebuild()
    },
    remove(mediaSha256) {
      const list = bySha.get(mediaSha256)
      if (!list) return 0
      for (const slot of list) flags[slot] = 0
      bySha.delete(mediaSha256)
      live -= list.length
      dead += list.length
      if (strategy === 'mih' && !paused && dead > minTail && dead * 4 >= slots) rebuild()
      return list.length
    },
    query(hash, maxDistance, opts = {}) {
      if (!Number.isInteger(maxDistance) || maxDistance < 0 || maxDistance > 256) throw new RangeError('maxDistance must be an integer 0–256')
      let probes: [DihedralTransform, string][]
      if (typeof hash === 'string') {
        if (opts.dihedral) throw new TypeError('dihedral matching needs the eight hashes of the query (pdqDihedral), not one')
        probes = [['original', hash]]
      } else probes = opts.dihedral ? DIHEDRAL_TRANSFORMS.map((t) => [t, hash[t]]) : [['original', hash.original]]
      // Per slot, the nearest transform (the first in DIHEDRAL_TRANSFORMS order on a tie).
      const best = new Map<number, { distance: number; transform: DihedralTransform }>()
      for (const [transform, hex] of probes) {
        const q = hexToWords(hex)
        searchOne(q, maxDistance, (slot, distance) => {
          const prior = best.get(slot)
          if (!prior || distance < prior.distance) best.set(slot, { distance, transform })
        })
      }
      const matches: HashMatch[] = []
      for (const [slot, { distance, transform }] of best)
        matches.push({ mediaSha256: shas[slot]!, frameMs: frames[slot]!, hash: wordsToHex(words, slot * HASH_WORDS), quality: qualities[slot]!, distance, transform })
      return matches.sort(
        (a, b) => a.distance - b.distance || (a.mediaSha256 < b.mediaSha256 ? -1 : a.mediaSha256 > b.mediaSha256 ? 1 : 0) || (a.frameMs ?? -1) - (b.frameMs ?? -1),
      )
    },
    get size() {
      return live
    },
    pauseRebuilds() {
      paused++
      let resumed = false
      return () => {
        if (resumed) return
        resumed = true
        if (--paused === 0 && strategy === 'mih' && (slots > built || dead > 0) && slots > minTail) rebuild()
      }
    },
    packed() {
      return { words: words.subarray(0, slots * HASH_WORDS), slots }
    },
  }
}
