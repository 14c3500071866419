import { describe, expect, it } from 'vitest'
import { ValidationError } from './errors.ts'
import { decodeCursor, encodeCursor, toPage } from './pagination.ts'

describe('keyset cursors', () => {
  it('round-trip the sort key', () => {
    expect(decodeCursor(encodeCursor([1700000000000, 'abc']), ['number', 'string'])).toEqual([1700000000000, 'abc'])
  })

  it.each([
    '',
    '!!!',
    encodeCursor(['x', 'y']),
    encodeCursor([1]),
    Buffer.from('{"a":1}').toString('base64url'),
    'A'.repeat(600),
    // Right shape, but nothing a list gives out, and each fails in SQL on PostgreSQL.
    encodeCursor([1.5, 'a']),
    Buffer.from('[1e400,"a"]').toString('base64url'),
    encodeCursor([1, 'a\u0000b']),
    Buffer.from('[1,"\\ud800"]').toString('base64url'),
  ])(
    'refuse a cursor this list did not give out: %s',
    (cursor) => {
      expect(() => decodeCursor(cursor, ['number', 'string'])).toThrow(ValidationError)
    },
  )

  it('trim the extra row and point past the last kept one', () => {
    const rows = [{ k: 3 }, { k: 2 }, { k: 1 }]
    const page = toPage(rows, 2, (r) => [r.k])
    expect(page.items).toEqual([{ k: 3 }, { k: 2 }])
    expect(decodeCursor(page.next!, ['number'])).toEqual([2])
    expect(toPage(rows.slice(0, 2), 2, (r) => [r.k]).next).toBeNull()
  })
})
