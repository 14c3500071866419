import { describe, expect, it } from 'vitest'
import { base32Decode, base32Encode, generateRecoveryCodes, generateTotpSecret, hotp, matchTotp, totpStep, totpUri } from './totp.ts'

describe('HOTP (RFC 4226 appendix D)', () => {
  const secret = Buffer.from('12345678901234567890')
  const expected = ['755224', '287082', '359152', '969429', '338314', '254676', '287922', '162583', '399871', '520489']
  it.each(expected.map((code, counter) => [counter, code]))('counter %i → %s', (counter, code) => {
    expect(hotp(secret, counter as number)).toBe(code)
  })
})

describe('TOTP (RFC 6238 appendix B, SHA-1, 8 digits)', () => {
  const secret = Buffer.from('12345678901234567890')
  const vectors: [number, string][] = [
    [59, '94287082'],
    [1111111109, '07081804'],
    [1111111111, '14050471'],
    [1234567890, '89005924'],
    [2000000000, '69279037'],
    [20000000000, '65353130'],
  ]
  it.each(vectors)('T=%i → %s', (seconds, code) => {
    expect(hotp(secret, totpStep(seconds * 1000), 8)).toBe(code)
  })
})

describe('matching codes', () => {
  const secret = generateTotpSecret()
  const now = Date.UTC(2026, 10, 29, 12, 0, 0)

  it('accepts the current step and one either side, nothing further', () => {
    const step = totpStep(now)
    expect(matchTotp(secret, hotp(secret, step), now)).toBe(step)
    expect(matchTotp(secret, hotp(secret, step - 1), now)).toBe(step - 1)
    expect(matchTotp(secret, hotp(secret, step + 1), now)).toBe(step + 1)
    expect(matchTotp(secret, hotp(secret, step - 2), now)).toBeNull()
  })

  it.each(['', '12345', '1234567', 'abcdef', ' 123456', '12345\u0000'])('refuses malformed code %j', (code) => {
    expect(matchTotp(secret, code, now)).toBeNull()
  })
})

describe('secrets and codes', () => {
  it('base32 round-trips', () => {
    for (let n = 0; n < 40; n++) {
      const bytes = generateTotpSecret().subarray(0, n % 21)
      expect(base32Decode(base32Encode(bytes))).toEqual(bytes)
    }
    expect(base32Encode(Buffer.from('foobar'))).toBe('MZXW6YTBOI')
    expect(() => base32Decode('not!base32')).toThrow()
  })

  it('builds a Key URI authenticator apps accept', () => {
    const uri = new URL(totpUri(Buffer.from('12345678901234567890'), 'amina@example.org'))
    expect(uri.protocol).toBe('otpauth:')
    expect(uri.searchParams.get('secret')).toBe('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ')
    expect(uri.searchParams.get('issuer')).toBe('Louder')
  })

  it('makes ten distinct recovery codes', () => {
    const codes = generateRecoveryCodes()
    expect(new Set(codes).size).toBe(10)
    for (const c of codes) expect(c).toMatch(/^[a-z2-9]{5}-[a-z2-9]{5}$/)
  })
})
