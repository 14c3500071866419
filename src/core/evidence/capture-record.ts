import { createPrivateKey, type KeyObject, sign, verify } from 'node:crypto'
import { canonicalJson } from '../canonical-json.ts'
import { type FieldError, ValidationError } from '../errors.ts'
import { decodeBase64Exact, DEVICE_KEY_ID_PATTERN, ED25519_PUBLIC_KEY_BYTES, ED25519_SIGNATURE_BYTES, publicKeyFromRaw } from './device-key.ts'

export { deviceKeyId } from './device-key.ts'

/**
 * A capture record: what a device says about one media item at the moment it made it, signed with the
 * device's Ed25519 key over the record's RFC 8785 canonical JSON. Server receipt time is not in it (it
 * belongs to the custody event), so the device signs only what it knows. Every field is present (null when
 * unknown): the server must be able to re-create the exact bytes the device signed from the parsed record.
 */
export const CAPTURE_SCHEMA = 'louder.capture'
export const CAPTURE_VERSION = 1

export interface CaptureLocation {
  lat: number
  lon: number
  altitude: number | null
  accuracy: number | null
  provider: string | null
}

export interface CaptureDevice {
  model: string | null
  os: string | null
  appVersion: string | null
  keyId: string
}

export interface CaptureRecord {
  schema: 'louder.capture'
  version: 1
  sha256: string
  mediaType: string
  byteLength: number
  pixelWidth: number | null
  pixelHeight: number | null
  durationMs: number | null
  deviceTime: string | null
  gnssTime: string | null
  location: CaptureLocation | null
  device: CaptureDevice
  notes: string | null
  caseReference: string | null
  collector: string | null
  parentSha256: string | null
}

/** A capture record that is not well formed; `errors` name each bad field as a JSON pointer under `path`. */
export class CaptureRecordError extends ValidationError {
  constructor(errors: FieldError[]) {
    super(errors, 'The capture record is not valid.')
  }
}

const SHA256_HEX = /^[0-9a-f]{64}$/
// RFC 6838 §4.2 type/subtype names (restricted-name), lower or upper case; no parameters in a record.
const MEDIA_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/
// RFC 3339 §5.6 date-time; `isCalendarDate` then checks the day exists (V8's Date.parse takes 2026-02-30).
const RFC3339 = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d{1,9})?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$/

/** Text limits, in UTF-16 code units: a record goes over a satellite link and must stay a few KB. */
const MAX_NOTES = 4000
const MAX_SHORT_TEXT = 200
const MAX_PIXELS_SIDE = 1_000_000
// 30 days: longer than any capture a field device makes, short enough to catch nonsense.
const MAX_DURATION_MS = 30 * 24 * 3600 * 1000

const RECORD_FIELDS = ['schema', 'version', 'sha256', 'mediaType', 'byteLength', 'pixelWidth', 'pixelHeight', 'durationMs', 'deviceTime', 'gnssTime', 'location', 'device', 'notes', 'caseReference', 'collector', 'parentSha256'] as const
const LOCATION_FIELDS = ['lat', 'lon', 'altitude', 'accuracy', 'provider'] as const
const DEVICE_FIELDS = ['model', 'os', 'appVersion', 'keyId'] as const

type Obj = Record<string, unknown>

function isPlainObject(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Reads fields with a path, collecting every problem so a device developer sees them all at once. */
class Reader {
  readonly errors: FieldError[] = []
  readonly path: string
  constructor(path: string) {
    this.path = path
  }

  fail(field: string, message: string): null {
    this.errors.push({ field: `${this.path}${field}`, message })
    return null
  }

  /**
   * Exactly these keys, no others: a record is signed as a whole, and an unknown field is either a mistake
   * or something a device should not send (an IMEI, a MAC or IP address identifies the person holding it).
   */
  object(value: unknown, field: string, keys: readonly string[]): Obj | null {
    if (!isPlainObject(value)) return this.fail(field, 'must be an object')
    for (const key of Object.keys(value)) if (!keys.includes(key)) this.fail(`${field}/${escapePointer(key)}`, 'is not a capture record field (unknown fields are refused)')
    for (const key of keys) if (!Object.hasOwn(value, key)) this.fail(`${field}/${key}`, 'is required (null when unknown)')
    return value
  }

  text(value: unknown, field: string, max: number, nullable: boolean): string | null {
    if (value === null && nullable) return null
    if (typeof value !== 'string') return this.fail(field, nullable ? 'must be a string or null' : 'must be a string')
    if (value.length > max) return this.fail(field, `must be at most ${max} characters`)
    if (value.includes('\u0000')) return this.fail(field, 'contains a NUL character (\\u0000)')
    if (!value.isWellFormed()) return this.fail(field, 'contains a lone UTF-16 surrogate')
    return value
  }

  pattern(value: unknown, field: string, pattern: RegExp, what: string, nullable: boolean): string | null {
    if (value === null && nullable) return null
    if (typeof value !== 'string' || value.length > 300 || !pattern.test(value)) return this.fail(field, `must be ${what}${nullable ? ' or null' : ''}`)
    return value
  }

  time(value: unknown, field: string): string | null {
    if (value === null) return null
    if (typeof value !== 'string' || !RFC3339.test(value) || !isCalendarDate(value) || Number.isNaN(Date.parse(value))) return this.fail(field, 'must be an RFC 3339 date-time (2026-03-01T12:00:00Z) or null')
    return value
  }

  integer(value: unknown, field: string, min: number, max: number, nullable: boolean): number | null {
    if (value === null && nullable) return null
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) return this.fail(field, `must be a whole number from ${min} to ${max}${nullable ? ' or null' : ''}`)
    return value
  }

  number(value: unknown, field: string, min: number, max: number, nullable: boolean): number | null {
    if (value === null && nullable) return null
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) return this.fail(field, `must be a number from ${min} to ${max}${nullable ? ' or null' : ''}`)
    return value
  }
}

function isCalendarDate(value: string): boolean {
  const [year, month, day] = value.slice(0, 10).split('-').map(Number) as [number, number, number]
  // Day 0 of the next month is the last day of this one (UTC, so no time zone moves it).
  return day <= new Date(Date.UTC(year, month, 0)).getUTCDate()
}

function escapePointer(key: string): string {
  // RFC 6901 escaping, and a cap so a hostile key cannot make the error message huge.
  return key.slice(0, 64).replaceAll('~', '~0').replaceAll('/', '~1')
}

/**
 * Parses a capture record strictly: every field present, no others, each of its type and within its limits.
 * `path` prefixes the JSON pointers in errors (`/body/record` when it came in a request body).
 */
export function parseCaptureRecord(value: unknown, path = ''): CaptureRecord {
  const r = new Reader(path)
  const o = r.object(value, '', RECORD_FIELDS)
  if (!o) throw new CaptureRecordError(r.errors)
  if (o.schema !== CAPTURE_SCHEMA) r.fail('/schema', `must be "${CAPTURE_SCHEMA}"`)
  if (o.version !== CAPTURE_VERSION) r.fail('/version', `must be ${CAPTURE_VERSION} (the only version this server reads)`)
  const sha256 = r.pattern(o.sha256, '/sha256', SHA256_HEX, 'the lower-case hex SHA-256 of the original bytes', false)
  const mediaType = r.pattern(o.mediaType, '/mediaType', MEDIA_TYPE, 'a media type such as image/jpeg', false)
  const byteLength = r.integer(o.byteLength, '/byteLength', 0, Number.MAX_SAFE_INTEGER, false)
  const pixelWidth = r.integer(o.pixelWidth, '/pixelWidth', 1, MAX_PIXELS_SIDE, true)
  const pixelHeight = r.integer(o.pixelHeight, '/pixelHeight', 1, MAX_PIXELS_SIDE, true)
  const durationMs = r.integer(o.durationMs, '/durationMs', 0, MAX_DURATION_MS, true)
  const deviceTime = r.time(o.deviceTime, '/deviceTime')
  const gnssTime = r.time(o.gnssTime, '/gnssTime')
  let location: CaptureLocation | null = null
  if (o.location !== null) {
    const l = r.object(o.location, '/location', LOCATION_FIELDS)
    if (l)
      location = {
        lat: r.number(l.lat, '/location/lat', -90, 90, false)!,
        lon: r.number(l.lon, '/location/lon', -180, 180, false)!,
        // From the Dead Sea shore to above any aircraft a phone would be carried in.
        altitude: r.number(l.altitude, '/location/altitude', -11_000, 100_000, true),
        accuracy: r.number(l.accuracy, '/location/accuracy', 0, 1e7, true),
        provider: r.text(l.provider, '/location/provider', 64, true),
      }
  }
  let device: CaptureDevice | null = null
  const d = r.object(o.device, '/device', DEVICE_FIELDS)
  if (d)
    device = {
      model: r.text(d.model, '/device/model', MAX_SHORT_TEXT, true),
      os: r.text(d.os, '/device/os', MAX_SHORT_TEXT, true),
      appVersion: r.text(d.appVersion, '/device/appVersion', MAX_SHORT_TEXT, true),
      keyId: r.pattern(d.keyId, '/device/keyId', DEVICE_KEY_ID_PATTERN, 'the device key id (32 lower-case hex characters)', false)!,
    }
  const notes = r.text(o.notes, '/notes', MAX_NOTES, true)
  const caseReference = r.text(o.caseReference, '/caseReference', MAX_SHORT_TEXT, true)
  const collector = r.text(o.collector, '/collector', MAX_SHORT_TEXT, true)
  const parentSha256 = r.pattern(o.parentSha256, '/parentSha256', SHA256_HEX, 'the lower-case hex SHA-256 of the parent item', true)
  if (r.errors.length > 0) throw new CaptureRecordError(r.errors.slice(0, 50))
  return {
    schema: CAPTURE_SCHEMA,
    version: CAPTURE_VERSION,
    sha256: sha256!,
    mediaType: mediaType!,
    byteLength: byteLength!,
    pixelWidth,
    pixelHeight,
    durationMs,
    deviceTime,
    gnssTime,
    location,
    device: device!,
    notes,
    caseReference,
    collector,
    parentSha256,
  }
}

/** The signed bytes: UTF-8 of the record's RFC 8785 canonical JSON. */
export function captureRecordBytes(record: CaptureRecord): Buffer {
  return Buffer.from(canonicalJson(record), 'utf8')
}

/** Base64 Ed25519 signature over `captureRecordBytes` (what `louder device sign` and test devices use). */
export function signCaptureRecord(record: CaptureRecord, privateKey: KeyObject): string {
  return sign(null, captureRecordBytes(record), privateKey).toString('base64')
}

/**
 * Whether `signatureBase64` is the key's Ed25519 signature over the record. Malformed signatures and keys
 * verify as false rather than throw: to a caller they are all "not signed by this key".
 */
export function verifyCaptureSignature(record: CaptureRecord, signatureBase64: string, publicKey: KeyObject | string): boolean {
  const signature = decodeBase64Exact(signatureBase64, ED25519_SIGNATURE_BYTES)
  if (!signature) return false
  let key: KeyObject
  if (typeof publicKey === 'string') {
    const raw = decodeBase64Exact(publicKey, ED25519_PUBLIC_KEY_BYTES)
    if (!raw) return false
    key = publicKeyFromRaw(raw)
  } else key = publicKey
  if (key.asymmetricKeyType !== 'ed25519') return false
  try {
    return verify(null, captureRecordBytes(record), key, signature)
  } catch {
    return false
  }
}

/** A private key from PKCS#8 PEM (the device directory's file), for signing. */
export function devicePrivateKey(pem: string): KeyObject {
  const key = createPrivateKey(pem)
  if (key.asymmetricKeyType !== 'ed25519') throw new TypeError('the device key is not an Ed25519 key')
  return key
}
