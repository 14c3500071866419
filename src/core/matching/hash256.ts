/**
 * A 256-bit PDQ hash as eight 32-bit words, and the Hamming distance between two of them.
 *
 * The hex form is the reference's (facebook/ThreatExchange pdq): 64 hex digits, most significant first, where
 * bit k of the hash (k = row × 16 + column of the 16×16 DCT) is bit k of the 256-bit number. Words are taken
 * from the hex in order (word 0 = the first 8 digits), so the distance of two words arrays is the distance of
 * the hashes whatever the bit order inside.
 */
export const HASH_WORDS = 8
export const HASH_BITS = 256

const HEX = /^[0-9a-f]{64}$/

/** True for a well-formed PDQ hex hash (64 lower-case hex digits, as the reference prints them). */
export function isPdqHex(hex: string): boolean {
  return HEX.test(hex)
}

export function hexToWords(hex: string, out: Uint32Array = new Uint32Array(HASH_WORDS), at = 0): Uint32Array {
  if (!HEX.test(hex)) throw new RangeError(`not a PDQ hash (64 lower-case hex digits): ${JSON.stringify(hex.slice(0, 80))}`)
  for (let w = 0; w < HASH_WORDS; w++) out[at + w] = Number.parseInt(hex.slice(w * 8, w * 8 + 8), 16)
  return out
}

export function wordsToHex(words: Uint32Array, at = 0): string {
  let hex = ''
  for (let w = 0; w < HASH_WORDS; w++) hex += words[at + w]!.toString(16).padStart(8, '0')
  return hex
}

/** Bits set in a 32-bit word (SWAR: JavaScript has no popcount instruction for numbers). */
export function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333)
  x = (x + (x >>> 4)) & 0x0f0f0f0f
  return Math.imul(x, 0x01010101) >>> 24
}

/** Hamming distance between the hash at `a[ai…ai+8)` and the one at `b[bi…bi+8)`. */
export function distanceAt(a: Uint32Array, ai: number, b: Uint32Array, bi: number): number {
  let d = 0
  for (let w = 0; w < HASH_WORDS; w++) d += popcount32(a[ai + w]! ^ b[bi + w]!)
  return d
}

export function hammingDistance(a: string, b: string): number {
  return distanceAt(hexToWords(a), 0, hexToWords(b), 0)
}
