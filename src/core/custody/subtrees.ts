import { emptyRoot, nodeHash, splitPoint } from './merkle.ts'

/**
 * How the log is stored and read. Every perfect subtree (2^level leaves, starting at index·2^level) is
 * written once, when its last leaf is appended, and never changes. The hash of any range the RFC 9162
 * recursion visits is then the right fold of at most log₂ n such subtrees, so a root, an inclusion proof
 * or a consistency proof at any size needs O(log n) stored hashes, read in one batch.
 */
export interface NodeKey {
  level: number
  index: number
}

/** A range of leaves [start, end) whose Merkle tree hash a proof needs. */
export interface LeafRange {
  start: number
  end: number
}

export const nodeKeyId = (k: NodeKey): string => `${k.level}:${k.index}`

/**
 * The perfect subtrees of [start, end), largest first. The RFC recursion splits at the largest power of two
 * below the size, so its ranges always start at a multiple of their largest piece; a range that does not is
 * not one of its subtrees, and is refused rather than hashed into a root no verifier would compute.
 */
export function perfectPieces(range: LeafRange): NodeKey[] {
  const pieces: NodeKey[] = []
  let start = range.start
  let remaining = range.end - range.start
  let size = 1
  let level = 0
  while (size * 2 <= remaining) {
    size *= 2
    level++
  }
  for (; remaining > 0; size /= 2, level--) {
    if (size > remaining) continue
    if (start % size !== 0) throw new RangeError(`[${range.start}, ${range.end}) is not a subtree of an RFC 9162 tree`)
    pieces.push({ level, index: start / size })
    start += size
    remaining -= size
  }
  return pieces
}

/** Looks up a stored perfect subtree's hash; level 0 are the leaf hashes. */
export type NodeLookup = (key: NodeKey) => Buffer

/** MTH of a range: its pieces folded from the right, H(p1, H(p2, … pk)), as RFC 9162 §2.1.1 defines it. */
export function rangeHash(range: LeafRange, lookup: NodeLookup): Buffer {
  if (range.end === range.start) return emptyRoot()
  const pieces = perfectPieces(range)
  let hash = lookup(pieces[pieces.length - 1]!)
  for (let i = pieces.length - 2; i >= 0; i--) hash = nodeHash(lookup(pieces[i]!), hash)
  return hash
}

/** The ranges whose hashes make the inclusion proof of leaf `index` in the tree of `size` (RFC 9162 §2.1.3.1), leaf end first. */
export function inclusionRanges(index: number, size: number): LeafRange[] {
  if (!(index >= 0 && index < size)) throw new RangeError(`leaf ${index} is not in a tree of ${size}`)
  const ranges: LeafRange[] = []
  let start = 0
  let end = size
  // PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n]) or PATH(m − k, D[k:n]) : MTH(D[0:k]); the sibling comes after the sub-path.
  while (end - start > 1) {
    const k = splitPoint(end - start)
    if (index < start + k) {
      ranges.push({ start: start + k, end })
      end = start + k
    } else {
      ranges.push({ start, end: start + k })
      start += k
    }
  }
  return ranges.reverse()
}

/** The ranges whose hashes make the consistency proof from `from` to `to` (RFC 9162 §2.1.4.1); empty when there is nothing to prove. */
export function consistencyRanges(from: number, to: number): LeafRange[] {
  if (!(from >= 0 && from <= to)) throw new RangeError(`no consistency proof from ${from} to ${to}`)
  if (from === 0 || from === to) return []
  const ranges: LeafRange[] = []
  let start = 0
  let end = to
  let m = from
  let complete = true
  // SUBPROOF(m, D[n], b): the old tree's own hash is included only when it is not the starting tree itself.
  for (;;) {
    if (end - start === m) {
      if (!complete) ranges.push({ start, end })
      break
    }
    const k = splitPoint(end - start)
    if (m <= k) {
      ranges.push({ start: start + k, end })
      end = start + k
    } else {
      ranges.push({ start, end: start + k })
      start += k
      m -= k
      complete = false
    }
  }
  return ranges.reverse()
}

/** Every stored hash the given ranges need, each once. */
export function keysFor(ranges: readonly LeafRange[]): NodeKey[] {
  const seen = new Map<string, NodeKey>()
  for (const r of ranges) for (const k of perfectPieces(r)) seen.set(nodeKeyId(k), k)
  return [...seen.values()]
}

/**
 * The nodes that complete when leaf `index` is appended: its ancestors that become perfect subtrees, with
 * the left siblings each needs. Appending leaf n writes at most log₂ n nodes.
 */
export function completedBy(index: number): { node: NodeKey; left: NodeKey; right: NodeKey }[] {
  const out: { node: NodeKey; left: NodeKey; right: NodeKey }[] = []
  let level = 0
  let i = index
  while (i % 2 === 1) {
    out.push({ node: { level: level + 1, index: (i - 1) / 2 }, left: { level, index: i - 1 }, right: { level, index: i } })
    i = (i - 1) / 2
    level++
  }
  return out
}
