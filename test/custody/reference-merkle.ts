/**
 * RFC 9162 §2.1 written out as literally as possible over an array of leaf hashes, with no storage and no
 * shortcuts: the reference the stored-subtree implementation is compared against.
 */
import { createHash } from 'node:crypto'

const sha = (...parts: Uint8Array[]) => {
  const h = createHash('sha256')
  for (const p of parts) h.update(p)
  return h.digest()
}
const k = (n: number) => {
  let x = 1
  while (x * 2 < n) x *= 2
  return x
}

export const refLeaf = (data: Uint8Array) => sha(Buffer.from([0]), data)

/** MTH(D[n]) over leaf hashes. */
export function refRoot(d: Buffer[]): Buffer {
  if (d.length === 0) return sha()
  if (d.length === 1) return d[0]!
  const s = k(d.length)
  return sha(Buffer.from([1]), refRoot(d.slice(0, s)), refRoot(d.slice(s)))
}

/** PATH(m, D[n]). */
export function refPath(m: number, d: Buffer[]): Buffer[] {
  if (d.length <= 1) return []
  const s = k(d.length)
  return m < s ? [...refPath(m, d.slice(0, s)), refRoot(d.slice(s))] : [...refPath(m - s, d.slice(s)), refRoot(d.slice(0, s))]
}

/** PROOF(m, D[n]) = SUBPROOF(m, D[n], true). */
export function refProof(m: number, d: Buffer[]): Buffer[] {
  if (m === 0 || m === d.length) return []
  return subproof(m, d, true)
}

function subproof(m: number, d: Buffer[], b: boolean): Buffer[] {
  if (m === d.length) return b ? [] : [refRoot(d)]
  const s = k(d.length)
  return m <= s ? [...subproof(m, d.slice(0, s), b), refRoot(d.slice(s))] : [...subproof(m - s, d.slice(s), false), refRoot(d.slice(0, s))]
}
