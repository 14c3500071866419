/** Custody events become leaves as RFC 8785 canonical JSON: the same event always hashes the same. */
import { describe, expect, it } from 'vitest'
import { type CustodyEvent, CUSTODY_EVENT_TYPES, encodeCustodyEvent } from '../../src/core/custody/custody-event.ts'
import { sampleEvent } from './events.ts'

describe('custody events', () => {
  it('encode every type as canonical JSON, whatever the key order', () => {
    const types = new Set<string>()
    for (let n = 0; n < 16; n++) {
      const event = sampleEvent(n)
      types.add(event.type)
      const reversed = Object.fromEntries(Object.entries(event).reverse()) as unknown as CustodyEvent
      const bytes = encodeCustodyEvent(event)
      expect(encodeCustodyEvent(reversed).equals(bytes)).toBe(true)
      expect(JSON.parse(bytes.toString('utf8'))).toEqual(event)
      expect(bytes.toString('utf8')).not.toMatch(/\s(?=")/)
    }
    expect([...types].sort()).toEqual([...CUSTODY_EVENT_TYPES].sort())
    expect(encodeCustodyEvent(sampleEvent(1)).toString('utf8').startsWith('{"actor":')).toBe(true)
  })

  it('refuses events a verifier could not make sense of', () => {
    const good = sampleEvent(1)
    expect(() => encodeCustodyEvent({ ...good, sha256: 'ABC' } as CustodyEvent)).toThrow('sha256')
    expect(() => encodeCustodyEvent({ ...good, at: 'yesterday' })).toThrow('RFC 3339')
    expect(() => encodeCustodyEvent({ ...good, type: 'deleted' } as unknown as CustodyEvent)).toThrow('unknown')
    expect(() => encodeCustodyEvent({ ...good, byteLength: Number.NaN } as CustodyEvent)).toThrow()
  })
})
