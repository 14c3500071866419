import { describe, expect, it } from 'vitest'
import { ValidationError } from '../core/errors.ts'
import { MAX_JSON_DEPTH, parseJsonBody } from './json-body.ts'

const parse = (text: string | Buffer) => parseJsonBody(typeof text === 'string' ? Buffer.from(text) : text)

describe('strict JSON bodies', () => {
  it('parse ordinary documents, brackets inside strings included', () => {
    expect(parse('{"a":[1,{"b":"[[[{{{"}]}')).toEqual({ a: [1, { b: '[[[{{{' }] })
    expect(parse(`{"s":"quote \\" and [ bracket"}`)).toEqual({ s: 'quote " and [ bracket' })
  })

  it(`allow ${MAX_JSON_DEPTH} levels and refuse one more`, () => {
    expect(() => parse('['.repeat(MAX_JSON_DEPTH) + ']'.repeat(MAX_JSON_DEPTH))).not.toThrow()
    expect(() => parse('['.repeat(MAX_JSON_DEPTH + 1) + ']'.repeat(MAX_JSON_DEPTH + 1))).toThrow(ValidationError)
    expect(() => parse('['.repeat(1_000_000))).toThrow(/nested too deeply/)
  })

  it('refuse invalid UTF-8 instead of replacing it', () => {
    expect(() => parse(Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]))).toThrow(/UTF-8/)
  })

  it('refuse prototype poisoning', () => {
    expect(() => parse('{"__proto__":{"admin":true}}')).toThrow(ValidationError)
    expect(() => parse('{"constructor":{"prototype":{"admin":true}}}')).toThrow(ValidationError)
  })

  it('name the syntax error', () => {
    try {
      parse('{"a":')
      expect.unreachable()
    } catch (err) {
      expect((err as ValidationError).errors[0]!.field).toBe('/body')
    }
  })
})

describe('duplicate keys', () => {
  it('are refused, so a second value cannot quietly win', () => {
    expect(() => parse('{"roles":["researcher"],"roles":["admin"]}')).toThrow(/repeats a key/)
    expect(() => parse('{"a":{"x":1,"x":2}}')).toThrow(ValidationError)
    expect(() => parse('{"r\\u006fles":1,"roles":2}')).toThrow(ValidationError)
  })

  it('are allowed in different objects and as values', () => {
    expect(parse('{"a":{"x":1},"b":{"x":2},"c":["a","a"],"d":"a"}')).toEqual({ a: { x: 1 }, b: { x: 2 }, c: ['a', 'a'], d: 'a' })
    expect(parse('[{"x":1},{"x":1}]')).toEqual([{ x: 1 }, { x: 1 }])
    expect(parse('{"k":"v,\\"k\\":"}')).toEqual({ k: 'v,"k":' })
  })
})
