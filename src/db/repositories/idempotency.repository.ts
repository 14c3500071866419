import type { Kysely } from 'kysely'
import type { IdempotencyRepository } from '../../core/ports/repositories.ts'
import type { Database } from '../schema.ts'

export function idempotencyRepository(db: Kysely<Database>): IdempotencyRepository {
  return {
    async find(scope, key) {
      const row = await db
        .selectFrom('idempotency_keys')
        .select(['request_hash', 'status_code', 'response_body'])
        .where('scope', '=', scope)
        .where('key', '=', key)
        .executeTakeFirst()
      return row ? { requestHash: row.request_hash, statusCode: row.status_code, body: row.response_body } : null
    },
    async save(scope, key, response, at) {
      await db
        .insertInto('idempotency_keys')
        .values({ scope, key, request_hash: response.requestHash, status_code: response.statusCode, response_body: response.body, created_at: at })
        .execute()
    },
    async deleteOlderThan(at) {
      const result = await db.deleteFrom('idempotency_keys').where('created_at', '<', at).executeTakeFirst()
      return Number(result.numDeletedRows)
    },
  }
}
