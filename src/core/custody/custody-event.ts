import { canonicalJson } from '../canonical-json.ts'

/**
 * What the custody log records. The leaf is the event's RFC 8785 canonical JSON, so the same event always
 * hashes the same and anyone can recompute a leaf hash from a body with any JSON library. Bodies may name
 * people and purposes (who read an original, why): they are stored as they are, but the public API gives
 * out only index and leaf hash; the body goes to roles that may read it (`log.event.read`).
 *
 * `v` is the event schema version: a later change to a body's shape bumps it, so old leaves still read.
 * Times are RFC 3339 UTC strings (a leaf outlives any one language's epoch conventions). `actor` is who did it
 * (`user:<id>`, `system:<name>`, `device:<keyId>`), as the audit log names actors.
 */
interface EventBase {
  v: 1
  at: string
  actor: string
}

/** A hex SHA-256 digest. */
type Sha256 = string

export type CustodyEvent =
  | (EventBase & { type: 'capture.registered'; sha256: Sha256; recordSha256: Sha256; deviceKeyId: string })
  | (EventBase & { type: 'media.received'; sha256: Sha256; byteLength: number; mediaType: string; receivedAt: string })
  | (EventBase & { type: 'key.registered'; keyId: string; publicKey: string })
  | (EventBase & { type: 'key.revoked'; keyId: string; reason: string | null })
  | (EventBase & { type: 'derivative.created'; sha256: Sha256; parentSha256: Sha256; operations: string[] })
  | (EventBase & { type: 'access'; sha256: Sha256; purpose: string | null })
  | (EventBase & { type: 'export.created'; exportId: string; sha256: Sha256; items: number })
  | (EventBase & { type: 'transfer'; sha256: Sha256; from: string; to: string; note: string | null })

export type CustodyEventType = CustodyEvent['type']

export const CUSTODY_EVENT_TYPES: readonly CustodyEventType[] = [
  'capture.registered',
  'media.received',
  'key.registered',
  'key.revoked',
  'derivative.created',
  'access',
  'export.created',
  'transfer',
]

const SHA256_HEX = /^[0-9a-f]{64}$/

/** The leaf bytes: UTF-8 of the canonical JSON. Refuses events a verifier could not make sense of. */
export function encodeCustodyEvent(event: CustodyEvent): Buffer {
  if (!CUSTODY_EVENT_TYPES.includes(event.type)) throw new TypeError(`unknown custody event type ${String(event.type)}`)
  if (event.v !== 1) throw new TypeError(`custody event version ${String(event.v)} is not 1`)
  if (Number.isNaN(Date.parse(event.at))) throw new TypeError(`custody event time ${event.at} is not RFC 3339`)
  for (const field of ['sha256', 'recordSha256', 'parentSha256'] as const)
    if (field in event && !SHA256_HEX.test((event as unknown as Record<string, unknown>)[field] as string)) throw new TypeError(`custody event ${field} must be lower-case hex SHA-256`)
  return Buffer.from(canonicalJson(event), 'utf8')
}
