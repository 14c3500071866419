import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import SqliteDatabase from 'better-sqlite3'
import {
  CompiledQuery,
  type DatabaseConnection,
  type Driver,
  Kysely,
  type QueryCompiler,
  type QueryResult,
  SqliteAdapter,
  SqliteDialect,
  sql,
} from 'kysely'
import type { Database } from '../schema.ts'
import type { DialectAdapter } from './dialect-adapter.ts'
import { LiteralLimitSqliteCompiler } from './sqlite-query-compiler.ts'
import { recordCost, SqliteReadPool } from './sqlite-readers.ts'

/** The embedded database's file name inside DATA. */
export const SQLITE_FILE = 'louder.sqlite'

/**
 * Switching a brand-new file to WAL can answer SQLITE_BUSY at once, without waiting out busy_timeout, while
 * another process is doing the same (seen in CI: three processes opening one new database). Retry for up to
 * the same 10 s, briefly sleeping between tries; anything else, or a lock held longer, fails as before.
 */
function switchToWal(handle: SqliteDatabase.Database): void {
  const deadline = Date.now() + 10_000
  for (let pause = 5; ; pause = Math.min(pause * 2, 200)) {
    try {
      handle.pragma('journal_mode = WAL')
      return
    } catch (err) {
      if ((err as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() > deadline) throw err
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, pause)
    }
  }
}

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
  switchToWal(handle)
  handle.pragma('synchronous = FULL')
  handle.pragma('foreign_keys = ON')
  // Read pages through a memory map instead of a read() call each: a page of 100 observations touches ~100
  // table pages, and the syscalls were a third of its cost (bench/README.md, `api`). Address space, not memory.
  handle.pragma('mmap_size = 1073741824')
  const driver = new RoutingSqliteDriver(handle)
  const kysely = new Kysely<Database>({ dialect: new RoutingSqliteDialect(driver) })

  const adapter: DialectAdapter = {
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
    startReaders(count) {
      if (count > 0 && !driver.pool) driver.pool = new SqliteReadPool(path, count)
    },
    async close() {
      await kysely.destroy()
    },
  }
  pools.set(adapter, driver)
  return adapter
}

const pools = new WeakMap<DialectAdapter, RoutingSqliteDriver>()

/** The adapter's reader pool, if it started one (tests). */
export function sqliteReadPool(db: DialectAdapter): SqliteReadPool | null {
  return pools.get(db)?.pool ?? null
}

/**
 * Kysely prepares every query it runs, and better-sqlite3 compiles SQL on every prepare(): for the few
 * dozen statement shapes Louder runs over and over that was a seventh of a busy server's CPU (bench/README.md,
 * `api`). Compiled statements are kept by their SQL text instead. Reuse is safe because only one query at a
 * time runs on the main connection (the driver's lock, and better-sqlite3 is synchronous), so a statement is
 * never asked for while it is running. Each entry also remembers whether the statement may go to a reader.
 */
class StatementCache {
  readonly #handle: SqliteDatabase.Database
  readonly #size: number
  readonly #entries = new Map<string, CachedStatement>()

  constructor(handle: SqliteDatabase.Database, size = 500) {
    this.#handle = handle
    this.#size = size
  }

  get(text: string): CachedStatement {
    let entry = this.#entries.get(text)
    if (entry) {
      // Least recently used goes first: a Map iterates in insertion order.
      this.#entries.delete(text)
    } else {
      const statement = this.#handle.prepare(text)
      // A reader runs only what SQLite itself says neither writes nor controls a transaction (readonly is also
      // true of BEGIN and COMMIT, reader is not) and what does not read this connection's own state.
      const plainRead = statement.reader && statement.readonly && !CONNECTION_STATE.test(text)
      entry = { statement, plainRead, costUs: -1 }
      if (this.#entries.size >= this.#size) this.#entries.delete(this.#entries.keys().next().value!)
    }
    this.#entries.set(text, entry)
    return entry
  }
}

interface CachedStatement {
  statement: SqliteDatabase.Statement
  /** May run on a reader thread: a read-only SELECT that reads no state of the main connection's own. */
  plainRead: boolean
  /** How long running it took lately (moving average, µs; -1 until it has run): sending a quick read to a
   * reader costs the main thread more than running it. */
  costUs: number
}

/** SQL that reads state only the main connection has: its last insert, its change counts, its temp schema. */
const CONNECTION_STATE = /\b(last_insert_rowid|changes|total_changes)\s*\(|\btemp\s*\.|\bsqlite_temp_(master|schema)\b/i

/** Raw `sql` queries go to a reader only if they start as a query does (and SQLite confirms they only read). */
const RAW_READ = /^\s*(select|with)\b/i

/**
 * Kysely's SQLite driver with one change: plain SELECTs issued outside a transaction may run on a reader thread
 * (sqlite-readers.ts) instead of the main connection. Everything else (writes, raw statements that are not
 * queries, and every statement after the first one that needed the main connection on the same Kysely
 * connection: `writeTransaction`, `readSnapshot`, `transaction()`, `connection()`) runs on the main
 * connection, which one Kysely connection at a time holds, as Kysely's own single-connection lock did.
 */
class RoutingSqliteDriver implements Driver {
  readonly #handle: SqliteDatabase.Database
  readonly statements: StatementCache
  readonly #lock = new Lock()
  /** Kysely's own driver, used only for how it spells savepoint commands (they run through our connection). */
  readonly #inner = new SqliteDialect({ database: {} as never }).createDriver()
  pool: SqliteReadPool | null = null

  constructor(handle: SqliteDatabase.Database) {
    this.#handle = handle
    this.statements = new StatementCache(handle)
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    return new RoutedConnection(this, this.#lock)
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    ;(connection as RoutedConnection).release()
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin'))
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'))
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('rollback'))
  }

  async savepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']): Promise<void> {
    await this.#inner.savepoint!(connection, name, compile)
  }

  async rollbackToSavepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']): Promise<void> {
    await this.#inner.rollbackToSavepoint!(connection, name, compile)
  }

  async releaseSavepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']): Promise<void> {
    await this.#inner.releaseSavepoint!(connection, name, compile)
  }

  async destroy(): Promise<void> {
    await this.pool?.close()
    this.#handle.close()
  }

  /**
   * The cached statement if the query should run on a reader: the pool is up, this is a plain read, and it
   * is not one of the quick ones (a key lookup costs the main thread less to run than to hand over).
   */
  readerFor(query: CompiledQuery): CachedStatement | null {
    const pool = this.pool
    if (!pool?.usable) return null
    const kind = query.query.kind
    if (kind !== 'SelectQueryNode' && !(kind === 'RawNode' && RAW_READ.test(query.sql))) return null
    let entry: CachedStatement
    try {
      entry = this.statements.get(query.sql)
    } catch {
      // Let the main connection report the error, as it always has.
      return null
    }
    if (!entry.plainRead) return null
    if (pool.offloadAboveUs > 0 && entry.costUs < pool.offloadAboveUs) return null
    return entry
  }

  /** Runs on the main connection; the caller holds the lock. */
  runOnMain(query: CompiledQuery): QueryResult<unknown> {
    const entry = this.statements.get(query.sql)
    const { statement } = entry
    const parameters = query.parameters as unknown[]
    if (statement.reader) {
      if (!entry.plainRead || !this.pool) return { rows: statement.all(parameters) }
      // Timed, so a read that turns out slow moves to the readers (readerFor).
      const started = performance.now()
      const rows = statement.all(parameters)
      recordCost(entry, (performance.now() - started) * 1000)
      return { rows }
    }
    const { changes, lastInsertRowid } = statement.run(parameters)
    return {
      insertId: lastInsertRowid != null ? BigInt(lastInsertRowid) : undefined,
      numAffectedRows: changes != null ? BigInt(changes) : undefined,
      rows: [],
    }
  }

  *streamOnMain(query: CompiledQuery): IterableIterator<QueryResult<unknown>> {
    if (query.query.kind !== 'SelectQueryNode') throw new Error('Sqlite driver only supports streaming of select queries')
    for (const row of this.statements.get(query.sql).statement.iterate(query.parameters as unknown[])) yield { rows: [row] }
  }
}

/**
 * One Kysely connection. It takes the main connection's lock at its first statement that needs the main
 * connection and keeps it until Kysely releases it, so a transaction's statements (reads included) all run
 * on the main connection and see its uncommitted writes, and nobody else's statements slip into it.
 */
class RoutedConnection implements DatabaseConnection {
  readonly #driver: RoutingSqliteDriver
  readonly #lock: Lock
  #holdsMain = false

  constructor(driver: RoutingSqliteDriver, lock: Lock) {
    this.#driver = driver
    this.#lock = lock
  }

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    if (!this.#holdsMain) {
      const entry = this.#driver.readerFor(query)
      if (entry) return (await this.#driver.pool!.run(query.sql, query.parameters, entry)) as QueryResult<R>
    }
    if (!this.#holdsMain) {
      await this.#lock.acquire()
      this.#holdsMain = true
    }
    return this.#driver.runOnMain(query) as QueryResult<R>
  }

  async *streamQuery<R>(query: CompiledQuery): AsyncIterableIterator<QueryResult<R>> {
    if (!this.#holdsMain) {
      await this.#lock.acquire()
      this.#holdsMain = true
    }
    yield* this.#driver.streamOnMain(query) as IterableIterator<QueryResult<R>>
  }

  release(): void {
    if (!this.#holdsMain) return
    this.#holdsMain = false
    this.#lock.release()
  }
}

/** A first-come, first-served lock. */
class Lock {
  #held = false
  readonly #waiting: (() => void)[] = []

  acquire(): Promise<void> | void {
    if (!this.#held) {
      this.#held = true
      return
    }
    return new Promise((resolve) => this.#waiting.push(resolve))
  }

  release(): void {
    const next = this.#waiting.shift()
    // The lock passes straight to the next in line, so nobody can take it in between.
    if (next) next()
    else this.#held = false
  }
}

/**
 * Kysely's SQLite dialect (compiler, introspector) on the routing driver. The adapter says the driver has
 * several connections, so Kysely does not put its own lock around every query: the driver locks the main
 * connection itself, and reads on reader threads need no lock.
 */
class RoutingSqliteDialect extends SqliteDialect {
  readonly #driver: RoutingSqliteDriver

  constructor(driver: RoutingSqliteDriver) {
    super({ database: {} as never })
    this.#driver = driver
  }

  override createDriver(): Driver {
    return this.#driver
  }

  override createAdapter(): SqliteAdapter {
    return new MultiConnectionSqliteAdapter()
  }

  override createQueryCompiler(): QueryCompiler {
    return new LiteralLimitSqliteCompiler()
  }
}

class MultiConnectionSqliteAdapter extends SqliteAdapter {
  override get supportsMultipleConnections(): boolean {
    return true
  }
}

