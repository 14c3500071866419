/**
 * A derivative's lineage (parent hash, operations, operator, time) in RFC 8785 canonical JSON, signed with the
 * custody log's Ed25519 key, so a court bag's verifier can check it offline (src/court/standalone/verify.mjs).
 * Louder signs it for the derivatives it makes (working copies) and for those a device made and declared in a
 * capture record naming their parent (thumbnails, publication images); `capture` then names that record.
 */
import { canonicalJson } from '../canonical-json.ts'
import type { LogSigner } from '../custody/checkpoint.ts'
import type { Sha256 } from './media-item.ts'

export interface DerivationRecord {
  schema: 'louder.derivation'
  v: 1
  parentSha256: Sha256
  operations: string[]
  operator: string
  at: string
  /** A derivative made on a device: the capture record that declared it, and the device key that signed that. */
  capture?: { recordSha256: Sha256; deviceKeyId: string }
}

/** The stored form: the record, and a signature over its canonical JSON naming the key that made it. */
export function signDerivation(record: DerivationRecord, signer: LogSigner): string {
  const bytes = Buffer.from(canonicalJson(record), 'utf8')
  return canonicalJson({ record, signature: signer.sign(bytes).toString('base64'), keyName: signer.name })
}
