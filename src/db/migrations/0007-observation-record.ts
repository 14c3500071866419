import type { Kysely } from 'kysely'

/**
 * The observation's full record (incident register): sources with their Admiralty reliability, the urgency
 * flag, the language it was recorded in, media references by SHA-256, and the restricted part (notes,
 * witnesses and their consent) as ONE value sealed with the observation's own data key (`data_key_id`, so
 * destroying that key shreds exactly this record's restricted part). JSON is kept as text, as elsewhere.
 * Existing rows get empty sources and media, not urgent, no language, nothing restricted.
 */
export async function up(db: Kysely<any>): Promise<void> {
  // One column per statement: SQLite's ALTER TABLE adds one at a time.
  await db.schema.alterTable('observations').addColumn('sources', 'text', (c) => c.notNull().defaultTo('[]')).execute()
  await db.schema.alterTable('observations').addColumn('urgent', 'integer', (c) => c.notNull().defaultTo(0)).execute()
  await db.schema.alterTable('observations').addColumn('language', 'text').execute()
  await db.schema.alterTable('observations').addColumn('media', 'text', (c) => c.notNull().defaultTo('[]')).execute()
  await db.schema.alterTable('observations').addColumn('restricted', 'text').execute()
  await db.schema.alterTable('observations').addColumn('data_key_id', 'text').execute()
}
