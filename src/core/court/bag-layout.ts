/**
 * Where Louder puts its evidence and proofs in a bag's payload. One module, so the exporter, `louder verify`
 * and VERIFY.md cannot disagree; verify.mjs (a stand-alone file for courts) repeats these names by hand.
 */
export const BAG = {
  /** Marks a bag as Louder's and lists what it holds. */
  manifest: 'data/louder.json',
  original: (sha256: string) => `data/originals/${sha256}`,
  captureRecord: (sha256: string) => `data/captures/${sha256}.json`,
  captureSignature: (sha256: string) => `data/captures/${sha256}.sig`,
  derivative: (sha256: string) => `data/derivatives/${sha256}`,
  derivation: (sha256: string) => `data/derivatives/${sha256}.derivation.json`,
  events: 'data/custody/events.jsonl',
  inclusionProof: (index: number) => `data/custody/proofs/${index}.json`,
  checkpoint: (size: number) => `data/checkpoints/${size}.txt`,
  consistencyProof: (from: number, to: number) => `data/checkpoints/consistency-${from}-${to}.json`,
  timestamp: (size: number, n: number) => `data/timestamps/${size}.${n}.tsr`,
  logKey: 'data/keys/log.vkey',
  deviceKey: (keyId: string) => `data/keys/devices/${keyId}.pub`,
  tsaChain: (n: number) => `data/keys/tsa/${n}.pem`,
  verifyGuide: 'data/VERIFY.md',
  verifier: 'data/verify.mjs',
} as const

export const LOUDER_BAG_SCHEMA = 'louder.bag'

/** data/louder.json: what the bag claims to hold, checked file by file against the bag itself. */
export interface LouderBagManifest {
  schema: typeof LOUDER_BAG_SCHEMA
  v: 1
  exportId: string
  createdAt: string
  incidents: string[]
  originals: string[]
  derivatives: string[]
  /** Checkpoint sizes, ascending; proofs are against the last. */
  checkpoints: number[]
  /** Per checkpoint size, the timestamp replies: which TSA chain (data/keys/tsa/<n>.pem) and reply number. */
  timestamps: { size: number; n: number; tsa: number }[]
}
