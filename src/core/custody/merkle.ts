import { createHash } from 'node:crypto'

/**
 * RFC 9162 §2.1.1 (= RFC 6962 §2.1) Merkle tree hashing with SHA-256. The one-byte prefixes keep a leaf
 * from ever hashing like an interior node (second-preimage attack on the tree shape).
 */
const LEAF_PREFIX = Buffer.from([0x00])
const NODE_PREFIX = Buffer.from([0x01])

export const HASH_BYTES = 32

/** A tree size or leaf index: a safe integer, so every proof's arithmetic is exact in a JS number. */
export const MAX_TREE_SIZE = Number.MAX_SAFE_INTEGER

export function leafHash(leaf: Uint8Array): Buffer {
  return createHash('sha256').update(LEAF_PREFIX).update(leaf).digest()
}

export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  return createHash('sha256').update(NODE_PREFIX).update(left).update(right).digest()
}

/** MTH({}) = SHA-256 of the empty string (RFC 9162 §2.1.1). */
export function emptyRoot(): Buffer {
  return createHash('sha256').digest()
}

/** The largest power of two strictly less than n (n > 1): where RFC 9162 splits a tree of n leaves. */
export function splitPoint(n: number): number {
  if (!(n > 1)) throw new RangeError(`splitPoint needs n > 1, got ${n}`)
  let k = 1
  while (k * 2 < n) k *= 2
  return k
}

/** True for 1, 2, 4, 8 …: the sizes of perfect subtrees. Arithmetic, not bit operators (those are 32-bit). */
export function isPowerOfTwo(n: number): boolean {
  if (n < 1) return false
  while (n % 2 === 0) n /= 2
  return n === 1
}

/** MTH over leaf hashes held in memory (tests, the bench's check); the log itself reads stored subtrees. */
export function rootOfLeafHashes(leaves: readonly Uint8Array[], start = 0, end = leaves.length): Buffer {
  const n = end - start
  if (n === 0) return emptyRoot()
  if (n === 1) return Buffer.from(leaves[start]!)
  const k = splitPoint(n)
  return nodeHash(rootOfLeafHashes(leaves, start, start + k), rootOfLeafHashes(leaves, start + k, end))
}
