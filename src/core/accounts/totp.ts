import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'

/**
 * Time-based one-time passwords (RFC 6238 over RFC 4226 HOTP) as authenticator apps expect them:
 * HMAC-SHA-1, 30-second steps, 6 digits, a 160-bit secret shown as base32.
 */
export const TOTP_STEP_SECONDS = 30
export const TOTP_DIGITS = 6

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'

export function base32Encode(bytes: Buffer): string {
  let bits = 0
  let value = 0
  let out = ''
  for (const byte of bytes) {
    value = (value << 8) | byte
    bits += 8
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31]
      bits -= 5
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31]
  return out
}

export function base32Decode(text: string): Buffer {
  const clean = text.toUpperCase().replace(/[\s=-]/g, '')
  const out: number[] = []
  let bits = 0
  let value = 0
  for (const c of clean) {
    const index = BASE32.indexOf(c)
    if (index < 0) throw new RangeError('not base32')
    value = (value << 5) | index
    bits += 5
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff)
      bits -= 8
    }
  }
  return Buffer.from(out)
}

export function generateTotpSecret(): Buffer {
  return randomBytes(20)
}

/** HOTP (RFC 4226 §5.3): dynamic truncation of HMAC(secret, counter). */
export function hotp(secret: Buffer, counter: number, digits = TOTP_DIGITS, algorithm: 'sha1' | 'sha256' | 'sha512' = 'sha1'): string {
  const message = Buffer.alloc(8)
  message.writeBigUInt64BE(BigInt(counter))
  const mac = createHmac(algorithm, secret).update(message).digest()
  const offset = mac[mac.length - 1]! & 0x0f
  const code = (mac.readUInt32BE(offset) & 0x7fffffff) % 10 ** digits
  return code.toString().padStart(digits, '0')
}

export function totpStep(atMs: number): number {
  return Math.floor(atMs / 1000 / TOTP_STEP_SECONDS)
}

/**
 * The time step a code matches, within ±`window` steps of now (clock drift on a field phone), or null.
 * Callers remember the step used and refuse it and earlier ones next time, so a code works once.
 */
export function matchTotp(secret: Buffer, code: string, atMs: number, window = 1): number | null {
  if (!/^\d{6}$/.test(code)) return null
  const now = totpStep(atMs)
  let matched: number | null = null
  for (let step = now - window; step <= now + window; step++) {
    // Compare every candidate in constant time and keep going, so timing does not reveal which step matched.
    if (timingSafeEqual(Buffer.from(hotp(secret, step)), Buffer.from(code))) matched = step
  }
  return matched
}

/** The otpauth:// URI authenticator apps scan (Key Uri Format). */
export function totpUri(secret: Buffer, account: string, issuer = 'Louder'): string {
  const label = encodeURIComponent(`${issuer}:${account}`)
  const params = new URLSearchParams({ secret: base32Encode(secret), issuer, algorithm: 'SHA1', digits: String(TOTP_DIGITS), period: String(TOTP_STEP_SECONDS) })
  return `otpauth://totp/${label}?${params}`
}

/** Ten single-use recovery codes, `xxxxx-xxxxx` from an unambiguous alphabet (~50 bits each). */
export function generateRecoveryCodes(count = 10): string[] {
  const alphabet = 'abcdefghjkmnpqrstuvwxyz23456789'
  return Array.from({ length: count }, () => {
    const bytes = randomBytes(10)
    const chars = [...bytes].map((b) => alphabet[b % alphabet.length]).join('')
    return `${chars.slice(0, 5)}-${chars.slice(5)}`
  })
}

export function normaliseRecoveryCode(code: string): string {
  return code.trim().toLowerCase().replace(/\s/g, '')
}
