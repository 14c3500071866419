import { generateKeyPairSync } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { type CaptureRecord, CaptureRecordError, deviceKeyId, parseCaptureRecord, signCaptureRecord, verifyCaptureSignature } from './capture-record.ts'
import { type Device, keyVouchesAt } from './device.ts'
import { decodeBase64Exact, rawPublicKey } from './device-key.ts'

function key() {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519')
  const raw = rawPublicKey(publicKey)
  return { publicKey, privateKey, raw, keyId: deviceKeyId(raw) }
}

const record = (keyId: string): CaptureRecord => ({
  schema: 'louder.capture',
  version: 1,
  sha256: 'ab'.repeat(32),
  mediaType: 'image/jpeg',
  byteLength: 1000,
  pixelWidth: 10,
  pixelHeight: 10,
  durationMs: null,
  deviceTime: '2026-03-01T09:15:00.123+02:00',
  gnssTime: null,
  location: null,
  device: { model: null, os: null, appVersion: null, keyId },
  notes: null,
  caseReference: null,
  collector: null,
  parentSha256: null,
})

describe('capture record signatures', () => {
  it('verify with the key as an object or as base64 raw bytes, and fail on anything else', () => {
    const k = key()
    const r = record(k.keyId)
    const sig = signCaptureRecord(r, k.privateKey)
    expect(verifyCaptureSignature(r, sig, k.publicKey)).toBe(true)
    expect(verifyCaptureSignature(r, sig, k.raw.toString('base64'))).toBe(true)
    expect(verifyCaptureSignature({ ...r, byteLength: 1001 }, sig, k.publicKey)).toBe(false)
    expect(verifyCaptureSignature(r, sig, key().publicKey)).toBe(false)
    for (const bad of ['', 'not base64', sig.slice(1), `${sig.slice(0, -2)}A=`]) expect(verifyCaptureSignature(r, bad, k.publicKey)).toBe(false)
    for (const badKey of ['', k.raw.subarray(1).toString('base64'), 'x'.repeat(44)]) expect(verifyCaptureSignature(r, sig, badKey)).toBe(false)
    expect(verifyCaptureSignature(r, sig, generateKeyPairSync('x25519').publicKey)).toBe(false)
  })

  it('names keys by the first 16 bytes of SHA-256 of the raw key', () => {
    expect(deviceKeyId(Buffer.alloc(32))).toBe('66687aadf862bd776c8fc18b8e9f8e20')
  })

  it('decodes only canonical padded base64 of the exact length', () => {
    const b = Buffer.alloc(32, 0xff).toString('base64')
    expect(decodeBase64Exact(b, 32)).toEqual(Buffer.alloc(32, 0xff))
    expect(decodeBase64Exact(b, 33)).toBeNull()
    expect(b.slice(42)).toBe('8=')
    expect(decodeBase64Exact(`${b.slice(0, 42)}9=`, 32)).toBeNull() // non-zero padding bits: a second spelling
    expect(decodeBase64Exact(b.replaceAll('/', '_'), 32)).toBeNull()
    expect(decodeBase64Exact(42, 32)).toBeNull()
  })

  it('reports every bad field with a JSON pointer', () => {
    const k = key()
    try {
      parseCaptureRecord({ ...record(k.keyId), byteLength: -1, mediaType: 'jpeg', 'a/b~c': 1 }, '/body/record')
      expect.unreachable()
    } catch (err) {
      expect(err).toBeInstanceOf(CaptureRecordError)
      expect((err as CaptureRecordError).errors.map((e) => e.field).sort()).toEqual(['/body/record/a~1b~0c', '/body/record/byteLength', '/body/record/mediaType'])
    }
    expect(() => parseCaptureRecord(null)).toThrow(CaptureRecordError)
  })
})

describe('which captures a key vouches for', () => {
  const device = (registered: number | null, revoked: number | null) => ({ registeredLogIndex: registered, revokedLogIndex: revoked }) as Device
  it('follows the log: after registration, before revocation', () => {
    expect(keyVouchesAt(device(null, null), 5)).toBe(false)
    expect(keyVouchesAt(device(5, null), 5)).toBe(false)
    expect(keyVouchesAt(device(4, null), 5)).toBe(true)
    expect(keyVouchesAt(device(4, 9), 5)).toBe(true)
    expect(keyVouchesAt(device(4, 5), 5)).toBe(false)
    expect(keyVouchesAt(device(4, 3), 5)).toBe(false)
  })
})
