import { randomBytes } from 'node:crypto'

let lastMs = -1
let counter = 0

/**
 * Record ids are UUIDv7 (RFC 9562 §5.7): time-ordered, so new rows land at the end of indexes. Ids made
 * in one process are strictly increasing even within a millisecond: the 12 `rand_a` bits are a counter
 * (RFC 9562 §6.2, method 1) seeded at random each millisecond, and the clock is borrowed from when it runs out.
 */
export function uuidv7(now = Date.now()): string {
  let ms = now
  if (ms <= lastMs) {
    ms = lastMs
    counter++
    if (counter > 0xfff) {
      ms = ++lastMs
      counter = 0
    }
  } else counter = randomBytes(2).readUInt16BE() & 0x7ff
  lastMs = ms
  const bytes = randomBytes(16)
  bytes.writeUIntBE(ms, 0, 6)
  bytes[6] = 0x70 | (counter >> 8)
  bytes[7] = counter & 0xff
  bytes[8] = (bytes[8]! & 0x3f) | 0x80
  const hex = bytes.toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

export const UUID_PATTERN = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
export const SHA256_PATTERN = '^[0-9a-f]{64}$'

export function isUuid(value: string): boolean {
  return new RegExp(UUID_PATTERN).test(value)
}
