import { describe, expect, it } from 'vitest'
import { EVENT_TYPE_NAMES, EVENT_TYPES, INTER_CODES, type InterCode, interactionCode, isInterCode, isSubEventOf } from './acled.ts'

describe('ACLED taxonomy', () => {
  it('has the six event types and their 25 sub-event types', () => {
    expect(EVENT_TYPE_NAMES).toEqual(['Battles', 'Violence against civilians', 'Explosions/Remote violence', 'Protests', 'Riots', 'Strategic developments'])
    expect(Object.values(EVENT_TYPES).flat()).toHaveLength(25)
    expect(Object.keys(INTER_CODES).map(Number)).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
  })

  it('tells which sub-event types belong to which type', () => {
    expect(isSubEventOf('Battles', 'Armed clash')).toBe(true)
    expect(isSubEventOf('Riots', 'Armed clash')).toBe(false)
    expect(isSubEventOf('Strategic developments', 'Other')).toBe(true)
    expect(isSubEventOf('battles', 'Armed clash')).toBe(false)
    expect(isSubEventOf('toString', 'Armed clash')).toBe(false)
    expect(isSubEventOf('constructor', 'name')).toBe(false)
  })

  it('joins inter codes lower first, without direction; one actor gives its code and 0', () => {
    expect(interactionCode(1, 3)).toBe(13)
    expect(interactionCode(3, 1)).toBe(13)
    expect(interactionCode(7, 7)).toBe(77)
    expect(interactionCode(1)).toBe(10)
    expect(interactionCode(8, null)).toBe(80)
    expect(() => interactionCode(0 as InterCode, 1)).toThrow(RangeError)
    expect(() => interactionCode(1, 9 as InterCode)).toThrow(RangeError)
    expect(isInterCode(2.5)).toBe(false)
    expect(isInterCode('1')).toBe(false)
  })
})
