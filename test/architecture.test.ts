import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'

const SRC = join(import.meta.dirname, '..', 'src')

/** Vendor packages and where they may be imported (STYLE.md: vendors at the edge). */
const VENDOR_HOMES: Record<string, string[]> = {
  'better-sqlite3': ['db/dialect/'],
  pg: ['db/dialect/'],
  '@node-rs/argon2': ['protection/passwords.ts'],
  fastify: ['http/'],
  '@tus/server': ['http/routes/uploads.ts'],
  '@tus/utils': ['http/tus/encrypted-file-store.ts'],
  '@fastify/swagger': ['http/'],
  ajv: ['http/'],
  'ajv-formats': ['http/'],
  'secure-json-parse': ['http/'],
  'age-encryption': ['ops/', 'field/restricted-age.ts'],
  yaml: ['field/front-matter.ts'],
  tar: ['ops/'],
  commander: ['cli/'],
  sharp: ['media/'],
  pino: ['log.ts', 'jobs/worker.ts'],
}

/** The core may use these and nothing that does I/O. */
const CORE_ALLOWED = new Set(['node:crypto'])

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return sourceFiles(path)
    return name.endsWith('.ts') && !name.endsWith('.test.ts') ? [path] : []
  })
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8')
  return [...text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/gm), ...text.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]!)
}

describe('layering', () => {
  const files = sourceFiles(SRC).map((path) => ({ path, rel: relative(SRC, path), imports: importsOf(path) }))

  it('imports each vendor package only in its adapter', () => {
    const offences: string[] = []
    for (const file of files)
      for (const spec of file.imports) {
        const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!
        const homes = VENDOR_HOMES[pkg]
        if (homes && !homes.some((home) => file.rel.startsWith(home))) offences.push(`${file.rel} imports ${spec}`)
      }
    expect(offences).toEqual([])
  })

  it('keeps the core free of I/O and of outer layers', () => {
    const offences: string[] = []
    for (const file of files.filter((f) => f.rel.startsWith('core/')))
      for (const spec of file.imports) {
        if (spec.startsWith('.')) {
          const target = relative(SRC, join(file.path, '..', spec))
          if (!target.startsWith('core/')) offences.push(`${file.rel} imports ${spec}`)
        } else if (!CORE_ALLOWED.has(spec)) offences.push(`${file.rel} imports ${spec}`)
      }
    expect(offences).toEqual([])
  })

  it('reads the environment only in src/config', () => {
    const readers = files.filter((f) => !f.rel.startsWith('config/') && /process\.env\b/.test(readFileSync(f.path, 'utf8')))
    expect(readers.map((f) => f.rel)).toEqual([])
  })
})
