import type { Kysely } from 'kysely'
import { isRole } from '../../core/access/actor.ts'
import type { User, UserRepository } from '../../core/ports/repositories.ts'
import type { Database, UsersTable } from '../schema.ts'

export function userRepository(db: Kysely<Database>): UserRepository {
  async function rolesOf(userId: string) {
    const rows = await db.selectFrom('user_roles').select('role').where('user_id', '=', userId).orderBy('role').execute()
    return rows.map((r) => r.role).filter(isRole)
  }
  async function toUser(row: UsersTable): Promise<User> {
    return {
      id: row.id,
      email: row.email,
      displayName: row.display_name,
      roles: await rolesOf(row.id),
      mustChangePassword: row.must_change_password === 1,
      createdAt: row.created_at,
      disabledAt: row.disabled_at,
    }
  }
  return {
    async insert(user, passwordHash) {
      await db
        .insertInto('users')
        .values({
          id: user.id,
          email: user.email.toLowerCase(),
          display_name: user.displayName,
          password_hash: passwordHash,
          must_change_password: user.mustChangePassword ? 1 : 0,
          created_at: user.createdAt,
          updated_at: user.createdAt,
          disabled_at: user.disabledAt,
        })
        .execute()
      if (user.roles.length > 0)
        await db.insertInto('user_roles').values(user.roles.map((role) => ({ user_id: user.id, role }))).execute()
    },
    async byId(id) {
      const row = await db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst()
      return row ? toUser(row) : null
    },
    async byEmail(email) {
      const row = await db.selectFrom('users').selectAll().where('email', '=', email.toLowerCase()).executeTakeFirst()
      return row ? { ...(await toUser(row)), passwordHash: row.password_hash } : null
    },
    async count() {
      const row = await db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()
      return Number(row.n)
    },
  }
}
