/**
 * Finding a planted canary where it must not be: in any file under a data directory (the SQLite database and
 * its WAL, blobs, keys), or in a real `pg_dump` of a PostgreSQL database.
 */
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'

export function filesUnder(dir: string): { path: string; bytes: Buffer }[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? filesUnder(path) : [{ path, bytes: readFileSync(path) }]
  })
}

export function pgDumpBinary(): string {
  const versions = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a))
  for (const v of versions) {
    const bin = `/usr/lib/postgresql/${v}/bin/pg_dump`
    try {
      statSync(bin)
      return bin
    } catch {}
  }
  throw new Error('pg_dump not found under /usr/lib/postgresql')
}

/** A plain-SQL dump of the whole database at `databaseUrl`. */
export function pgDump(databaseUrl: string): Buffer {
  return execFileSync(pgDumpBinary(), ['--no-owner', databaseUrl], { maxBuffer: 256 * 1024 * 1024 })
}

/** The files under `dataDir` that hold `canary` (UTF-8 or UTF-16LE), by path. */
export function filesHolding(dataDir: string, canary: string): string[] {
  const needles = [Buffer.from(canary, 'utf8'), Buffer.from(canary, 'utf16le')]
  return filesUnder(dataDir)
    .filter((f) => needles.some((n) => f.bytes.includes(n)))
    .map((f) => f.path)
}
