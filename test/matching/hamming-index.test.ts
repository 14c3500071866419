/**
 * The multi-index search returns exactly what a brute-force scan returns (property tests with planted
 * near-duplicates at every distance up to 31 and beyond), through adds, removes and rebuilds.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createHammingIndex, type HammingIndex, type IndexedHash } from '../../src/core/matching/hamming-index.ts'
import { hammingDistance, hexToWords, wordsToHex } from '../../src/core/matching/hash256.ts'

/** A deterministic generator (xorshift32), so a failing case can be replayed from its seed. */
function rng(seed: number): () => number {
  let x = seed | 0 || 1
  return () => {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    return x >>> 0
  }
}

function randomHash(next: () => number): string {
  return wordsToHex(Uint32Array.from({ length: 8 }, next))
}

/** `hash` with exactly `bits` distinct bits flipped. */
function flip(hash: string, bits: number, next: () => number): string {
  const words = hexToWords(hash)
  const chosen = new Set<number>()
  while (chosen.size < bits) chosen.add(next() % 256)
  for (const b of chosen) words[b >> 5]! ^= 1 << (b & 31)
  return wordsToHex(words)
}

function key(m: { mediaSha256: string; frameMs: number | null; distance: number; transform: string }): string {
  return `${m.mediaSha256}@${m.frameMs}:${m.distance}:${m.transform}`
}

function fill(entries: IndexedHash[], minTail: number): { mih: HammingIndex; brute: HammingIndex } {
  const mih = createHammingIndex({ minTail })
  const brute = createHammingIndex({ strategy: 'brute' })
  for (const e of entries) {
    mih.add(e)
    brute.add(e)
  }
  return { mih, brute }
}

describe('HammingIndex', () => {
  it('multi-index search returns exactly the brute-force set, for d up to 31 and beyond', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.integer({ min: 0, max: 48 }), fc.integer({ min: 64, max: 2000 }), (seed, d, n) => {
        const next = rng(seed)
        const centres = Array.from({ length: 5 }, () => randomHash(next))
        const entries: IndexedHash[] = []
        for (let i = 0; i < n; i++) {
          // A third are planted near a centre, at distances spread over 0…40 (both sides of the threshold).
          const hash = i % 3 === 0 ? flip(centres[i % 5]!, next() % 41, next) : randomHash(next)
          entries.push({ mediaSha256: `m${i % 997}`, frameMs: i % 2 ? i * 1000 : null, hash, quality: 50 + (next() % 51) })
        }
        // A small tail threshold so these sizes exercise tables, tail and rebuilds together.
        const { mih, brute } = fill(entries, 150)
        for (const c of centres) {
          const q = flip(c, next() % 6, next)
          const expected = brute.query(q, d).map(key)
          expect(mih.query(q, d).map(key)).toEqual(expected)
          for (const m of mih.query(q, d)) expect(hammingDistance(m.hash, q)).toBe(m.distance)
        }
      }),
      { numRuns: 25 },
    )
  })

  it('stays exact through removals, compaction and re-adds', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), (seed) => {
        const next = rng(seed)
        const centre = randomHash(next)
        const entries = Array.from({ length: 1500 }, (_, i) => ({ mediaSha256: `m${i % 300}`, frameMs: i, hash: i % 2 ? flip(centre, next() % 40, next) : randomHash(next), quality: 80 }))
        const { mih, brute } = fill(entries, 64)
        for (let k = 0; k < 200; k++) {
          const sha = `m${next() % 300}`
          expect(mih.remove(sha)).toBe(brute.remove(sha))
        }
        for (const e of entries.slice(0, 100)) {
          mih.add(e)
          brute.add(e)
        }
        expect(mih.size).toBe(brute.size)
        expect(mih.query(centre, 31).map(key)).toEqual(brute.query(centre, 31).map(key))
      }),
      { numRuns: 10 },
    )
  })

  it('stays exact while rebuilds are paused (start-up loading), and after they resume', () => {
    const next = rng(99)
    const centre = randomHash(next)
    const entries = Array.from({ length: 5000 }, (_, i) => ({ mediaSha256: `m${i}`, frameMs: null, hash: i % 2 ? flip(centre, next() % 40, next) : randomHash(next), quality: 90 }))
    const mih = createHammingIndex({ minTail: 100 })
    const brute = createHammingIndex({ strategy: 'brute' })
    const resume = mih.pauseRebuilds()
    for (const e of entries) {
      mih.add(e)
      brute.add(e)
    }
    expect(mih.query(centre, 31).map(key)).toEqual(brute.query(centre, 31).map(key))
    resume()
    expect(mih.query(centre, 31).map(key)).toEqual(brute.query(centre, 31).map(key))
  })

  it('keeps hashes of quality ≤ 49 but never returns them', () => {
    const index = createHammingIndex()
    const hash = 'f'.repeat(64)
    index.add({ mediaSha256: 'low', frameMs: null, hash, quality: 49 })
    index.add({ mediaSha256: 'ok', frameMs: null, hash, quality: 50 })
    expect(index.size).toBe(2)
    expect(index.query(hash, 0).map((m) => m.mediaSha256)).toEqual(['ok'])
    expect(index.remove('low')).toBe(1)
    expect(index.size).toBe(1)
  })

  it('sorts by distance and reports the dihedral transform that matched', () => {
    const next = rng(7)
    const index = createHammingIndex()
    const a = randomHash(next)
    const rotated = randomHash(next)
    index.add({ mediaSha256: 'far', frameMs: null, hash: flip(a, 20, next), quality: 90 })
    index.add({ mediaSha256: 'near', frameMs: 4000, hash: flip(a, 3, next), quality: 90 })
    index.add({ mediaSha256: 'turned', frameMs: null, hash: flip(rotated, 5, next), quality: 90 })
    const variants = { original: a, rotate90: rotated, rotate180: randomHash(next), rotate270: randomHash(next), flipX: randomHash(next), flipY: randomHash(next), flipPlus1: randomHash(next), flipMinus1: randomHash(next) }
    expect(index.query(a, 31).map((m) => [m.mediaSha256, m.distance, m.transform])).toEqual([
      ['near', 3, 'original'],
      ['far', 20, 'original'],
    ])
    expect(index.query(variants, 31, { dihedral: true }).map((m) => [m.mediaSha256, m.distance, m.transform])).toEqual([
      ['near', 3, 'original'],
      ['turned', 5, 'rotate90'],
      ['far', 20, 'original'],
    ])
    expect(() => index.query(a, 31, { dihedral: true })).toThrow(/eight hashes/)
    expect(() => index.query(a, 300)).toThrow(RangeError)
    expect(() => index.add({ mediaSha256: 'x', frameMs: null, hash: 'nope', quality: 90 })).toThrow(/not a PDQ hash/)
  })
})
