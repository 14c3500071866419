import type { Kysely } from 'kysely'

/**
 * What a field report carries beyond the narrative (issue 7, field folders): its title, the ACLED event type
 * the researcher named, and the parties as reported (names as written, a JSON array of text: coding them to
 * the parties thesaurus is the desk's work on the incident). Existing rows get no title, no event type and
 * no parties.
 */
export async function up(db: Kysely<any>): Promise<void> {
  // One column per statement: SQLite's ALTER TABLE adds one at a time.
  await db.schema.alterTable('observations').addColumn('title', 'text').execute()
  await db.schema.alterTable('observations').addColumn('event_type', 'text').execute()
  await db.schema.alterTable('observations').addColumn('parties', 'text', (c) => c.notNull().defaultTo('[]')).execute()
}
