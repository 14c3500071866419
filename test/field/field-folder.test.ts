/**
 * The field folder as the writer makes it and the reader reads it: a report round-trips field for field, its
 * restricted part is nowhere in the folder in clear, opens only with the passphrase, and a bad report among
 * good ones costs only itself.
 */
import { mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FieldFolderError, fieldReportToObservation, readFieldFolder } from '../../src/field/field-folder.ts'
import { addFieldReport, createFieldFolder, FieldInputError, type NewFieldReport } from '../../src/field/field-writer.ts'
import { filesHolding, filesUnder } from '../support/canary.ts'
import { tmpDir } from '../support/tmp.ts'
import { GOOD, newFolder, PASSPHRASE, TEST_WORK_FACTOR, writeMedia, writeReport } from './support.ts'

const CANARY = 'CANARY-FIELD-RESTRICTED-Q7W3'
const fast = { passphrase: PASSPHRASE, scryptWorkFactor: TEST_WORK_FACTOR }

function fullReport(photo: string): NewFieldReport {
  return {
    title: 'Shelling near the central market',
    narrative: '\nThree shells fell at 14:30.\n\nThe **north** side of the market burned.\n\n',
    occurredAt: '2024-05-01 14:30 +03:00',
    eventType: 'Explosions/Remote violence',
    parties: ['Armed group "X"', 'Civilians: traders'],
    location: { lat: 15.6, lon: 32.5, accuracy: 30 },
    urgent: true,
    language: 'ar-SD',
    media: [{ file: photo, caption: 'The crater, looking north' }],
    restricted: {
      notes: `Met the trader at the clinic. ${CANARY}`,
      witnesses: [
        { name: `Amina ${CANARY}`, contact: `+249 000 ${CANARY}`, role: 'witness', consent: { publication: false, partners: true, court: true } },
        { name: 'A second person', contact: null, role: 'victim', consent: null },
      ],
    },
  }
}

describe('field folder: new, add, read', () => {
  it('makes a folder with its marker, README and folders, refuses a non-empty foreign folder, and leaves an existing one alone', async () => {
    const base = tmpDir('louder-field-new-')
    const dir = join(base, 'f')
    expect(await createFieldFolder(dir)).toEqual({ created: true })
    expect(readdirSync(dir).sort()).toEqual(['README.txt', 'louder-field.json', 'media', 'reports'])
    expect(JSON.parse(readFileSync(join(dir, 'louder-field.json'), 'utf8'))).toEqual({ format: 'louder-field', version: 1 })
    expect(await createFieldFolder(dir)).toEqual({ created: false })
    expect(await readFieldFolder(dir)).toEqual({ reports: [], problems: [] })

    const other = join(base, 'other')
    mkdirSync(other)
    writeFileSync(join(other, 'thesis.docx'), 'x')
    await expect(createFieldFolder(other)).rejects.toThrow(/not empty and not a field folder/)
    expect(readdirSync(other)).toEqual(['thesis.docx'])
    await expect(readFieldFolder(other)).rejects.toBeInstanceOf(FieldFolderError)
    await expect(readFieldFolder(join(base, 'missing'))).rejects.toThrow(/no such folder/)
    writeFileSync(join(other, 'louder-field.json'), '{"format":"louder-field","version":2}')
    await expect(readFieldFolder(other)).rejects.toThrow(/version 2 is not one this Louder reads/)
  })

  it('round-trips every field, copying media into the folder and the restricted part only encrypted', async () => {
    const dir = await newFolder()
    const outside = tmpDir('louder-field-src-')
    const photo = writeMedia(outside, 'IMG 0001.jpg', Buffer.alloc(5000, 7))
    const { id, file } = await addFieldReport(dir, fullReport(photo), fast)
    expect(file).toBe(`reports/${id}.md`)
    expect(id).toMatch(/^20240501-1130-shelling-near-the-central-market-[0-9a-f]{6}$/)

    const { reports, problems } = await readFieldFolder(dir, { passphrase: PASSPHRASE })
    expect(problems).toEqual([])
    expect(reports).toHaveLength(1)
    const report = reports[0]!
    const root = realpathSync(dir)
    expect(report).toEqual({
      id,
      file,
      title: 'Shelling near the central market',
      narrative: 'Three shells fell at 14:30.\n\nThe **north** side of the market burned.',
      eventType: 'Explosions/Remote violence',
      parties: ['Armed group "X"', 'Civilians: traders'],
      occurredAt: '2024-05-01T11:30:00.000Z',
      location: { lat: 15.6, lon: 32.5, accuracy: 30 },
      urgent: true,
      language: 'ar-SD',
      media: [{ relPath: `media/${id}/IMG 0001.jpg`, path: join(root, 'media', id, 'IMG 0001.jpg'), caption: 'The crater, looking north' }],
      restricted: fullReport(photo).restricted,
      hasRestricted: true,
      modifiedAt: expect.any(Number),
    })
    expect(readFileSync(report.media[0]!.path)).toEqual(Buffer.alloc(5000, 7))
    expect(filesHolding(dir, CANARY)).toEqual([])
    expect(filesHolding(dir, 'Met the trader')).toEqual([])

    expect(fieldReportToObservation(report)).toEqual({
      narrative: report.narrative,
      occurredAt: '2024-05-01T11:30:00.000Z',
      location: { lat: 15.6, lon: 32.5 },
      urgent: true,
      language: 'ar-SD',
      media: [],
      restricted: fullReport(photo).restricted,
      title: 'Shelling near the central market',
      eventType: 'Explosions/Remote violence',
      parties: ['Armed group "X"', 'Civilians: traders'],
    })
  })

  it('without the passphrase reads the report and says a restricted part exists; with a wrong one, refuses that report', async () => {
    const dir = await newFolder()
    const photo = writeMedia(tmpDir(), 'p.jpg')
    const { id } = await addFieldReport(dir, fullReport(photo), fast)
    const plain = await readFieldFolder(dir)
    expect(plain.problems).toEqual([])
    expect(plain.reports[0]).toMatchObject({ id, restricted: null, hasRestricted: true })
    expect(fieldReportToObservation(plain.reports[0]!).restricted).toBeNull()

    const wrong = await readFieldFolder(dir, { passphrase: 'not the passphrase' })
    expect(wrong.reports).toEqual([])
    expect(wrong.problems).toEqual([{ file: `reports/${id}.restricted.age`, message: 'does not open with this passphrase (wrong passphrase?)' }])
  })

  it('keeps media already in the folder where they are, and writes no restricted file when there is nothing restricted', async () => {
    const dir = await newFolder()
    mkdirSync(join(dir, 'media', 'day1'))
    writeMedia(dir, 'media/day1/a.jpg')
    const { id } = await addFieldReport(dir, { title: 'Queue at the well', narrative: 'Long queue.', occurredAt: '2024-05-02T08:00:00Z', media: [{ file: join(dir, 'media/day1/a.jpg') }] })
    expect(readdirSync(join(dir, 'reports'))).toEqual([`${id}.md`])
    expect(readdirSync(join(dir, 'media'))).toEqual(['day1'])
    const { reports } = await readFieldFolder(dir)
    expect(reports[0]).toMatchObject({ media: [{ relPath: 'media/day1/a.jpg', caption: null }], restricted: null, hasRestricted: false, eventType: null, parties: [], location: null, urgent: false, language: null })
  })

  it('refuses a bad report before writing anything: every error at once, and witnesses never without a passphrase', async () => {
    const dir = await newFolder()
    const photo = writeMedia(tmpDir(), 'p.jpg')
    const before = filesUnder(dir).map((f) => f.path)
    const bad = { ...fullReport(photo), title: '', occurredAt: '2024-05-01 14:30', eventType: 'Skirmish', media: [{ file: photo }, { file: '/no/such/file.jpg' }] }
    const err = await addFieldReport(dir, bad, fast).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(FieldInputError)
    const message = (err as Error).message
    expect(message).toMatch(/\/no\/such\/file\.jpg: no such file/)
    expect(message).toMatch(/title must not be empty/)
    expect(message).toMatch(/occurred_at must be a time with its offset/)
    expect(message).toMatch(/event_type must be one of ACLED's event types/)
    await expect(addFieldReport(dir, fullReport(photo), {})).rejects.toThrow(/written only encrypted: give a passphrase/)
    expect(filesUnder(dir).map((f) => f.path)).toEqual(before)
    expect(filesHolding(dir, CANARY)).toEqual([])
  })

  it('reads four good reports of five, and names the bad one with its line', async () => {
    const dir = await newFolder()
    for (let i = 1; i <= 4; i++) await addFieldReport(dir, { title: `Report ${i}`, narrative: `Narrative ${i}`, occurredAt: `2024-05-0${i}T10:00:00Z` })
    writeReport(dir, 'broken', 'title: Broken\noccurred_at: 2024-05-01T10:00:00Z\nurgent: maybe\n')
    const { reports, problems } = await readFieldFolder(dir)
    expect(reports.map((r) => r.title).sort()).toEqual(['Report 1', 'Report 2', 'Report 3', 'Report 4'])
    expect(problems).toEqual([{ file: 'reports/broken.md', line: 4, message: 'urgent must be true or false' }])
  })

  it('a restricted file renamed to sit beside another report does not open as that one, and the report it left is not read as naming nobody', async () => {
    const dir = await newFolder()
    const photo = writeMedia(tmpDir(), 'p.jpg')
    const { id } = await addFieldReport(dir, fullReport(photo), fast)
    writeReport(dir, 'other', `${GOOD}restricted: true\n`)
    renameSync(join(dir, 'reports', `${id}.restricted.age`), join(dir, 'reports', 'other.restricted.age'))
    const { reports, problems } = await readFieldFolder(dir, { passphrase: PASSPHRASE })
    expect(reports).toEqual([])
    expect(problems).toEqual([
      { file: `reports/${id}.md`, line: expect.any(Number), message: `says restricted: true, but reports/${id}.restricted.age is missing` },
      { file: 'reports/other.restricted.age', message: `belongs to report "${id}", not "other"` },
    ])
    // A restricted file the front matter does not announce is refused too (it could be anyone's).
    writeReport(dir, 'other', GOOD)
    expect((await readFieldFolder(dir)).problems).toContainEqual({ file: 'reports/other.md', message: 'reports/other.restricted.age exists, but the front matter does not say restricted: true' })
  })
})
