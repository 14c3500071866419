import { createHash } from 'node:crypto'
import { type Actor, actorKey } from '../access/actor.ts'
import { authorize } from '../access/policy.ts'
import { appendCustodyEvent } from '../custody/custody-log.ts'
import { ConflictError, RuleError, ValidationError } from '../errors.ts'
import type { Repositories } from '../ports/repositories.ts'
import type { Sealer } from '../ports/sealer.ts'
import { toRfc3339 } from '../time.ts'
import { captureRecordContext, type StoredCapture } from './capture.ts'
import { type CaptureRecord, captureRecordBytes, parseCaptureRecord, verifyCaptureSignature } from './capture-record.ts'
import { keyVouchesAt } from './device.ts'
import { decodeBase64Exact, ED25519_SIGNATURE_BYTES } from './device-key.ts'

/**
 * How the record is sealed inside the caller's write transaction: with a data key reserved before it (on
 * SQLite the transaction holds the only connection, so making a key inside it would wait for ever).
 */
export interface CaptureSealing {
  sealer: Sealer
  dataKeyId: string
}

/** Call before the transaction that calls `registerCapture`. */
export async function reserveCaptureSealing(sealer: Sealer): Promise<CaptureSealing> {
  return { sealer, dataKeyId: await sealer.reserveDataKey() }
}

/** What the server answers for a logged capture: enough to fetch an inclusion proof for it later. */
export interface CaptureReceipt {
  sha256: string
  recordSha256: string
  logIndex: number
  leafHash: string
}

/** The clear part of a capture, which the locker checks media against before sealing it. */
export interface CaptureExpectation {
  sha256: string
  recordSha256: string
  mediaType: string
  byteLength: number
  deviceKeyId: string
  logIndex: number
  receivedAt: number
}

/**
 * Hash first: logs a signed capture record before its media arrives (it is a few KB and goes first over a
 * satellite link). Runs inside the caller's write transaction (`repos`), which also holds the custody log's
 * append lock until it commits. The record must parse strictly, name a device key that vouches for it at
 * the log index it gets (see `keyVouchesAt`), and carry that key's signature over its canonical JSON.
 * The same record again answers as the first time (`created: false`) without a second event; a different
 * record for media already recorded is a conflict: one original has one capture record.
 */
export async function registerCapture(
  repos: Repositories,
  sealing: CaptureSealing,
  actor: Actor,
  input: { record: unknown; signature: unknown },
  now = Date.now(),
  /** Where the submission sits in the request, for error fields (a header for uploads that carry it). */
  at = '/body',
): Promise<CaptureReceipt & { created: boolean }> {
  authorize(actor, 'capture.register')
  const { record, signature } = parseCaptureSubmission(input, at)
  const bytes = captureRecordBytes(record)
  const recordSha256 = createHash('sha256').update(bytes).digest('hex')
  const keyId = record.device.keyId

  // Decided under the log's append lock (held to commit, re-entrant for the append below): a revocation or
  // an identical submission committed by another process is seen here, not discovered as a race afterwards.
  await repos.custodyLog.lockForAppend()
  const device = await repos.devices.get(keyId)
  if (!device) throw new RuleError('device_unknown', `No device with key id ${keyId} is known here. Request its registration (POST /api/v1/devices with its public key), then have an editor or admin approve it.`)

  const existing = await repos.captures.get(record.sha256)
  if (existing) {
    if (existing.recordSha256 !== recordSha256)
      throw new ConflictError('capture_conflict', `A different capture record is already logged for the media ${record.sha256}; one original has one capture record.`)
    // Ed25519 is deterministic, but hedged signers are valid too: a new signature must still verify.
    if (signature !== existing.signature && !verifyCaptureSignature(record, signature, device.publicKey)) throw badSignature(keyId, at)
    return { ...receiptOf(existing), created: false }
  }

  if (device.status === 'requested')
    throw new RuleError('device_not_registered', `The device key ${keyId} is waiting for approval; get the device approved by an editor or admin (POST /api/v1/devices/${keyId}/approve), then send the capture again. Captures made before approval are accepted once it is given.`)
  if (device.status === 'revoked') throw new RuleError('device_revoked', `The device key ${keyId} was revoked; it no longer vouches for captures.`)
  if (!verifyCaptureSignature(record, signature, device.publicKey)) throw badSignature(keyId, at)

  const sealedRecord = await sealing.sealer.seal(bytes, captureRecordContext(record.sha256), { dataKeyId: sealing.dataKeyId })
  const { index, leafHash } = await appendCustodyEvent(
    repos,
    { v: 1, type: 'capture.registered', at: toRfc3339(now), actor: actorKey(actor), sha256: record.sha256, recordSha256, deviceKeyId: keyId },
    now,
  )
  // The rule itself, stated on the index the capture got (the checks above are its clear-message cases).
  if (!keyVouchesAt(device, index)) throw new RuleError('device_revoked', `The device key ${keyId} does not vouch for a capture at log index ${index}.`)

  const stored: StoredCapture = {
    sha256: record.sha256,
    recordSha256,
    mediaType: record.mediaType,
    byteLength: record.byteLength,
    deviceKeyId: keyId,
    sealedRecord,
    dataKeyId: sealing.dataKeyId,
    signature,
    logIndex: index,
    leafHash,
    receivedAt: now,
  }
  await repos.captures.insert(stored)
  return { ...receiptOf(stored), created: true }
}

/**
 * The submission's shape: a strictly valid record and a signature of the right form. Pure, so callers run it
 * before reserving a data key or opening a transaction: hostile input costs nothing and stores nothing.
 */
export function parseCaptureSubmission(input: { record: unknown; signature: unknown }, at = '/body'): { record: CaptureRecord; signature: string } {
  const record = parseCaptureRecord(input.record, `${at}/record`)
  if (decodeBase64Exact(input.signature, ED25519_SIGNATURE_BYTES) === null)
    throw new ValidationError([{ field: `${at}/signature`, message: `must be standard base64 of a ${ED25519_SIGNATURE_BYTES}-byte Ed25519 signature (88 characters)` }])
  return { record, signature: input.signature as string }
}

function badSignature(keyId: string, at: string): ValidationError {
  return new ValidationError([{ field: `${at}/signature`, message: `is not the device key ${keyId}'s Ed25519 signature over the record's RFC 8785 canonical JSON` }])
}

function receiptOf(c: StoredCapture): CaptureReceipt {
  return { sha256: c.sha256, recordSha256: c.recordSha256, logIndex: c.logIndex, leafHash: c.leafHash }
}

/** The clear part of the capture logged for this media, or undefined: the locker refuses media that does not hash to `sha256`. */
export async function captureFor(repos: Repositories, sha256: string): Promise<CaptureExpectation | undefined> {
  const c = await repos.captures.get(sha256)
  if (!c) return undefined
  return { sha256: c.sha256, recordSha256: c.recordSha256, mediaType: c.mediaType, byteLength: c.byteLength, deviceKeyId: c.deviceKeyId, logIndex: c.logIndex, receivedAt: c.receivedAt }
}

/** The signed record itself, for code that may read restricted data (its caller records the read). */
export async function openCaptureRecord(sealer: Pick<Sealer, 'open'>, capture: StoredCapture): Promise<CaptureRecord> {
  return parseCaptureRecord(JSON.parse((await sealer.open(capture.sealedRecord, captureRecordContext(capture.sha256))).toString('utf8')))
}

/**
 * The parent a capture record names (`parentSha256`: a thumbnail or publication image made on the device), with
 * the device key that signed it and the record's hash, or null. The record is sealed; only these are read, never
 * presented.
 */
export async function captureParentOf(repos: Repositories, sealer: Pick<Sealer, 'open'>, sha256: string): Promise<{ parentSha256: string; deviceKeyId: string; recordSha256: string } | null> {
  const capture = await repos.captures.get(sha256)
  if (!capture) return null
  const parentSha256 = (await openCaptureRecord(sealer, capture)).parentSha256
  return parentSha256 ? { parentSha256, deviceKeyId: capture.deviceKeyId, recordSha256: capture.recordSha256 } : null
}
