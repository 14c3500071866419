/** STYLE.md, vendors at the edge: sharp is imported and ffmpeg/ffprobe are run only under src/media/. */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { expect, it } from 'vitest'

const SRC = join(import.meta.dirname, '..', '..', 'src')

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return sourceFiles(path)
    return name.endsWith('.ts') && !name.endsWith('.test.ts') ? [path] : []
  })
}

it('keeps sharp, exifr and ffmpeg inside src/media', () => {
  const offences: string[] = []
  for (const path of sourceFiles(SRC)) {
    const rel = relative(SRC, path)
    if (rel.startsWith('media/')) continue
    const text = readFileSync(path, 'utf8')
    if (/from\s+['"](sharp|exifr)['"]/.test(text)) offences.push(`${rel} imports sharp or exifr`)
    if (/['"]ff(mpeg|probe)['"]/.test(text)) offences.push(`${rel} runs ffmpeg`)
  }
  expect(offences).toEqual([])
})
