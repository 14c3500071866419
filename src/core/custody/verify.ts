import { HASH_BYTES, isPowerOfTwo, MAX_TREE_SIZE, nodeHash } from './merkle.ts'

/**
 * Proof verification exactly as RFC 9162 §2.1.3.2 and §2.1.4.2 write it, step for step, so anyone can
 * check it against the RFC. Sizes are safe integers; "LSB" and "right-shift" are `% 2` and halving, since
 * JavaScript's bit operators work on 32 bits and a log may grow past 2^32 leaves.
 */
const lsb = (n: number) => n % 2 === 1
const half = (n: number) => Math.floor(n / 2)

function isSize(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0 && n <= MAX_TREE_SIZE
}

function isHash(h: Uint8Array): boolean {
  return h.length === HASH_BYTES
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0
}

/** RFC 9162 §2.1.3.2: does `proof` show the leaf with hash `leaf` at `index` in the tree of `size` with `root`? */
export function verifyInclusion(index: number, size: number, leaf: Uint8Array, proof: readonly Uint8Array[], root: Uint8Array): boolean {
  if (!isSize(index) || !isSize(size) || !isHash(leaf) || !isHash(root) || !proof.every(isHash)) return false
  // 1. If leaf_index is greater than or equal to tree_size, then fail.
  if (index >= size) return false
  // 2. Set fn to leaf_index and sn to tree_size - 1.
  let fn = index
  let sn = size - 1
  // 3. Set r to hash.
  let r: Uint8Array = leaf
  // 4. For each value p in the inclusion_path array:
  for (const p of proof) {
    // If sn is 0, then stop the iteration and fail the proof verification.
    if (sn === 0) return false
    if (lsb(fn) || fn === sn) {
      r = nodeHash(p, r)
      // If LSB(fn) is not set, then right-shift both fn and sn equally until either LSB(fn) is set or fn is 0.
      if (!lsb(fn))
        while (!lsb(fn) && fn !== 0) {
          fn = half(fn)
          sn = half(sn)
        }
    } else {
      r = nodeHash(r, p)
    }
    // Finally, right-shift both fn and sn one time.
    fn = half(fn)
    sn = half(sn)
  }
  // 5. Compare sn to 0. Compare r against the root_hash.
  return sn === 0 && equal(r, root)
}

/**
 * RFC 9162 §2.1.4.2: is the tree of `secondSize` with `secondRoot` an append-only extension of the tree of
 * `firstSize` with `firstRoot`? The RFC's algorithm covers 0 < first < second; the two edges it leaves out
 * are settled as RFC 6962 implementations do: equal sizes need an empty proof and equal roots, and every
 * tree extends the empty tree (with an empty proof: there is nothing to prove).
 */
export function verifyConsistency(firstSize: number, secondSize: number, firstRoot: Uint8Array, secondRoot: Uint8Array, proof: readonly Uint8Array[]): boolean {
  if (!isSize(firstSize) || !isSize(secondSize) || !isHash(firstRoot) || !isHash(secondRoot) || !proof.every(isHash)) return false
  if (firstSize > secondSize) return false
  if (firstSize === secondSize) return proof.length === 0 && equal(firstRoot, secondRoot)
  if (firstSize === 0) return proof.length === 0
  // 1. If consistency_path is an empty array, then stop and fail the proof verification.
  if (proof.length === 0) return false
  // 2. If first is an exact power of 2, then prepend first_hash to the consistency_path array.
  const path = isPowerOfTwo(firstSize) ? [firstRoot, ...proof] : [...proof]
  // 3. Set fn to first - 1 and sn to second - 1.
  let fn = firstSize - 1
  let sn = secondSize - 1
  // 4. If LSB(fn) is set, then right-shift both fn and sn equally until LSB(fn) is not set.
  while (lsb(fn)) {
    fn = half(fn)
    sn = half(sn)
  }
  // 5. Set both fr and sr to the first value in the consistency_path array.
  let fr: Uint8Array = path[0]!
  let sr: Uint8Array = path[0]!
  // 6. For each subsequent value c in the consistency_path array:
  for (const c of path.slice(1)) {
    // If sn is 0, then stop the iteration and fail the proof verification.
    if (sn === 0) return false
    if (lsb(fn) || fn === sn) {
      fr = nodeHash(c, fr)
      sr = nodeHash(c, sr)
      // If LSB(fn) is not set, then right-shift both fn and sn equally until either LSB(fn) is set or fn is 0.
      if (!lsb(fn))
        while (!lsb(fn) && fn !== 0) {
          fn = half(fn)
          sn = half(sn)
        }
    } else {
      sr = nodeHash(sr, c)
    }
    // Finally, right-shift both fn and sn one time.
    fn = half(fn)
    sn = half(sn)
  }
  // 7. Verify that fr equals first_hash, sr equals second_hash, and sn is 0.
  return equal(fr, firstRoot) && equal(sr, secondRoot) && sn === 0
}
