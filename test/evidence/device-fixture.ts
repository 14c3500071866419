/**
 * Test devices: an Ed25519 key as `louder device init` makes one, capture records for it, and the API calls
 * that request and approve it. Shared by the evidence tests and the access tests' request bodies.
 */
import { createHash, generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { type CaptureRecord, deviceKeyId, signCaptureRecord } from '../../src/core/evidence/capture-record.ts'
import { rawPublicKey } from '../../src/core/evidence/device-key.ts'
import { call } from '../access/support.ts'

export interface TestDevice {
  privateKey: KeyObject
  /** Base64 of the raw 32-byte public key. */
  publicKey: string
  keyId: string
}

export function newDevice(): TestDevice {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519')
  const raw = rawPublicKey(publicKey)
  return { privateKey, publicKey: raw.toString('base64'), keyId: deviceKeyId(raw) }
}

/** A complete record for fresh random media, made by this device. */
export function captureRecord(device: { keyId: string }, overrides: Partial<CaptureRecord> = {}): CaptureRecord {
  return {
    schema: 'louder.capture',
    version: 1,
    sha256: createHash('sha256').update(randomBytes(32)).digest('hex'),
    mediaType: 'image/jpeg',
    byteLength: 2_345_678,
    pixelWidth: 4032,
    pixelHeight: 3024,
    durationMs: null,
    deviceTime: '2026-03-01T09:15:00+02:00',
    gnssTime: '2026-03-01T07:14:58Z',
    location: { lat: 15.5007, lon: 32.5599, altitude: 381.5, accuracy: 4.2, provider: 'gps' },
    device: { model: 'Pixel 8', os: 'Android 15', appVersion: '0.9.1', keyId: device.keyId },
    notes: null,
    caseReference: null,
    collector: null,
    parentSha256: null,
    ...overrides,
  }
}

export function signedCapture(device: TestDevice, overrides: Partial<CaptureRecord> = {}): { record: CaptureRecord; signature: string } {
  const record = captureRecord(device, overrides)
  return { record, signature: signCaptureRecord(record, device.privateKey) }
}

/** Requests the device's registration as `requester`, and returns the key id. */
export async function requestDeviceOver(app: FastifyInstance, requester: string | null, device: TestDevice, name = 'Test phone'): Promise<string> {
  const res = await call(app, { url: '/api/v1/devices', token: requester, body: { publicKey: device.publicKey, name } })
  if (res.statusCode !== 202) throw new Error(`device request: ${res.statusCode} ${res.body}`)
  return device.keyId
}

/** A device requested and approved through the API. */
export async function registeredDevice(app: FastifyInstance, requester: string, approver: string): Promise<TestDevice> {
  const device = newDevice()
  await requestDeviceOver(app, requester, device)
  const res = await call(app, { method: 'POST', url: `/api/v1/devices/${device.keyId}/approve`, token: approver })
  if (res.statusCode !== 200) throw new Error(`device approve: ${res.statusCode} ${res.body}`)
  return device
}
