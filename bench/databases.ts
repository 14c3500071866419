/**
 * Where a bench runs, per dialect: a fresh temp data directory for SQLite; for PostgreSQL a throw-away
 * server (production-like shared_buffers; fsync off in scripts/postgres-tmp.ts only speeds up seeding) with
 * an empty database. Skips PostgreSQL, saying so, where its server binaries are missing.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { findPostgresBin, startTempPostgres } from '../scripts/postgres-tmp.ts'
import type { DialectName } from '../src/db/dialect/dialect-adapter.ts'
import { postgresAdmin } from '../src/db/dialect/postgres.ts'
import { progress } from './report.ts'

export interface BenchDatabase {
  dataDir: string
  databaseUrl: string | undefined
}

export async function forEachBenchDatabase(dialects: readonly DialectName[], fn: (dialect: DialectName, where: BenchDatabase) => Promise<void>): Promise<void> {
  for (const dialect of dialects) {
    if (dialect !== 'sqlite' && dialect !== 'postgres') throw new Error(`LOUDER_BENCH_DIALECTS: unknown dialect ${dialect as string}`)
    if (dialect === 'postgres' && !(await findPostgresBin())) {
      progress('PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: skipping the PostgreSQL half')
      continue
    }
    const server = dialect === 'postgres' ? await startTempPostgres({ prefix: 'louder-bench-pg-', settings: { shared_buffers: '1GB' } }) : null
    const dataDir = await mkdtemp(join(tmpdir(), 'louder-bench-'))
    try {
      let databaseUrl: string | undefined
      if (server) {
        await postgresAdmin(server.url, 'create database louder_bench')
        const url = new URL(server.url)
        url.pathname = '/louder_bench'
        databaseUrl = url.href
      }
      await fn(dialect, { dataDir, databaseUrl })
    } finally {
      await server?.stop()
      await rm(dataDir, { recursive: true, force: true })
    }
  }
}
