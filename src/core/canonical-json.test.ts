import { describe, expect, it } from 'vitest'
import { canonicalJson } from './canonical-json.ts'

describe('RFC 8785 canonical JSON', () => {
  it('sorts keys by UTF-16 code units at every level and drops whitespace', () => {
    expect(canonicalJson({ b: 1, a: [{ z: true, y: null }], '\u20ac': 'x', '\ud83d\ude00': 'y', '\ufb33': 'z' })).toBe(
      '{"a":[{"y":null,"z":true}],"b":1,"\u20ac":"x","\ud83d\ude00":"y","\ufb33":"z"}',
    )
  })

  it('serialises numbers as ECMAScript does (RFC 8785 appendix B samples)', () => {
    expect(canonicalJson([333333333.33333329, 1e30, 4.5, 2e-3, 0.000001, 1e-7, -0])).toBe('[333333333.3333333,1e+30,4.5,0.002,0.000001,1e-7,0]')
  })

  it('escapes strings minimally', () => {
    expect(canonicalJson('\u000f\n"\\/é')).toBe('"\\u000f\\n\\"\\\\/é"')
  })

  it('refuses values JSON cannot hold', () => {
    expect(() => canonicalJson(Number.NaN)).toThrow()
    expect(() => canonicalJson({ f: () => 1 })).toThrow()
  })

  it('gives the same bytes whatever the key order', () => {
    expect(canonicalJson({ x: 1, y: { b: 2, a: 1 } })).toBe(canonicalJson({ y: { a: 1, b: 2 }, x: 1 }))
  })
})
