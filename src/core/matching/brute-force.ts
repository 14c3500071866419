import { HASH_WORDS, popcount32 } from './hash256.ts'

/**
 * The baseline exact search: every packed hash against the query, word by word, giving up on a hash as soon
 * as its running distance passes the limit. Calls `hit(slot, distance)` for each slot within `maxDistance`
 * that `accept` lets through.
 */
export function bruteForceScan(words: Uint32Array, from: number, to: number, query: Uint32Array, maxDistance: number, accept: (slot: number) => boolean, hit: (slot: number, distance: number) => void): void {
  const q0 = query[0]!, q1 = query[1]!, q2 = query[2]!, q3 = query[3]!, q4 = query[4]!, q5 = query[5]!, q6 = query[6]!, q7 = query[7]!
  for (let slot = from, at = from * HASH_WORDS; slot < to; slot++, at += HASH_WORDS) {
    let d = popcount32(words[at]! ^ q0) + popcount32(words[at + 1]! ^ q1) + popcount32(words[at + 2]! ^ q2) + popcount32(words[at + 3]! ^ q3)
    if (d > maxDistance) continue
    d += popcount32(words[at + 4]! ^ q4) + popcount32(words[at + 5]! ^ q5) + popcount32(words[at + 6]! ^ q6) + popcount32(words[at + 7]! ^ q7)
    if (d <= maxDistance && accept(slot)) hit(slot, d)
  }
}
