/**
 * Property tests (fast-check): for random trees, every inclusion and consistency proof the log gives equals
 * the literal RFC 9162 recursion and verifies; any single flipped bit in the leaf, a proof hash or a root
 * makes verification fail.
 */
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import { appendCustodyEvent, appendCustodyEvents, consistencyProof, inclusionProof, rootAt } from '../../src/core/custody/custody-log.ts'
import { encodeCustodyEvent } from '../../src/core/custody/custody-event.ts'
import { leafHash } from '../../src/core/custody/merkle.ts'
import { verifyConsistency, verifyInclusion } from '../../src/core/custody/verify.ts'
import { sampleEvent } from './events.ts'
import { memoryCustodyLog } from './memory-log.ts'
import { refPath, refProof, refRoot } from './reference-merkle.ts'

const MAX = 300

function flip(b: Buffer, bit: number): Buffer {
  const c = Buffer.from(b)
  c[Math.floor(bit / 8) % c.length]! ^= 1 << bit % 8
  return c
}

describe('custody log proofs (properties)', () => {
  const log = memoryCustodyLog()
  let leaves: Buffer[] = []

  beforeAll(async () => {
    // Appended in uneven batches, so the batch path and the one-at-a-time path both build the tree.
    for (let n = 0; n < MAX; ) {
      const batch = 1 + (n % 7)
      if (batch === 1) await appendCustodyEvent(log, sampleEvent(n))
      else await appendCustodyEvents(log, Array.from({ length: Math.min(batch, MAX - n) }, (_, j) => sampleEvent(n + j)))
      n += batch
    }
    leaves = Array.from({ length: MAX }, (_, n) => leafHash(encodeCustodyEvent(sampleEvent(n))))
  })

  it('stores exactly the leaves of the events, in order', () => {
    expect(log.entries.map((e) => e.leafHash.toString('hex'))).toEqual(leaves.map((l) => l.toString('hex')))
    // Every perfect subtree is stored once: n − popcount(n) nodes above the leaves.
    const ones = MAX.toString(2).split('').filter((c) => c === '1').length
    expect(log.nodes.size).toBe(MAX - ones)
  })

  it('has the RFC root at every size', async () => {
    for (let size = 0; size <= MAX; size++) expect((await rootAt(log, size)).equals(refRoot(leaves.slice(0, size))), `size ${size}`).toBe(true)
  })

  it('gives inclusion proofs that match the RFC, verify, and fail with any bit flipped', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: MAX }).chain((size) => fc.tuple(fc.constant(size), fc.integer({ min: 0, max: size - 1 }), fc.nat())),
        async ([size, index, bit]) => {
          const root = refRoot(leaves.slice(0, size))
          const proof = await inclusionProof(log, index, size)
          expect(proof.leafHash.equals(leaves[index]!)).toBe(true)
          expect(proof.hashes.map((h) => h.toString('hex'))).toEqual(refPath(index, leaves.slice(0, size)).map((h) => h.toString('hex')))
          expect(verifyInclusion(index, size, proof.leafHash, proof.hashes, root)).toBe(true)
          expect(verifyInclusion(index, size, flip(proof.leafHash, bit), proof.hashes, root)).toBe(false)
          expect(verifyInclusion(index, size, proof.leafHash, proof.hashes, flip(root, bit))).toBe(false)
          if (proof.hashes.length) {
            const at = bit % proof.hashes.length
            const bent = proof.hashes.map((h, i) => (i === at ? flip(h, bit >> 3) : h))
            expect(verifyInclusion(index, size, proof.leafHash, bent, root)).toBe(false)
            // A proof that is too short or too long fails too.
            expect(verifyInclusion(index, size, proof.leafHash, proof.hashes.slice(1), root)).toBe(false)
          }
          expect(verifyInclusion(index, size, proof.leafHash, [...proof.hashes, root], root)).toBe(false)
        },
      ),
      { numRuns: 400 },
    )
  })

  it('gives consistency proofs that match the RFC, verify, and fail with any bit flipped', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: MAX }).chain((to) => fc.tuple(fc.integer({ min: 1, max: to }), fc.constant(to), fc.nat())),
        async ([from, to, bit]) => {
          const first = refRoot(leaves.slice(0, from))
          const second = refRoot(leaves.slice(0, to))
          const { hashes } = await consistencyProof(log, from, to)
          expect(hashes.map((h) => h.toString('hex'))).toEqual(refProof(from, leaves.slice(0, to)).map((h) => h.toString('hex')))
          expect(verifyConsistency(from, to, first, second, hashes)).toBe(true)
          expect(verifyConsistency(from, to, flip(first, bit), second, hashes)).toBe(false)
          expect(verifyConsistency(from, to, first, flip(second, bit), hashes)).toBe(false)
          if (hashes.length) {
            const at = bit % hashes.length
            expect(verifyConsistency(from, to, first, second, hashes.map((h, i) => (i === at ? flip(h, bit >> 3) : h)))).toBe(false)
          }
          // A different older tree (one entry more or less) is not proven by this proof.
          if (from > 1 && from < to) expect(verifyConsistency(from - 1, to, refRoot(leaves.slice(0, from - 1)), second, hashes)).toBe(false)
        },
      ),
      { numRuns: 400 },
    )
  })

  it('refuses impossible questions', async () => {
    expect(verifyInclusion(5, 5, leaves[0]!, [], leaves[0]!)).toBe(false)
    expect(verifyInclusion(-1, 5, leaves[0]!, [], leaves[0]!)).toBe(false)
    expect(verifyInclusion(0, 1, leaves[0]!, [], leaves[0]!)).toBe(true)
    expect(verifyConsistency(3, 2, leaves[0]!, leaves[0]!, [leaves[0]!])).toBe(false)
    expect(verifyConsistency(4, 4, leaves[0]!, leaves[0]!, [])).toBe(true)
    expect(verifyConsistency(4, 4, leaves[0]!, leaves[1]!, [])).toBe(false)
    expect(verifyConsistency(2, 4, leaves[0]!, leaves[1]!, [])).toBe(false)
    await expect(inclusionProof(log, 3, 3)).rejects.toMatchObject({ code: 'validation_failed' })
    await expect(inclusionProof(log, 0, MAX + 1)).rejects.toMatchObject({ code: 'not_found' })
    await expect(consistencyProof(log, 5, 4)).rejects.toMatchObject({ code: 'validation_failed' })
    await expect(consistencyProof(log, 1, MAX + 1)).rejects.toMatchObject({ code: 'not_found' })
  })
})
