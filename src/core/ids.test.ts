import { describe, expect, it } from 'vitest'
import { isUuid, uuidv7 } from './ids.ts'

describe('uuidv7', () => {
  it('is a version-7, variant-1 UUID carrying its millisecond timestamp', () => {
    const id = uuidv7(0x0123456789ab)
    expect(isUuid(id)).toBe(true)
    expect(id.startsWith('01234567-89ab-7')).toBe(true)
    expect(['8', '9', 'a', 'b']).toContain(id[19])
  })

  it('sorts by time', () => {
    const ids = [uuidv7(1000), uuidv7(2000), uuidv7(3000)]
    expect([...ids].sort()).toEqual(ids)
  })
})

describe('uuidv7 within one millisecond', () => {
  it('is strictly increasing, even past the 4096 counter values of one millisecond', () => {
    const ids = Array.from({ length: 10_000 }, () => uuidv7(5_000_000))
    for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true)
    expect(ids.every(isUuid)).toBe(true)
  })
})
