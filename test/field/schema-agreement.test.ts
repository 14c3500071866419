/**
 * docs/field-folder.schema.json and the reader's own checks (src/field/field-format.ts) say the same about the
 * same front matter: every sample below gets one verdict from Ajv on the published schema, the same from the
 * reader, and the one written beside it. The few things a schema cannot say are listed as the reader's own.
 */
import { readFileSync } from 'node:fs'
import { Ajv2020 } from 'ajv/dist/2020.js'
import { describe, expect, it } from 'vitest'
import { checkFrontMatter, LANGUAGE_PATTERN, MEDIA_PATH_PATTERN, OCCURRED_AT_PATTERN } from '../../src/field/field-format.ts'
import { parseReport } from '../../src/field/front-matter.ts'

const schema = JSON.parse(readFileSync(new URL('../../docs/field-folder.schema.json', import.meta.url), 'utf8'))
const validate = new Ajv2020({ allErrors: true, allowUnionTypes: true }).compile(schema)

const base = { title: 'Shelling near the market', occurred_at: '2024-05-01T14:30:00+03:00' }
const full = {
  ...base,
  event_type: 'Explosions/Remote violence',
  parties: ['Armed group X', 'Civilians'],
  location: { lat: 15.6, lon: 32.5, accuracy: 30 },
  urgent: true,
  language: 'ar-SD',
  media: ['media/a.jpg', { path: 'media/day 2/b.mp4', caption: 'From the roof' }, { path: 'c.png', caption: null }],
  restricted: true,
}

const VALID: [string, unknown][] = [
  ['the minimum', base],
  ['every field', full],
  ['a space for T, no seconds, a spaced offset', { ...base, occurred_at: '2024-05-01 14:30 +03:00' }],
  ['UTC with fractions of a second', { ...base, occurred_at: '2024-05-01T11:30:00.123456Z' }],
  ['nulls for every optional field', { ...base, event_type: null, parties: null, location: null, urgent: null, language: null, media: null, restricted: null }],
  ['a location without accuracy', { ...base, location: { lat: -90, lon: 180 } }],
  ['a title of 300 characters, some outside the BMP', { ...base, title: '🙂'.repeat(150) + 'x'.repeat(150) }],
  ['20 parties of 200 characters', { ...base, parties: Array.from({ length: 20 }, (_, i) => String(i).padEnd(200, 'p')) }],
  ['the earliest and latest years', { ...base, occurred_at: '1900-01-01T00:00:00Z' }],
  ['a language with script and region', { ...base, language: 'zh-Hant-TW' }],
  ['a file name with dots inside', { ...base, media: ['media/..hidden/x..y.jpg', 'media/.x'] }],
]

const INVALID: [string, unknown][] = [
  ['not a mapping', ['a', 'b']],
  ['no title', { occurred_at: base.occurred_at }],
  ['no time', { title: 'x' }],
  ['an empty title', { ...base, title: '' }],
  ['a title of 301 characters', { ...base, title: '🙂'.repeat(301) }],
  ['a title that is a number', { ...base, title: 2024 }],
  ['a NUL in the title', { ...base, title: 'a\u0000b' }],
  ['an unknown key', { ...base, witness: 'Amina' }],
  ['a key in another case', { ...base, occurredAt: base.occurred_at }],
  ['no offset', { ...base, occurred_at: '2024-05-01T14:30:00' }],
  ['an offset without a colon', { ...base, occurred_at: '2024-05-01T14:30:00+0300' }],
  ['hour 24', { ...base, occurred_at: '2024-05-01T24:00:00Z' }],
  ['a leap second', { ...base, occurred_at: '2016-12-31T23:59:60Z' }],
  ['a date without a time', { ...base, occurred_at: '2024-05-01' }],
  ['1899', { ...base, occurred_at: '1899-12-31T23:00:00Z' }],
  ['2200', { ...base, occurred_at: '2200-01-01T00:00:00Z' }],
  ['a time that is a number', { ...base, occurred_at: 1714563000 }],
  ['an unknown event type', { ...base, event_type: 'Skirmish' }],
  ['a sub-event type as the event type', { ...base, event_type: 'Air/drone strike' }],
  ['21 parties', { ...base, parties: Array.from({ length: 21 }, (_, i) => `p${i}`) }],
  ['an empty party', { ...base, parties: [''] }],
  ['a party of 201 characters', { ...base, parties: ['p'.repeat(201)] }],
  ['parties as text', { ...base, parties: 'Armed group X' }],
  ['latitude 91', { ...base, location: { lat: 91, lon: 0 } }],
  ['longitude -181', { ...base, location: { lat: 0, lon: -181 } }],
  ['no longitude', { ...base, location: { lat: 0 } }],
  ['an extra location key', { ...base, location: { lat: 0, lon: 0, alt: 5 } }],
  ['negative accuracy', { ...base, location: { lat: 0, lon: 0, accuracy: -1 } }],
  ['a location as text', { ...base, location: '15.6,32.5' }],
  ['urgent as yes', { ...base, urgent: 'yes' }],
  ['a language name', { ...base, language: 'English' }],
  ['media as text', { ...base, media: 'media/a.jpg' }],
  ['a media path with ..', { ...base, media: ['media/../../etc/passwd'] }],
  ['a media path that is ..', { ...base, media: ['..'] }],
  ['an absolute media path', { ...base, media: ['/etc/passwd'] }],
  ['a drive letter', { ...base, media: ['C:/Users/x.jpg'] }],
  ['a backslash', { ...base, media: ['media\\a.jpg'] }],
  ['an empty segment', { ...base, media: ['media//a.jpg'] }],
  ['a . segment', { ...base, media: ['./media/a.jpg'] }],
  ['a trailing slash', { ...base, media: ['media/'] }],
  ['the sync state', { ...base, media: ['.louder/outbox.json'] }],
  ['an empty media path', { ...base, media: [''] }],
  ['a media object without a path', { ...base, media: [{ caption: 'x' }] }],
  ['a media object with an extra key', { ...base, media: [{ path: 'a.jpg', sha256: 'x' }] }],
  ['a caption that is a number', { ...base, media: [{ path: 'a.jpg', caption: 5 }] }],
  ['restricted as text', { ...base, restricted: 'yes' }],
]

/** Valid to the schema, refused by the reader: what a JSON Schema cannot express. */
const READER_ONLY: [string, unknown][] = [
  ['a day that does not exist', { ...base, occurred_at: '2024-02-30T10:00:00Z' }],
  ['an instant before 1900 in UTC', { ...base, occurred_at: '1900-01-01T00:30:00+01:00' }],
  ['a media path listed twice', { ...base, media: ['media/a.jpg', { path: 'media/a.jpg', caption: 'again' }] }],
]

describe('the front matter schema and the reader agree', () => {
  it('carries the reader\'s own patterns', () => {
    const plain = (r: RegExp) => r.source.replaceAll('\\/', '/')
    expect(schema.properties.occurred_at.pattern).toBe(plain(OCCURRED_AT_PATTERN))
    expect(schema.properties.language.anyOf[0].pattern).toBe(plain(LANGUAGE_PATTERN))
    expect(schema.properties.media.anyOf[0].items.anyOf[0].pattern).toBe(plain(MEDIA_PATH_PATTERN))
  })

  for (const [name, sample] of VALID)
    it(`accepts ${name}`, () => {
      expect(validate(sample), JSON.stringify(validate.errors)).toBe(true)
      expect(checkFrontMatter(sample)).toHaveProperty('ok')
    })

  for (const [name, sample] of INVALID)
    it(`refuses ${name}`, () => {
      expect(validate(sample)).toBe(false)
      expect(checkFrontMatter(sample)).toHaveProperty('errors')
    })

  for (const [name, sample] of READER_ONLY)
    it(`leaves to the reader: ${name}`, () => {
      expect(validate(sample)).toBe(true)
      expect(checkFrontMatter(sample)).toHaveProperty('errors')
    })

  it('reads the samples from YAML as the data they are (JSON is YAML: nothing is converted on the way)', () => {
    for (const [, sample] of [...VALID, ...INVALID, ...READER_ONLY]) {
      const parsed = parseReport(`---\n${JSON.stringify(sample)}\n---\nnarrative\n`)
      expect(parsed).toHaveProperty('ok')
      if ('ok' in parsed) expect(parsed.ok.data).toEqual(sample)
    }
  })
})
