/**
 * The SQLite reader threads (src/db/dialect/sqlite-readers.ts): which statements go to a reader, what they
 * see, what happens when a reader dies, and closing.
 */
import { sql } from 'kysely'
import { afterEach, describe, expect, it } from 'vitest'
import { openDatabase } from '../../src/db/database.ts'
import type { DialectAdapter } from '../../src/db/dialect/dialect-adapter.ts'
import { sqliteReadPool } from '../../src/db/dialect/sqlite.ts'
import { SqliteReadPool } from '../../src/db/dialect/sqlite-readers.ts'
import { tmpDir } from '../support/tmp.ts'

const opened: DialectAdapter[] = []
afterEach(async () => {
  await Promise.all(opened.splice(0).map((db) => db.close()))
})

async function openWithReaders(count = 2): Promise<{ db: DialectAdapter; pool: SqliteReadPool }> {
  const db = await openDatabase({ dataDir: tmpDir('louder-readers-'), databaseUrl: null, sqliteReaders: count })
  opened.push(db)
  const pool = sqliteReadPool(db)!
  // Every plain read to a reader, however quick (the server keeps key lookups on the main connection).
  pool.offloadAboveUs = 0
  await until(() => pool.usable)
  await sql`create table t (id integer primary key, v text, b blob, n integer)`.execute(db.kysely)
  return { db, pool }
}

function dataDirOf(db: DialectAdapter): string {
  return db.describe().replace(/^sqlite (.*)\/[^/]+$/, '$1')
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10))
  expect(condition()).toBe(true)
}

/** Counts what the pool ran, by wrapping its run(). */
function spy(pool: SqliteReadPool): string[] {
  const seen: string[] = []
  const run = pool.run.bind(pool)
  pool.run = (text, params) => {
    seen.push(text)
    return run(text, params)
  }
  return seen
}

describe('SQLite reader threads', () => {
  it('let a database close right after it opened: readers still starting finish starting before they are stopped', async () => {
    // Terminating a thread while it loads the native addon could abort the process (seen once in CI).
    for (let i = 0; i < 5; i++) {
      const db = await openDatabase({ dataDir: tmpDir('louder-readers-'), databaseUrl: null, sqliteReaders: 2 })
      const pool = sqliteReadPool(db)!
      expect(pool.usable).toBe(false)
      await db.close()
      expect(pool.usable).toBe(false)
      expect(pool.threadsForTest.every((t) => t.threadId === -1)).toBe(true)
    }
  })

  it('start only when asked: a database opened without them runs everything on the main connection', async () => {
    const db = await openDatabase({ dataDir: tmpDir('louder-readers-'), databaseUrl: null })
    opened.push(db)
    expect(sqliteReadPool(db)).toBeNull()
    expect((await sql<{ x: number }>`select 1 as x`.execute(db.kysely)).rows).toEqual([{ x: 1 }])
  })

  it('run plain reads outside a transaction, with the same answers (blobs as Buffers, bigints, nulls)', async () => {
    const { db, pool } = await openWithReaders()
    const seen = spy(pool)
    await sql`insert into t (id, v, b, n) values (1, 'a', x'00ff', 9007199254740991), (2, null, null, null)`.execute(db.kysely)
    expect(seen).toEqual([])

    const rows = await db.kysely.selectFrom('t' as never).selectAll().orderBy('id' as never).execute()
    expect(seen).toHaveLength(1)
    expect(rows).toEqual([
      { id: 1, v: 'a', b: Buffer.from([0, 255]), n: 9007199254740991 },
      { id: 2, v: null, b: null, n: null },
    ])
    expect(Buffer.isBuffer((rows[0] as { b: unknown }).b)).toBe(true)

    // Raw queries that read, with a blob parameter and a CTE.
    const raw = await sql<{ id: number }>`with x as (select id from t where b = ${Buffer.from([0, 255])}) select id from x`.execute(db.kysely)
    expect(raw.rows).toEqual([{ id: 1 }])
    expect(seen).toHaveLength(2)
  })

  it('never send a write to a reader: inserts, raw writes, CTE writes, RETURNING, and reads of connection state', async () => {
    const { db, pool } = await openWithReaders()
    const seen = spy(pool)
    await db.kysely.insertInto('t' as never).values({ id: 1, v: 'a' } as never).execute()
    await sql`insert into t (id, v) values (2, 'b')`.execute(db.kysely)
    await sql`with x as (select 3 as id) insert into t (id, v) select id, 'c' from x`.execute(db.kysely)
    const returned = await sql<{ id: number }>`insert into t (id, v) values (4, 'd') returning id`.execute(db.kysely)
    expect(returned.rows).toEqual([{ id: 4 }])
    await db.kysely.updateTable('t' as never).set({ v: 'z' } as never).where('id' as never, '=', 1 as never).execute()
    await db.kysely.deleteFrom('t' as never).where('id' as never, '=', 2 as never).execute()
    // Only the main connection knows its own last insert and change count.
    const state = await sql<{ r: number; c: number }>`select last_insert_rowid() as r, changes() as c`.execute(db.kysely)
    expect(state.rows).toEqual([{ r: 4, c: 1 }])
    expect(seen).toEqual([])
    expect((await sql<{ n: number }>`select count(*) as n from t`.execute(db.kysely)).rows).toEqual([{ n: 3 }])
    expect(seen).toHaveLength(1)
  })

  it('read inside a write transaction on the main connection and see its uncommitted writes; others see them after commit', async () => {
    const { db, pool } = await openWithReaders()
    const seen = spy(pool)
    let outsideDuring: unknown[] = []
    await db.writeTransaction(async (trx) => {
      await sql`insert into t (id, v) values (1, 'uncommitted')`.execute(trx)
      const inside = await trx.selectFrom('t' as never).selectAll().execute()
      expect(inside).toEqual([{ id: 1, v: 'uncommitted', b: null, n: null }])
      // A read outside the transaction, meanwhile, goes to a reader and sees only committed data.
      outsideDuring = await db.kysely.selectFrom('t' as never).selectAll().execute()
    })
    expect(outsideDuring).toEqual([])
    expect(seen).toHaveLength(1)
    // After the commit a reader sees the write.
    expect(await db.kysely.selectFrom('t' as never).select('v' as never).execute()).toEqual([{ v: 'uncommitted' }])
    expect(seen).toHaveLength(2)

    // Kysely's own transactions too, and a rollback leaves nothing behind.
    await expect(
      db.kysely.transaction().execute(async (trx) => {
        await sql`insert into t (id, v) values (2, 'rolled back')`.execute(trx)
        expect(await trx.selectFrom('t' as never).selectAll().execute()).toHaveLength(2)
        throw new Error('roll back')
      }),
    ).rejects.toThrow('roll back')
    expect(seen).toHaveLength(2)
    expect(await db.kysely.selectFrom('t' as never).selectAll().execute()).toHaveLength(1)
  })

  it('keep snapshots (backups) on the main connection', async () => {
    const { db, pool } = await openWithReaders()
    const seen = spy(pool)
    await sql`insert into t (id, v) values (1, 'a')`.execute(db.kysely)
    // Another connection (a worker process, say) writes while the snapshot is open.
    const other = await openDatabase({ dataDir: dataDirOf(db), databaseUrl: null })
    opened.push(other)
    const count = await db.readSnapshot(async (trx) => {
      await sql`insert into t (id, v) values (2, 'b')`.execute(other.kysely)
      return (await sql<{ n: number }>`select count(*) as n from t`.execute(trx)).rows[0]!.n
    })
    expect(count).toBe(1)
    expect(seen).toEqual([])
    expect((await sql<{ n: number }>`select count(*) as n from t`.execute(db.kysely)).rows[0]!.n).toBe(2)
    expect(seen).toHaveLength(1)
  })

  it('as a server runs them, keep quick reads on the main connection until one turns out slow', async () => {
    const { db, pool } = await openWithReaders()
    pool.offloadAboveUs = 100
    const seen = spy(pool)
    // Never run before: the first run is on the main connection, which times it; a read this slow
    // (100,000 steps) then goes to a reader.
    const slow = () => sql<{ n: number }>`with recursive c(i) as (select 1 union all select i + 1 from c where i < 100000) select count(*) as n from c`.execute(db.kysely)
    expect((await slow()).rows).toEqual([{ n: 100000 }])
    expect(seen).toEqual([])
    expect((await slow()).rows).toEqual([{ n: 100000 }])
    expect(seen).toHaveLength(1)
  })

  it('report errors from a reader as the main connection would', async () => {
    const { db } = await openWithReaders()
    // Fails to prepare: the main connection reports it.
    await expect(sql`select * from no_such_table`.execute(db.kysely)).rejects.toThrow(/no such table/)
    // Fails while running on a reader.
    await expect(sql`select abs(-9223372036854775808) as x`.execute(db.kysely)).rejects.toThrow(/integer overflow/)
  })

  it('reject the queries a crashed reader was running, replace it, and keep serving', async () => {
    const { db, pool } = await openWithReaders(1)
    await sql`insert into t (id, v) values (1, 'a')`.execute(db.kysely)
    const [thread] = pool.threadsForTest
    // A query that would take a long while, then the thread dies under it.
    const slow = sql`with recursive c(i) as (select 1 union all select i + 1 from c where i < 1000000) select count(*) as n from c`.execute(db.kysely)
    await new Promise((resolve) => setTimeout(resolve, 50))
    await thread!.terminate()
    await expect(slow).rejects.toThrow(/SQLite reader thread exited/)
    await until(() => pool.usable)
    expect(pool.threadsForTest[0]).not.toBe(thread)
    expect(await db.kysely.selectFrom('t' as never).select('v' as never).execute()).toEqual([{ v: 'a' }])
  })

  it('stay out of the way when no reader can open the database: reads run on the main connection', async () => {
    const broken = new SqliteReadPool(`${tmpDir('louder-readers-')}/missing/louder.sqlite`, 1)
    await until(() => broken.failure !== null)
    expect(broken.failure).toMatch(/could not open/)
    expect(broken.usable).toBe(false)
    await broken.close()

    const { db, pool } = await openWithReaders(1)
    await pool.close()
    expect(pool.usable).toBe(false)
    await sql`insert into t (id, v) values (1, 'a')`.execute(db.kysely)
    expect(await db.kysely.selectFrom('t' as never).select('v' as never).execute()).toEqual([{ v: 'a' }])
  })

  it('close with the database: queries still running reject, the threads end, and the adapter is closed', async () => {
    const { db, pool } = await openWithReaders(2)
    const threads = [...pool.threadsForTest]
    const exited = threads.map((thread) => new Promise((resolve) => thread.once('exit', resolve)))
    const slow = sql`with recursive c(i) as (select 1 union all select i + 1 from c where i < 1000000) select count(*) as n from c`.execute(db.kysely)
    await new Promise((resolve) => setTimeout(resolve, 50))
    await db.close()
    opened.splice(opened.indexOf(db), 1)
    await expect(slow).rejects.toThrow(/database was closed/)
    await Promise.all(exited)
    expect(pool.usable).toBe(false)
    await expect(sql`select 1`.execute(db.kysely)).rejects.toThrow()
  })
})
