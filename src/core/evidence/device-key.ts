import { createHash, createPublicKey, type KeyObject } from 'node:crypto'

/** Ed25519 public keys are 32 raw bytes (RFC 8032 §5.1.5); signatures 64. */
export const ED25519_PUBLIC_KEY_BYTES = 32
export const ED25519_SIGNATURE_BYTES = 64

// DER SubjectPublicKeyInfo header for an Ed25519 key (RFC 8410 §4): node:crypto takes keys as SPKI, devices send raw.
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')

/**
 * Decodes standard padded base64 of exactly `bytes` bytes, or returns null. Re-encoding must give the input
 * back: Buffer.from(…, 'base64') silently skips junk, and a lenient decoder would let two texts name one key.
 */
export function decodeBase64Exact(value: unknown, bytes: number): Buffer | null {
  if (typeof value !== 'string' || value.length !== 4 * Math.ceil(bytes / 3)) return null
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(value)) return null
  const decoded = Buffer.from(value, 'base64')
  return decoded.length === bytes && decoded.toString('base64') === value ? decoded : null
}

/** A device's key id: the first 16 bytes of SHA-256 of the raw public key, hex — short enough for a record, too long to collide. */
export function deviceKeyId(publicKeyRaw: Buffer): string {
  return createHash('sha256').update(publicKeyRaw).digest().subarray(0, 16).toString('hex')
}

export const DEVICE_KEY_ID_PATTERN = /^[0-9a-f]{32}$/

export function publicKeyFromRaw(raw: Buffer): KeyObject {
  if (raw.length !== ED25519_PUBLIC_KEY_BYTES) throw new RangeError(`an Ed25519 public key is ${ED25519_PUBLIC_KEY_BYTES} bytes, not ${raw.length}`)
  return createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: 'der', type: 'spki' })
}

/** The raw 32 bytes of an Ed25519 public key object. */
export function rawPublicKey(key: KeyObject): Buffer {
  const der = key.export({ format: 'der', type: 'spki' })
  if (der.length !== SPKI_ED25519_PREFIX.length + ED25519_PUBLIC_KEY_BYTES || !der.subarray(0, SPKI_ED25519_PREFIX.length).equals(SPKI_ED25519_PREFIX))
    throw new TypeError('not an Ed25519 public key')
  return der.subarray(SPKI_ED25519_PREFIX.length)
}
