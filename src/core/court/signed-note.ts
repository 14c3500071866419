import { createHash, createPublicKey, type KeyObject, verify } from 'node:crypto'
import { parseCheckpointBody } from '../custody/checkpoint.ts'

/**
 * Reading a C2SP verifier key and checking a signed checkpoint with it (signed-note.md, tlog-checkpoint.md),
 * from the bag's own files: the log key is the one thing a court must compare with what Louder publishes.
 */
export interface LogVerifierKey {
  name: string
  keyHash: Buffer
  publicKey: KeyObject
}

export function parseVerifierKey(text: string): LogVerifierKey | string {
  // As golang.org/x/mod/sumdb/note reads it: split at the first two '+' (base64 may itself hold '+').
  const m = /^([^+\s]+)\+([0-9a-f]{8})\+(\S+)$/.exec(text.trim())
  if (!m) return 'is not a verifier key "<name>+<hash>+<base64 key>"'
  const key = Buffer.from(m[3]!, 'base64')
  if (key.length !== 33 || key[0] !== 0x01) return 'is not an Ed25519 verifier key'
  const keyHash = createHash('sha256').update(m[1]!, 'utf8').update(Buffer.from([0x0a])).update(key).digest().subarray(0, 4)
  if (keyHash.toString('hex') !== m[2]) return 'its key hash does not match its name and key'
  return { name: m[1]!, keyHash, publicKey: createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: key.subarray(1).toString('base64url') }, format: 'jwk' }) }
}

/** The checkpoint a note signed by `key` states, or why it does not. */
export function verifyCheckpointNote(note: string, key: LogVerifierKey): { size: number; root: Buffer } | string {
  const split = note.indexOf('\n\n')
  if (split < 0) return 'is not a signed note (no blank line before the signatures)'
  const body = note.slice(0, split + 1)
  const parsed = parseCheckpointBody(note)
  if (!parsed) return 'its body is not origin, size and root'
  if (parsed.origin !== key.name) return `its origin ${parsed.origin} is not the log key's name ${key.name}`
  const lines = note.slice(split + 2).split('\n').filter((l) => l !== '')
  for (const line of lines) {
    const m = /^\u2014 (\S+) (\S+)$/.exec(line)
    if (!m || m[1] !== key.name) continue
    const sig = Buffer.from(m[2]!, 'base64')
    if (sig.length === 68 && sig.subarray(0, 4).equals(key.keyHash) && verify(null, Buffer.from(body, 'utf8'), key.publicKey, sig.subarray(4))) return { size: parsed.size, root: parsed.root }
    return 'its signature does not verify with the log key'
  }
  return 'carries no signature by the log key'
}
