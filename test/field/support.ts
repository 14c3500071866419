import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createFieldFolder } from '../../src/field/field-writer.ts'
import { tmpDir } from '../support/tmp.ts'

/** Fast scrypt for tests (2^10); `louder field add` itself uses age's default, 18. */
export const TEST_WORK_FACTOR = 10
export const PASSPHRASE = 'correct horse battery staple'

/** A new, empty field folder. */
export async function newFolder(): Promise<string> {
  const dir = join(tmpDir('louder-field-'), 'folder')
  await createFieldFolder(dir)
  return dir
}

/** Writes `reports/<id>.md` by hand, as a researcher's editor would. */
export function writeReport(dir: string, id: string, frontMatter: string, narrative = 'What was seen.'): string {
  const file = join(dir, 'reports', `${id}.md`)
  writeFileSync(file, `---\n${frontMatter}---\n${narrative}\n`)
  return file
}

/** A small file standing in for a photo: the reader checks paths and sizes, never decodes. */
export function writeMedia(dir: string, rel: string, bytes: Buffer | string = 'not really a jpeg'): string {
  const path = join(dir, rel)
  writeFileSync(path, bytes)
  return path
}

export const GOOD = 'title: A report\noccurred_at: 2024-05-01T14:30:00+03:00\n'
