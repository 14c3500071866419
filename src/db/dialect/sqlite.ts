import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import SqliteDatabase from 'better-sqlite3'
import { Kysely, SqliteDialect, type SqliteDatabase as SqliteDatabaseLike, sql } from 'kysely'
import type { Database } from '../schema.ts'
import type { DialectAdapter } from './dialect-adapter.ts'

/** The embedded database's file name inside DATA. */
export const SQLITE_FILE = 'louder.sqlite'

/**
 * The embedded database: one file in DATA, WAL so readers never block the writer, and synchronous=FULL so
 * a write that was acknowledged survives power loss, not only a process crash.
 */
export function openSqlite(dataDir: string, file = SQLITE_FILE): DialectAdapter {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  const path = join(dataDir, file)
  const handle = new SqliteDatabase(path)
  // Another process (a worker, `louder backup`) may hold the write lock for a moment: wait, don't fail. Set
  // first: switching a new file to WAL takes a lock too, and several processes may open it at once.
  handle.pragma('busy_timeout = 10000')
  handle.pragma('journal_mode = WAL')
  handle.pragma('synchronous = FULL')
  handle.pragma('foreign_keys = ON')
  // Read pages through a memory map instead of a read() call each: a page of 100 observations touches ~100
  // table pages, and the syscalls were a third of its cost (bench/README.md, `api`). Address space, not memory.
  handle.pragma('mmap_size = 1073741824')
  const kysely = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(handle) }) })

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

/**
 * Kysely prepares every query it runs, and better-sqlite3 compiles SQL on every prepare(): for the few
 * dozen statement shapes Louder runs over and over that was a seventh of a busy server's CPU (bench/README.md,
 * `api`). Compiled statements are kept by their SQL text instead. Reuse is safe because Kysely runs one
 * query at a time on its single SQLite connection, so a statement is never asked for while it is running.
 */
function withStatementCache(handle: SqliteDatabase.Database, size = 500): SqliteDatabaseLike {
  const cache = new Map<string, SqliteDatabase.Statement>()
  return {
    close: () => handle.close(),
    prepare(text) {
      let statement = cache.get(text)
      if (statement) {
        // Least recently used goes first: a Map iterates in insertion order.
        cache.delete(text)
      } else {
        statement = handle.prepare(text)
        if (cache.size >= size) cache.delete(cache.keys().next().value!)
      }
      cache.set(text, statement)
      return statement
    },
  }
}

