import { describe, expect, it } from 'vitest'
import { copyBytes } from '../../src/core/copy-bytes.ts'

describe('copyBytes', () => {
  it('copies into plain and shared memory at an offset, and refuses what does not fit', () => {
    for (const target of [new Uint8Array(10), new Uint8Array(new SharedArrayBuffer(10))]) {
      expect(copyBytes(Uint8Array.from([1, 2, 3]), target, 4)).toBe(7)
      expect([...target]).toEqual([0, 0, 0, 0, 1, 2, 3, 0, 0, 0])
      expect(copyBytes(new Uint8Array(0), target, 10)).toBe(10)
      expect(() => copyBytes(new Uint8Array(4), target, 7)).toThrow(/do not fit/)
      expect(() => copyBytes(new Uint8Array(1), target, -1)).toThrow(/do not fit/)
    }
    const view = new Uint8Array(new SharedArrayBuffer(16), 8, 4)
    copyBytes(Uint8Array.from([9, 9]), view, 1)
    expect([...new Uint8Array(view.buffer)]).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 9, 0, 0, 0, 0, 0])
  })
})
