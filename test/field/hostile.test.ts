/**
 * Hostile and broken field folders: each bad report is one clear problem naming its file (and line where there
 * is one), is left out whole, and the good report beside it still reads.
 */
import { mkdirSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { readFieldFolder } from '../../src/field/field-folder.ts'
import { encryptWithPassphrase } from '../../src/field/restricted-age.ts'
import { tmpDir } from '../support/tmp.ts'
import { GOOD, newFolder, PASSPHRASE, TEST_WORK_FACTOR, writeMedia, writeReport } from './support.ts'

/** A folder with one good report and the given bad one; returns the bad one's problems after checking the good one read. */
async function problemsOf(setup: (dir: string) => unknown, options: { passphrase?: string; maxMediaBytes?: number } = {}) {
  const dir = await newFolder()
  writeMedia(dir, 'media/good.jpg')
  writeReport(dir, 'good', `${GOOD}media: [media/good.jpg]\n`)
  await setup(dir)
  const { reports, problems } = await readFieldFolder(dir, options)
  expect(reports.map((r) => r.id)).toEqual(['good'])
  return problems
}

describe('field folder: hostile input', () => {
  it('broken front matter: the YAML error with its line', async () => {
    const problems = await problemsOf((dir) => writeReport(dir, 'bad', 'title: Broken\noccurred_at: 2024-05-01T10:00:00Z\nparties: [a, b\n  c: : :\n'))
    expect(problems).toEqual([{ file: 'reports/bad.md', line: expect.any(Number), message: expect.stringMatching(/^the front matter is not valid YAML: /) }])
    expect(problems[0]!.line).toBeGreaterThanOrEqual(4)
  })

  it('no front matter, or one never closed', async () => {
    const problems = await problemsOf((dir) => {
      writeFileSync(join(dir, 'reports', 'plain.md'), '# Just Markdown\n')
      writeFileSync(join(dir, 'reports', 'open.md'), '---\ntitle: x\n\nnarrative\n')
    })
    expect(problems).toEqual([
      { file: 'reports/open.md', line: 1, message: 'the front matter is never closed: end it with a line "---" before the narrative' },
      { file: 'reports/plain.md', line: 1, message: 'a report must start with a line "---" opening its YAML front matter' },
    ])
  })

  it('a YAML alias bomb is refused before it expands', async () => {
    const bomb = [
      'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
      'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]',
      'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]',
      'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]',
      'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]',
      'f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]',
      'g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]',
      'title: *g',
      'occurred_at: 2024-05-01T10:00:00Z',
      '',
    ].join('\n')
    const problems = await problemsOf((dir) => writeReport(dir, 'bomb', bomb))
    expect(problems).toEqual([{ file: 'reports/bomb.md', line: 3, message: expect.stringMatching(/^the front matter uses aliases beyond the limit \(16\): .*resource exhaustion/) }])
  })

  it('YAML tags are refused, not resolved', async () => {
    const problems = await problemsOf((dir) => {
      writeReport(dir, 'fn', `${GOOD}language: !!js/function "function () { return process.exit(1) }"\n`)
      writeReport(dir, 'custom', `title: !secret x\noccurred_at: 2024-05-01T10:00:00Z\n`)
      writeReport(dir, 'stamp', `title: t\noccurred_at: !!timestamp 2024-05-01T10:00:00Z\n`)
    })
    expect(problems).toEqual([
      { file: 'reports/custom.md', line: 2, message: expect.stringMatching(/^YAML tags \(!secret\) are not allowed/) },
      { file: 'reports/fn.md', line: 4, message: expect.stringMatching(/^YAML tags \(.*js\/function\) are not allowed/) },
      { file: 'reports/stamp.md', line: 3, message: expect.stringMatching(/^YAML tags \(.*timestamp\) are not allowed/) },
    ])
  })

  it('a key twice, an unknown key, a time without its offset, and a timestamp YAML would have turned into a date', async () => {
    const problems = await problemsOf((dir) => {
      writeReport(dir, 'twice', `${GOOD}title: again\n`)
      writeReport(dir, 'unknown', `${GOOD}witness: Amina\n`)
      writeReport(dir, 'naive', 'title: t\noccurred_at: 2024-05-01 14:30\n')
      writeReport(dir, 'feb30', 'title: t\noccurred_at: 2024-02-30T10:00:00Z\n')
      writeReport(dir, 'number', 'title: 2024\noccurred_at: 2024-05-01T10:00:00Z\n')
    })
    expect(problems).toEqual([
      { file: 'reports/feb30.md', line: 3, message: 'occurred_at names a day that does not exist (2024-02-30)' },
      { file: 'reports/naive.md', line: 3, message: expect.stringMatching(/^occurred_at must be a time with its offset/) },
      { file: 'reports/number.md', line: 2, message: 'title must be text' },
      { file: 'reports/twice.md', line: 4, message: expect.stringMatching(/^the front matter is not valid YAML: Map keys must be unique/) },
      { file: 'reports/unknown.md', line: 4, message: expect.stringMatching(/^unknown key "witness"/) },
    ])
  })

  it('media paths with "..", absolute paths, and symbolic links out of the folder', async () => {
    const outside = tmpDir('louder-field-outside-')
    writeFileSync(join(outside, 'secret.txt'), 'outside the folder')
    const problems = await problemsOf((dir) => {
      writeReport(dir, 'dotdot', `${GOOD}media:\n  - media/../../secret.txt\n`)
      writeReport(dir, 'absolute', `${GOOD}media:\n  - path: ${join(outside, 'secret.txt')}\n`)
      symlinkSync(join(outside, 'secret.txt'), join(dir, 'media', 'link.jpg'))
      writeReport(dir, 'symlink', `${GOOD}media: [media/good.jpg, media/link.jpg]\n`)
      symlinkSync(outside, join(dir, 'media', 'dirlink'))
      writeReport(dir, 'dirlink', `${GOOD}media: [media/dirlink/secret.txt]\n`)
      writeReport(dir, 'backslash', `${GOOD}media: ['media\\..\\..\\secret.txt']\n`)
      writeReport(dir, 'state', `${GOOD}media: [.louder/outbox.json]\n`)
    })
    expect(problems).toEqual([
      { file: 'reports/absolute.md', line: 5, message: expect.stringMatching(/is absolute; media paths are relative to the folder/) },
      { file: 'reports/backslash.md', line: 4, message: expect.stringMatching(/may not hold "\.\.", "\.", empty segments or backslashes/) },
      { file: 'reports/dirlink.md', line: 4, message: 'media media/dirlink/secret.txt: leaves the folder (through a symbolic link); media must lie inside the field folder' },
      { file: 'reports/dotdot.md', line: 5, message: expect.stringMatching(/may not hold "\.\."/) },
      { file: 'reports/state.md', line: 4, message: expect.stringMatching(/reserved for the sync state/) },
      { file: 'reports/symlink.md', line: 4, message: 'media media/link.jpg: leaves the folder (through a symbolic link); media must lie inside the field folder' },
    ])
  })

  it('a missing media file, a folder named as media, an empty one, and one over the size limit', async () => {
    const problems = await problemsOf(
      (dir) => {
        writeReport(dir, 'missing', `${GOOD}media:\n  - media/good.jpg\n  - media/gone.jpg\n`)
        mkdirSync(join(dir, 'media', 'folder'))
        writeReport(dir, 'folder', `${GOOD}media: [media/folder]\n`)
        writeMedia(dir, 'media/empty.jpg', '')
        writeReport(dir, 'empty', `${GOOD}media: [media/empty.jpg]\n`)
        // Sparse: the size is what the reader checks, and it never reads the bytes.
        writeMedia(dir, 'media/huge.mp4', '')
        truncateSync(join(dir, 'media', 'huge.mp4'), 2 * 1024 * 1024 + 1)
        writeReport(dir, 'huge', `${GOOD}media: [media/huge.mp4]\n`)
      },
      { maxMediaBytes: 2 * 1024 * 1024 },
    )
    expect(problems).toEqual([
      { file: 'reports/empty.md', line: 4, message: 'media media/empty.jpg: is empty' },
      { file: 'reports/folder.md', line: 4, message: 'media media/folder: is not a regular file' },
      { file: 'reports/huge.md', line: 4, message: `media media/huge.mp4: is ${2 * 1024 * 1024 + 1} bytes; media files over ${2 * 1024 * 1024} bytes are refused` },
      { file: 'reports/missing.md', line: 6, message: 'media media/gone.jpg: no such file' },
    ])
  })

  it('oversized report files and front matter, not UTF-8, a NUL, no narrative', async () => {
    const problems = await problemsOf((dir) => {
      writeReport(dir, 'big', GOOD, 'x'.repeat(300 * 1024))
      writeReport(dir, 'bigfm', `${GOOD}# ${'y'.repeat(70 * 1024)}\n`)
      writeFileSync(join(dir, 'reports', 'latin1.md'), Buffer.concat([Buffer.from(`---\n${GOOD}---\n`), Buffer.from([0xe9, 0x74, 0xe9, 0x0a])]))
      writeReport(dir, 'nul', GOOD, 'before\nafter \u0000 the NUL')
      writeReport(dir, 'silent', GOOD, '   \n\n')
    })
    expect(problems).toEqual([
      { file: 'reports/big.md', message: `is ${300 * 1024 + GOOD.length + 9} bytes; reports over ${256 * 1024} bytes are refused` },
      { file: 'reports/bigfm.md', line: 1, message: `the front matter is over ${64 * 1024} bytes` },
      { file: 'reports/latin1.md', message: 'is not UTF-8 text' },
      { file: 'reports/nul.md', line: 6, message: 'holds a NUL character' },
      { file: 'reports/silent.md', message: 'the report has no narrative: write it below the front matter' },
    ])
  })

  it('symbolic-linked and oddly named report files, stray files and orphan restricted parts', async () => {
    const outside = tmpDir('louder-field-outside-')
    writeFileSync(join(outside, 'elsewhere.md'), `---\n${GOOD}---\nnarrative\n`)
    const problems = await problemsOf((dir) => {
      symlinkSync(join(outside, 'elsewhere.md'), join(dir, 'reports', 'linked.md'))
      writeReport(dir, 'has space', GOOD)
      writeFileSync(join(dir, 'reports', 'notes.txt'), 'x')
      writeFileSync(join(dir, 'reports', 'lost.restricted.age'), 'x')
      writeFileSync(join(dir, 'reports', '.hidden.md.1234.tmp'), 'half a write')
    })
    expect(problems).toEqual([
      { file: 'reports/has space.md', message: expect.stringMatching(/^a report file name is its id/) },
      { file: 'reports/linked.md', message: 'is a symbolic link; a report must be a regular file inside the folder' },
      { file: 'reports/lost.restricted.age', message: 'restricted part without its report (reports/lost.md is missing)' },
      { file: 'reports/notes.txt', message: expect.stringMatching(/^not part of a field folder/) },
    ])
  })

  it('restricted parts that are not age, not a passphrase file, too costly to open, too large, or the wrong shape', async () => {
    const withRestricted = `${GOOD}restricted: true\n`
    const seal = (value: unknown, logN = TEST_WORK_FACTOR) => encryptWithPassphrase(JSON.stringify(value), PASSPHRASE, logN)
    const problems = await problemsOf(
      async (dir) => {
        const put = (id: string, bytes: Uint8Array | string) => {
          writeReport(dir, id, withRestricted)
          writeFileSync(join(dir, 'reports', `${id}.restricted.age`), bytes)
        }
        put('clear', JSON.stringify({ notes: 'in clear' }))
        put('costly', (await seal({})).slice(0)) // replaced below with a forged header
        const forged = Buffer.from(await seal({ format: 'louder-field-restricted', version: 1, report: 'costly', notes: null, witnesses: [] }))
        writeFileSync(join(dir, 'reports', 'costly.restricted.age'), Buffer.from(forged.toString('latin1').replace(/(-> scrypt \S+) 10\n/, '$1 20\n'), 'latin1'))
        put('shape', await seal({ format: 'louder-field-restricted', version: 1, report: 'shape', witnesses: [{ name: '', role: 'spy' }] }))
        writeReport(dir, 'large', withRestricted)
        writeFileSync(join(dir, 'reports', 'large.restricted.age'), '')
        truncateSync(join(dir, 'reports', 'large.restricted.age'), 2 * 1024 * 1024)
      },
      { passphrase: PASSPHRASE },
    )
    expect(problems).toEqual([
      { file: 'reports/clear.restricted.age', message: 'is not an age file (age-encryption.org/v1)' },
      { file: 'reports/costly.restricted.age', message: 'asks for scrypt work factor 20; at most 18 is opened' },
      { file: 'reports/large.restricted.age', message: `is ${2 * 1024 * 1024} bytes; restricted parts over ${1024 * 1024} bytes are refused` },
      { file: 'reports/shape.restricted.age', message: "witness 1's name must not be empty; witness 1's role must be one of witness, victim, other" },
    ])
  })
})
