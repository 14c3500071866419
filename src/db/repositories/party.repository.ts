import { type Kysely, sql } from 'kysely'
import type { Party, PartyRepository } from '../../core/ports/repositories.ts'
import type { InterCode } from '../../core/register/acled.ts'
import type { Database, PartiesTable } from '../schema.ts'

function toParty(r: PartiesTable): Party {
  return {
    id: r.id,
    name: r.name,
    nameKey: r.name_key,
    aliases: JSON.parse(r.aliases) as string[],
    interCode: r.inter_code as InterCode,
    description: r.description,
    parentId: r.parent_id,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
    createdBy: r.created_by,
    archivedAt: r.archived_at === null ? null : Number(r.archived_at),
  }
}

/** Keys never hold a newline (whitespace is collapsed), so each alias key sits between two. */
const joinKeys = (keys: string[]) => (keys.length ? `\n${keys.join('\n')}\n` : '')

/** A LIKE pattern that matches `text` literally: `%`, `_` and the escape itself are escaped. */
const literal = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`)

function columns(p: Party, aliasKeys: string[]) {
  return {
    name: p.name,
    name_key: p.nameKey,
    aliases: JSON.stringify(p.aliases),
    alias_keys: joinKeys(aliasKeys),
    inter_code: p.interCode,
    description: p.description,
    parent_id: p.parentId,
    updated_at: p.updatedAt,
  }
}

export function partyRepository(db: Kysely<Database>): PartyRepository {
  return {
    async insert(p, aliasKeys) {
      await db
        .insertInto('parties')
        .values({ id: p.id, ...columns(p, aliasKeys), created_at: p.createdAt, created_by: p.createdBy, archived_at: p.archivedAt })
        .execute()
    },
    async byId(id) {
      const row = await db.selectFrom('parties').selectAll().where('id', '=', id).executeTakeFirst()
      return row ? toParty(row) : null
    },
    async byNameKeys(keys) {
      if (keys.length === 0) return []
      return (await db.selectFrom('parties').selectAll().where('name_key', 'in', keys).execute()).map(toParty)
    },
    async withAliasKey(key) {
      // SQLite's LIKE folds ASCII case; keys are lower case already, so both databases agree.
      const pattern = `%\n${literal(key)}\n%`
      return (await db.selectFrom('parties').selectAll().where(sql<boolean>`alias_keys like ${pattern} escape '\\'`).execute()).map(toParty)
    },
    async childrenOf(ids) {
      if (ids.length === 0) return []
      return (await db.selectFrom('parties').select('id').where('parent_id', 'in', ids).execute()).map((r) => r.id)
    },
    async update(p, aliasKeys) {
      await db.updateTable('parties').set(columns(p, aliasKeys)).where('id', '=', p.id).execute()
    },
    async archive(id, at) {
      await db.updateTable('parties').set({ archived_at: at, updated_at: at }).where('id', '=', id).where('archived_at', 'is', null).execute()
    },
    async list(f) {
      let q = db.selectFrom('parties').selectAll()
      if (!f.includeArchived) q = q.where('archived_at', 'is', null)
      if (f.interCode !== undefined) q = q.where('inter_code', '=', f.interCode)
      if (f.after !== undefined) q = q.where('name_key', '>', f.after)
      if (f.q) {
        const pattern = `%${literal(f.q)}%`
        q = q.where(sql<boolean>`(name_key like ${pattern} escape '\\' or alias_keys like ${pattern} escape '\\')`)
      }
      return (await q.orderBy('name_key').limit(f.limit + 1).execute()).map(toParty)
    },
  }
}
