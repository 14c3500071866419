/** `louder field new|add|check` as a researcher runs them: the restricted part never in clear, bad input refused whole. */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { readFieldFolder } from '../../src/field/field-folder.ts'
import { cleanEnv, runLouder } from '../large/server-process.ts'
import { filesHolding, filesUnder } from '../support/canary.ts'
import { tmpDir } from '../support/tmp.ts'

const CANARY = 'CANARY-FIELD-CLI-P4T8'

describe('louder field', () => {
  it('new, add with notes and witnesses (passphrase file or environment), check', { timeout: 120_000 }, async () => {
    const base = tmpDir('louder-field-cli-')
    const dir = join(base, 'field')
    const created = await runLouder(['field', 'new', dir])
    expect(created.code, created.stderr).toBe(0)
    expect(readdirSync(dir).sort()).toEqual(['README.txt', 'louder-field.json', 'media', 'reports'])

    writeFileSync(join(base, 'pass'), 'a long field passphrase\n')
    writeFileSync(join(base, 'notes.txt'), `Met at the clinic. ${CANARY}`)
    writeFileSync(join(base, 'story.md'), 'Three shells fell.\n\nThe market burned.\n')
    writeFileSync(join(base, 'photo.jpg'), Buffer.alloc(2048, 1))
    const add = await runLouder([
      'field', 'add', dir, '--title', 'Shelling near the market', '--narrative-file', join(base, 'story.md'),
      '--event-type', 'Explosions/Remote violence', '--party', 'Armed group X', '--party', 'Traders',
      '--at', '2024-05-01 14:30 +03:00', '--lat', '15.6', '--lon', '32.5', '--accuracy', '25', '--urgent', '--language', 'en',
      '--media', join(base, 'photo.jpg'), '--notes-file', join(base, 'notes.txt'),
      '--witness', `Amina ${CANARY}|+249 ${CANARY}|witness|court,partners`, '--witness', 'Second person||victim',
      '--passphrase-file', join(base, 'pass'),
    ])
    expect(add.code, add.stderr).toBe(0)
    const [id, file] = add.stdout.trim().split(' ')
    expect(file).toBe(`reports/${id}.md`)
    expect(filesHolding(dir, CANARY)).toEqual([])
    expect(filesHolding(dir, 'Met at the clinic')).toEqual([])
    expect(readFileSync(join(dir, file!), 'utf8')).toMatch(/^---\ntitle: Shelling near the market\n[\s\S]*restricted: true\n---\n\nThree shells fell\.\n\nThe market burned\.\n$/)

    const { reports, problems } = await readFieldFolder(dir, { passphrase: 'a long field passphrase' })
    expect(problems).toEqual([])
    expect(reports[0]).toMatchObject({
      id,
      title: 'Shelling near the market',
      occurredAt: '2024-05-01T11:30:00.000Z',
      location: { lat: 15.6, lon: 32.5, accuracy: 25 },
      parties: ['Armed group X', 'Traders'],
      urgent: true,
      language: 'en',
      restricted: {
        notes: `Met at the clinic. ${CANARY}`,
        witnesses: [
          { name: `Amina ${CANARY}`, contact: `+249 ${CANARY}`, role: 'witness', consent: { publication: false, partners: true, court: true } },
          { name: 'Second person', contact: null, role: 'victim', consent: null },
        ],
      },
    })

    // The passphrase from the environment opens it too; `check` lists the report and no problems.
    const checked = await runLouder(['field', 'check', dir], cleanEnv({ LOUDER_FIELD_PASSPHRASE: 'a long field passphrase' }))
    expect(checked.code, checked.stderr).toBe(0)
    expect(checked.stdout).toBe(`ok ${file} (restricted part opened)\n1 reports, 0 problems\n`)
    const wrong = await runLouder(['field', 'check', dir], cleanEnv({ LOUDER_FIELD_PASSPHRASE: 'not it' }))
    expect(wrong.code).toBe(1)
    expect(wrong.stderr).toBe(`reports/${id}.restricted.age: does not open with this passphrase (wrong passphrase?)\n`)
  })

  it('refuses a non-empty folder, witnesses without a passphrase, and bad input, writing nothing', { timeout: 60_000 }, async () => {
    const base = tmpDir('louder-field-cli-')
    const other = join(base, 'other')
    mkdirSync(other)
    writeFileSync(join(other, 'x.txt'), 'mine')
    const refused = await runLouder(['field', 'new', other])
    expect(refused.code).toBe(1)
    expect(refused.stderr).toMatch(/not empty and not a field folder/)

    const dir = join(base, 'field')
    expect((await runLouder(['field', 'new', dir])).code).toBe(0)
    const before = filesUnder(dir).map((f) => f.path)
    const noPass = await runLouder(['field', 'add', dir, '--title', 't', '--narrative', 'n', '--witness', `Amina ${CANARY}||witness`])
    expect(noPass.code).toBe(1)
    expect(noPass.stderr).toMatch(/give --passphrase-file FILE or set LOUDER_FIELD_PASSPHRASE/)
    const bad = await runLouder(['field', 'add', dir, '--title', 't', '--narrative', 'n', '--at', '2024-05-01T10:00:00', '--event-type', 'Skirmish', '--media', join(base, 'nope.jpg')])
    expect(bad.code).toBe(1)
    expect(bad.stderr).toMatch(/nope\.jpg: no such file/)
    expect(bad.stderr).toMatch(/occurred_at must be a time with its offset/)
    expect(bad.stderr).toMatch(/event_type must be one of ACLED's event types/)
    const role = await runLouder(['field', 'add', dir, '--title', 't', '--narrative', 'n', '--witness', 'A||spy'], cleanEnv({ LOUDER_FIELD_PASSPHRASE: 'p' }))
    expect(role.code).toBe(1)
    expect(role.stderr).toMatch(/role must be one of witness, victim, other/)
    expect(filesUnder(dir).map((f) => f.path)).toEqual(before)
    expect(filesHolding(base, CANARY)).toEqual([])
  })
})
