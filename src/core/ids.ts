import { randomBytes } from 'node:crypto'

/** Record ids are UUIDv7 (RFC 9562 §5.7): time-ordered, so new rows land at the end of indexes. */
export function uuidv7(now = Date.now()): string {
  const bytes = randomBytes(16)
  bytes.writeUIntBE(now, 0, 6)
  bytes[6] = (bytes[6]! & 0x0f) | 0x70
  bytes[8] = (bytes[8]! & 0x3f) | 0x80
  const hex = bytes.toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

export const UUID_PATTERN = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
export const SHA256_PATTERN = '^[0-9a-f]{64}$'

export function isUuid(value: string): boolean {
  return new RegExp(UUID_PATTERN).test(value)
}
