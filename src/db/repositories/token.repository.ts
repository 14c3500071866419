import type { Kysely } from 'kysely'
import { isRole } from '../../core/access/actor.ts'
import type { ApiToken, TokenRepository } from '../../core/ports/repositories.ts'
import type { ApiTokensTable, Database } from '../schema.ts'
import { userRepository } from './user.repository.ts'

export function tokenRepository(db: Kysely<Database>): TokenRepository {
  const users = userRepository(db)
  return {
    async insert(token, tokenHash) {
      await db
        .insertInto('api_tokens')
        .values({
          id: token.id,
          user_id: token.userId,
          name: token.name,
          token_hash: tokenHash,
          roles: token.roles ? JSON.stringify(token.roles) : null,
          created_at: token.createdAt,
          expires_at: token.expiresAt,
          last_used_at: null,
          revoked_at: token.revokedAt,
        })
        .execute()
    },
    async byHash(tokenHash) {
      const row = await db.selectFrom('api_tokens').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst()
      if (!row) return null
      const user = await users.byId(row.user_id)
      return user ? { token: { ...toToken(row), lastUsedAt: row.last_used_at }, user } : null
    },
    async touch(id, at) {
      await db.updateTable('api_tokens').set({ last_used_at: at }).where('id', '=', id).execute()
    },
    async byId(id) {
      const row = await db.selectFrom('api_tokens').selectAll().where('id', '=', id).executeTakeFirst()
      return row ? toToken(row) : null
    },
    async listForUser(userId, page) {
      // Ids are UUIDv7, so id order is creation order, and a unique key to page by.
      let q = db.selectFrom('api_tokens').selectAll().where('user_id', '=', userId).orderBy('id', 'desc')
      if (page?.before !== undefined) q = q.where('id', '<', page.before)
      if (page) q = q.limit(page.limit + 1)
      const rows = await q.execute()
      return rows.map((row) => ({ ...toToken(row), lastUsedAt: row.last_used_at }))
    },
    async revoke(id, at) {
      await db.updateTable('api_tokens').set({ revoked_at: at }).where('id', '=', id).where('revoked_at', 'is', null).execute()
    },
  }
}

function toToken(row: ApiTokensTable): ApiToken {
  return {
    id: row.id,
    userId: row.user_id,
    name: row.name,
    roles: row.roles ? (JSON.parse(row.roles) as string[]).filter(isRole) : null,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
  }
}
