import { sql } from 'kysely'
import { describe, expect, it } from 'vitest'
import { openDatabase } from '../../src/db/database.ts'
import { sqlLimit } from '../../src/db/repositories/sql-limit.ts'
import { tmpDir } from '../support/tmp.ts'

describe('LIMIT and OFFSET written into SQLite statements', () => {
  it('writes a whole-number limit and offset into the SQL, and leaves anything else bound', async () => {
    const db = await openDatabase({ dataDir: tmpDir('louder-limit-'), databaseUrl: null })
    try {
      const builder = db.kysely.selectFrom('meta').select('key').where('key', '=', 'x').limit(5).offset(2).compile()
      expect(builder.sql).toMatch(/limit 5 offset 2$/)
      expect(builder.parameters).toEqual(['x'])
      // A fraction or an expression is not a whole number: it stays a parameter or expression, as Kysely made it.
      expect(db.kysely.selectFrom('meta').select('key').limit(2.5).compile()).toMatchObject({ parameters: [2.5] })
      expect(db.kysely.selectFrom('meta').select('key').limit(sql<number>`1 + 1`).compile().sql).toMatch(/limit 1 \+ 1$/)
      const raw = sql`select key from meta limit ${sqlLimit(3)}`.compile(db.kysely)
      expect(raw).toMatchObject({ sql: 'select key from meta limit 3', parameters: [] })
      // And the statements run.
      await db.kysely.insertInto('meta').values([{ key: 'a', value: '1' }, { key: 'b', value: '2' }, { key: 'c', value: '3' }]).execute()
      expect(await db.kysely.selectFrom('meta').select('key').where('key', 'in', ['a', 'b', 'c']).orderBy('key').limit(1).offset(1).execute()).toEqual([{ key: 'b' }])
    } finally {
      await db.close()
    }
  })

  it('refuses a limit that is not a whole number', () => {
    for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 60]) expect(() => sqlLimit(bad)).toThrow(RangeError)
  })
})
