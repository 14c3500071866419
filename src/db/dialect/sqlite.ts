import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import SqliteDatabase from 'better-sqlite3'
import { Kysely, SqliteDialect, sql } from 'kysely'
import type { Database } from '../schema.ts'
import type { DialectAdapter } from './dialect-adapter.ts'

/**
 * The embedded database: one file in DATA, WAL so readers never block the writer, and synchronous=FULL so
 * a write that was acknowledged survives power loss, not only a process crash.
 */
export function openSqlite(dataDir: string, file = 'louder.sqlite'): DialectAdapter {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  const path = join(dataDir, file)
  const handle = new SqliteDatabase(path)
  handle.pragma('journal_mode = WAL')
  handle.pragma('synchronous = FULL')
  handle.pragma('foreign_keys = ON')
  // Another process (a worker, `louder backup`) may hold the write lock for a moment: wait, don't fail.
  handle.pragma('busy_timeout = 10000')
  const kysely = new Kysely<Database>({ dialect: new SqliteDialect({ database: handle }) })

  return {
    name: 'sqlite',
    kysely,
    caps: { skipLocked: false, fullText: 'fts5', listen: false },
    async writeTransaction(fn) {
      // BEGIN IMMEDIATE takes the write lock up front: a deferred transaction that reads and then writes
      // fails with SQLITE_BUSY_SNAPSHOT instead of waiting when another process wrote in between.
      return kysely.connection().execute(async (conn) => {
        await sql`begin immediate`.execute(conn)
        try {
          const result = await fn(conn)
          await sql`commit`.execute(conn)
          return result
        } catch (err) {
          await sql`rollback`.execute(conn)
          throw err
        }
      })
    },
    async readSnapshot(fn) {
      return kysely.connection().execute(async (conn) => {
        await sql`begin`.execute(conn)
        try {
          // A deferred transaction takes its WAL snapshot at the first read.
          await sql`select count(*) from meta`.execute(conn)
          return await fn(conn)
        } finally {
          await sql`rollback`.execute(conn)
        }
      })
    },
    isUniqueViolation(err) {
      const code = (err as { code?: string })?.code
      return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY'
    },
    describe: () => `sqlite ${path}`,
    async close() {
      await kysely.destroy()
    },
  }
}
