import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { hashMedia } from '../../src/core/matching/hash-media.ts'
import { makeMediaDecoder } from '../../src/media/media-decoder.ts'

/** Copies of ../shared/testdata/pdq (facebook/ThreatExchange reference images and hashes). */
export const PDQ_FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'pdq')

export function fixture(name: string): string {
  return join(PDQ_FIXTURES, name)
}

/** expected.csv: file → the C++ reference's hash. */
export function expectedHashes(): Record<string, string> {
  const [, ...rows] = readFileSync(fixture('expected.csv'), 'utf8').trim().split('\n')
  return Object.fromEntries(rows.map((row) => row.split(',') as [string, string]))
}

export const decoder = makeMediaDecoder()

export async function hashImageFile(name: string) {
  const result = await hashMedia({ decoder }, { path: fixture(name) })
  return { ...result.frames[0]!, dihedral: result.dihedral! }
}
