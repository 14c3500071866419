import { type Kysely, sql } from 'kysely'

/**
 * The parties thesaurus: the actors incidents name (never free text on an incident), with ACLED's actor
 * type. `name_key` is the name as uniqueness sees it (NFKC, lower case, spaces collapsed, invisible
 * characters dropped); `alias_keys` holds the aliases' keys between newlines, for a plain LIKE search.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('parties')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('name_key', 'text', (c) => c.notNull().unique())
    .addColumn('aliases', 'text', (c) => c.notNull())
    .addColumn('alias_keys', 'text', (c) => c.notNull())
    .addColumn('inter_code', 'integer', (c) => c.notNull().check(sql`inter_code between 1 and 8`))
    .addColumn('description', 'text')
    .addColumn('parent_id', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.references('users.id'))
    .addColumn('archived_at', 'bigint')
    // Deferred to commit: a restore loads parties in id order, and a party may be given a newer parent.
    .addForeignKeyConstraint('parties_parent_fk', ['parent_id'], 'parties', ['id'], (fk) => fk.deferrable().initiallyDeferred())
    .execute()
  await db.schema.createIndex('parties_inter').on('parties').columns(['inter_code', 'name_key']).execute()
  await db.schema.createIndex('parties_parent').on('parties').column('parent_id').execute()
}
