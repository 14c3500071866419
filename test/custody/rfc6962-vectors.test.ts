/**
 * The reference vectors (transparency-dev/merkle, RFC 6962 §2.1), checked three ways: the stored-subtree
 * proofs reproduce them, the RFC 9162 verifiers accept them, and the literal RFC reference agrees.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { consistencyProof, inclusionProof, rootAt } from '../../src/core/custody/custody-log.ts'
import { leafHash } from '../../src/core/custody/merkle.ts'
import { consistencyRanges, inclusionRanges, keysFor, rangeHash, nodeKeyId } from '../../src/core/custody/subtrees.ts'
import { verifyConsistency, verifyInclusion } from '../../src/core/custody/verify.ts'
import type { CustodyEntry } from '../../src/core/custody/custody-log-repository.ts'
import { memoryCustodyLog } from './memory-log.ts'
import { refPath, refProof, refRoot } from './reference-merkle.ts'
import { rootOfLeafHashes } from '../../src/core/custody/merkle.ts'

interface Vectors {
  leaves_hex: string[]
  roots_by_size: { size: number; root: string }[]
  inclusion: { leaf_index: number; tree_size: number; proof: string[] }[]
  consistency: { size1: number; size2: number; proof: string[] }[]
}

const vectors = JSON.parse(readFileSync(new URL('../fixtures/rfc6962/vectors.json', import.meta.url), 'utf8')) as Vectors
const leaves = vectors.leaves_hex.map((h) => leafHash(Buffer.from(h, 'hex')))
const hex = (bs: Buffer[]) => bs.map((b) => b.toString('hex'))
const root = (size: number) => Buffer.from(vectors.roots_by_size.find((r) => r.size === size)!.root, 'hex')

/** A log holding the vectors' leaves, loaded directly (the leaves are raw bytes, not custody events). */
async function vectorLog() {
  const log = memoryCustodyLog()
  const entries: CustodyEntry[] = leaves.map((leafHash, index) => ({ index, leafHash, body: vectors.leaves_hex[index]!, createdAt: 0 }))
  // Every perfect subtree, computed from the leaves as the append path would have written them.
  const nodes = []
  for (let level = 1; 2 ** level <= leaves.length; level++)
    for (let i = 0; (i + 1) * 2 ** level <= leaves.length; i++) nodes.push({ level, index: i, hash: rootOfLeafHashes(leaves, i * 2 ** level, (i + 1) * 2 ** level) })
  await log.custodyLog.insert(entries, nodes)
  return log
}

describe('RFC 6962 reference vectors', () => {
  it('has every vector the file promises', () => {
    expect(vectors.roots_by_size).toHaveLength(9)
    expect(vectors.inclusion.length).toBeGreaterThan(0)
    expect(vectors.consistency.length).toBeGreaterThan(0)
  })

  it('computes every root, from stored subtrees and from the literal RFC recursion', async () => {
    const log = await vectorLog()
    for (const { size, root: expected } of vectors.roots_by_size) {
      expect((await rootAt(log, size)).toString('hex'), `size ${size}`).toBe(expected)
      expect(refRoot(leaves.slice(0, size)).toString('hex'), `reference size ${size}`).toBe(expected)
      const lookup = (k: { level: number; index: number }) => rootOfLeafHashes(leaves, k.index * 2 ** k.level, (k.index + 1) * 2 ** k.level)
      expect(rangeHash({ start: 0, end: size }, lookup).toString('hex')).toBe(expected)
    }
  })

  it('generates and verifies every inclusion proof', async () => {
    const log = await vectorLog()
    for (const v of vectors.inclusion) {
      const label = `leaf ${v.leaf_index} of ${v.tree_size}`
      const proof = await inclusionProof(log, v.leaf_index, v.tree_size)
      expect(hex(proof.hashes), label).toEqual(v.proof)
      expect(hex(refPath(v.leaf_index, leaves.slice(0, v.tree_size))), label).toEqual(v.proof)
      expect(verifyInclusion(v.leaf_index, v.tree_size, leaves[v.leaf_index]!, v.proof.map((h) => Buffer.from(h, 'hex')), root(v.tree_size)), label).toBe(true)
      // The same proof does not prove a neighbouring leaf.
      const other = (v.leaf_index + 1) % v.tree_size
      expect(verifyInclusion(other, v.tree_size, leaves[other]!, v.proof.map((h) => Buffer.from(h, 'hex')), root(v.tree_size)), label).toBe(false)
    }
  })

  it('generates and verifies every consistency proof', async () => {
    const log = await vectorLog()
    for (const v of vectors.consistency) {
      const label = `${v.size1} → ${v.size2}`
      expect(hex((await consistencyProof(log, v.size1, v.size2)).hashes), label).toEqual(v.proof)
      expect(hex(refProof(v.size1, leaves.slice(0, v.size2))), label).toEqual(v.proof)
      expect(verifyConsistency(v.size1, v.size2, root(v.size1), root(v.size2), v.proof.map((h) => Buffer.from(h, 'hex'))), label).toBe(true)
      expect(verifyConsistency(v.size1, v.size2, root(v.size2), root(v.size1), v.proof.map((h) => Buffer.from(h, 'hex'))), `${label} with the roots swapped`).toBe(false)
    }
  })

  it('reads O(log n) stored hashes for any proof', () => {
    for (const size of [1, 2, 3, 7, 8, 1000, 1_000_000, 2 ** 40 + 12345]) {
      const bound = 2 * Math.ceil(Math.log2(size + 1)) + 1
      for (const index of [0, Math.floor(size / 3), size - 1]) expect(keysFor(inclusionRanges(index, size)).length, `inclusion ${index}/${size}`).toBeLessThanOrEqual(bound)
      for (const from of [1, Math.floor(size / 2) || 1, size]) expect(keysFor(consistencyRanges(from, size)).length, `consistency ${from}/${size}`).toBeLessThanOrEqual(bound)
      expect(new Set(keysFor(inclusionRanges(size - 1, size)).map(nodeKeyId)).size).toBeLessThanOrEqual(bound)
    }
  })
})
