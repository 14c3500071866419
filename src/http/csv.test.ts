import { describe, expect, it } from 'vitest'
import { csvCell, csvRow } from './csv.ts'

describe('CSV cells (RFC 4180)', () => {
  it.each([
    [null, ''],
    [undefined, ''],
    ['plain', 'plain'],
    [401, '401'],
    ['a,b', '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ['two\nlines', '"two\nlines"'],
    ['cr\r\nlf', '"cr\r\nlf"'],
    [' padded ', '" padded "'],
    [{ fields: ['a', 'b'] }, '"{""fields"":[""a"",""b""]}"'],
  ])('%j → %j', (value, cell) => {
    expect(csvCell(value)).toBe(cell)
  })

  it.each([
    ['=1+1', "'=1+1"],
    ['+cmd', "'+cmd"],
    ['-2+3', "'-2+3"],
    ['@SUM(A1)', "'@SUM(A1)"],
    ['\t=x', "'\t=x"],
    ['=HYPERLINK("http://evil","x")', '"\'=HYPERLINK(""http://evil"",""x"")"'],
  ])('neutralises the formula %j', (value, cell) => {
    expect(csvCell(value)).toBe(cell)
  })

  it('ends each record with CRLF', () => {
    expect(csvRow(['a', null, 3])).toBe('a,,3\r\n')
  })
})
