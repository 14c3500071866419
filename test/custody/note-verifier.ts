/**
 * An outside verifier of signed checkpoints, written from C2SP signed-note.md with node:crypto alone (no
 * Louder code), and a throw-away Ed25519 signer for tests.
 */
import { createHash, createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto'
import type { LogSigner } from '../../src/core/custody/checkpoint.ts'

export function testSigner(name = 'louder.example.org/log'): LogSigner {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  return { name, publicKey: Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url'), sign: (m) => sign(null, m, privateKey) }
}

/** An independent verifier: parses the verifier key and the note, checks key hash and Ed25519 signature. */
export function verifyNote(note: string, vkey: string): { origin: string; size: number; root: Buffer } {
  // As golang.org/x/mod/sumdb/note reads it: split at the first two '+' (base64 may itself hold '+').
  const m = /^([^+]+)\+([0-9a-f]{8})\+(.+)$/.exec(vkey.trim())
  if (!m) throw new Error('malformed verifier key')
  const [, name, hashHex, keyB64] = m as unknown as [string, string, string, string]
  const key = Buffer.from(keyB64, 'base64')
  if (key.length !== 33 || key[0] !== 0x01) throw new Error('not an Ed25519 verifier key')
  const keyId = createHash('sha256').update(Buffer.concat([Buffer.from(name, 'utf8'), Buffer.from([0x0a]), key])).digest().subarray(0, 4)
  if (keyId.toString('hex') !== hashHex) throw new Error('verifier key hash does not match its name and key')
  const publicKey = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: key.subarray(1).toString('base64url') }, format: 'jwk' })

  const split = note.indexOf('\n\n')
  const text = note.slice(0, split + 1)
  const sigLines = note.slice(split + 2).split('\n').filter((l) => l !== '')
  const mine = sigLines.map((l) => /^\u2014 (\S+) (\S+)$/.exec(l)).find((m) => m && m[1] === name)
  if (!mine) throw new Error('no signature by this key')
  const sig = Buffer.from(mine[2]!, 'base64')
  if (!sig.subarray(0, 4).equals(keyId) || sig.length !== 68) throw new Error('signature key hash mismatch')
  if (!verify(null, Buffer.from(text, 'utf8'), publicKey, sig.subarray(4))) throw new Error('bad signature')
  const [origin, size, root] = text.split('\n')
  if (origin !== name) throw new Error('origin is not the key name')
  return { origin: origin!, size: Number(size), root: Buffer.from(root!, 'base64') }
}
