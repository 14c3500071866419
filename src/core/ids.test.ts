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
