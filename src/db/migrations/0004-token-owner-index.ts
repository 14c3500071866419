import type { Kysely } from 'kysely'

/** A user's tokens are listed by owner and paged by id (GET /api/v1/tokens). */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('api_tokens_user').on('api_tokens').columns(['user_id', 'id']).execute()
}
