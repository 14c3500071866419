import type { Kysely } from 'kysely'
import { isRole } from '../../core/access/actor.ts'
import type { User, UserRepository, UserSecrets } from '../../core/ports/repositories.ts'
import type { Database, UsersTable } from '../schema.ts'

export function userRepository(db: Kysely<Database>): UserRepository {
  async function rolesOf(userIds: string[]): Promise<Map<string, string[]>> {
    const roles = new Map<string, string[]>(userIds.map((id) => [id, []]))
    if (userIds.length === 0) return roles
    const rows = await db.selectFrom('user_roles').select(['user_id', 'role']).where('user_id', 'in', userIds).orderBy('role').execute()
    for (const r of rows) roles.get(r.user_id)?.push(r.role)
    return roles
  }
  async function toUsers(rows: UsersTable[]): Promise<User[]> {
    const roles = await rolesOf(rows.map((r) => r.id))
    return rows.map((row) => ({
      id: row.id,
      email: row.email,
      displayName: row.display_name,
      roles: (roles.get(row.id) ?? []).filter(isRole),
      orgId: row.org_id,
      mustChangePassword: row.must_change_password === 1,
      createdAt: row.created_at,
      disabledAt: row.disabled_at,
      twoFactorEnabled: row.totp_enabled_at !== null,
    }))
  }
  const secrets = (row: UsersTable): UserSecrets => ({
    passwordHash: row.password_hash,
    totpSecret: row.totp_secret,
    totpPendingSecret: row.totp_pending_secret,
    totpLastStep: row.totp_last_step,
    failedLogins: row.failed_logins,
    lockedUntil: row.locked_until,
  })

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
          org_id: user.orgId ?? null,
          totp_secret: null,
          totp_pending_secret: null,
          totp_enabled_at: null,
          totp_last_step: null,
          failed_logins: 0,
          locked_until: null,
          password_changed_at: passwordHash ? user.createdAt : null,
        })
        .execute()
      if (user.roles.length > 0) await db.insertInto('user_roles').values(user.roles.map((role) => ({ user_id: user.id, role }))).execute()
    },
    async byId(id) {
      const row = await db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst()
      return row ? (await toUsers([row]))[0]! : null
    },
    async byEmail(email) {
      const row = await db.selectFrom('users').selectAll().where('email', '=', email.toLowerCase()).executeTakeFirst()
      return row ? { ...(await toUsers([row]))[0]!, ...secrets(row) } : null
    },
    async secretsOf(id) {
      const row = await db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst()
      return row ? secrets(row) : null
    },
    async list(filter) {
      let q = db.selectFrom('users').selectAll()
      if (filter.after !== undefined) q = q.where('email', '>', filter.after)
      if (filter.orgId !== undefined) q = q.where('org_id', '=', filter.orgId)
      if (filter.role !== undefined) q = q.where('id', 'in', db.selectFrom('user_roles').select('user_id').where('role', '=', filter.role))
      return toUsers(await q.orderBy('email').limit(filter.limit + 1).execute())
    },
    async count() {
      const row = await db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()
      return Number(row.n)
    },
    async update(id, patch, at) {
      const set: Partial<UsersTable> = { updated_at: at }
      if (patch.displayName !== undefined) set.display_name = patch.displayName
      if (patch.orgId !== undefined) set.org_id = patch.orgId
      if (patch.disabledAt !== undefined) set.disabled_at = patch.disabledAt
      if (patch.mustChangePassword !== undefined) set.must_change_password = patch.mustChangePassword ? 1 : 0
      await db.updateTable('users').set(set).where('id', '=', id).execute()
      if (patch.roles !== undefined) {
        await db.deleteFrom('user_roles').where('user_id', '=', id).execute()
        if (patch.roles.length) await db.insertInto('user_roles').values(patch.roles.map((role) => ({ user_id: id, role }))).execute()
      }
    },
    async setPassword(id, passwordHash, at) {
      await db.updateTable('users').set({ password_hash: passwordHash, password_changed_at: at, must_change_password: 0, updated_at: at }).where('id', '=', id).execute()
    },
    async recordLoginFailure(id, at) {
      // One statement: concurrent failures each get a distinct count (RETURNING: SQLite ≥ 3.35, PostgreSQL).
      const row = await db.updateTable('users').set((eb) => ({ failed_logins: eb('failed_logins', '+', 1), updated_at: at })).where('id', '=', id).returning('failed_logins').executeTakeFirst()
      return row?.failed_logins ?? 0
    },
    async extendLock(id, until) {
      await db
        .updateTable('users')
        .set({ locked_until: until })
        .where('id', '=', id)
        .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<', until)]))
        .execute()
    },
    async resetLoginFailures(id) {
      await db.updateTable('users').set({ failed_logins: 0, locked_until: null }).where('id', '=', id).execute()
    },
    async setTotp(id, totp, at) {
      const set: Partial<UsersTable> = { updated_at: at }
      if (totp.secret !== undefined) set.totp_secret = totp.secret
      if (totp.pending !== undefined) set.totp_pending_secret = totp.pending
      if (totp.enabledAt !== undefined) set.totp_enabled_at = totp.enabledAt
      if (totp.lastStep !== undefined) set.totp_last_step = totp.lastStep
      await db.updateTable('users').set(set).where('id', '=', id).execute()
    },
  }
}
