import type { Kysely } from 'kysely'
import type { MetaRepository } from '../../core/ports/repositories.ts'
import type { Database } from '../schema.ts'

export function metaRepository(db: Kysely<Database>): MetaRepository {
  return {
    async get(key) {
      const row = await db.selectFrom('meta').select('value').where('key', '=', key).executeTakeFirst()
      return row?.value ?? null
    },
    async set(key, value) {
      await db.insertInto('meta').values({ key, value }).onConflict((oc) => oc.column('key').doUpdateSet({ value })).execute()
    },
  }
}
