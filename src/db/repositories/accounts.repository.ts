import type { Kysely } from 'kysely'
import type { AuditEntry, AuditRepository, OrgRepository, RecoveryCodeRepository, Session, SessionRepository, SettingsRepository } from '../../core/ports/repositories.ts'
import type { AuditLogTable, Database, SessionsTable } from '../schema.ts'

export function orgRepository(db: Kysely<Database>): OrgRepository {
  const toOrg = (r: { id: string; name: string; created_at: number }) => ({ id: r.id, name: r.name, createdAt: r.created_at })
  return {
    async insert(org) {
      await db.insertInto('orgs').values({ id: org.id, name: org.name, created_at: org.createdAt, updated_at: org.createdAt }).execute()
    },
    async byId(id) {
      const row = await db.selectFrom('orgs').selectAll().where('id', '=', id).executeTakeFirst()
      return row ? toOrg(row) : null
    },
    async byName(name) {
      const row = await db.selectFrom('orgs').selectAll().where('name', '=', name).executeTakeFirst()
      return row ? toOrg(row) : null
    },
    async list(page) {
      let q = db.selectFrom('orgs').selectAll().orderBy('name')
      if (page?.after !== undefined) q = q.where('name', '>', page.after)
      if (page) q = q.limit(page.limit + 1)
      return (await q.execute()).map(toOrg)
    },
    async rename(id, name, at) {
      await db.updateTable('orgs').set({ name, updated_at: at }).where('id', '=', id).execute()
    },
  }
}

export function sessionRepository(db: Kysely<Database>): SessionRepository {
  const toSession = (r: SessionsTable): Session => ({ id: r.id, userId: r.user_id, createdAt: r.created_at, lastSeenAt: r.last_seen_at, expiresAt: r.expires_at, ip: r.ip, userAgent: r.user_agent, revokedAt: r.revoked_at })
  return {
    async insert(s, tokenHash, csrfHash) {
      await db
        .insertInto('sessions')
        .values({ id: s.id, user_id: s.userId, token_hash: tokenHash, csrf_hash: csrfHash, created_at: s.createdAt, last_seen_at: s.lastSeenAt, expires_at: s.expiresAt, ip: s.ip, user_agent: s.userAgent, revoked_at: null })
        .execute()
    },
    async byTokenHash(tokenHash) {
      const row = await db.selectFrom('sessions').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst()
      return row ? { ...toSession(row), csrfHash: row.csrf_hash } : null
    },
    async touch(id, at) {
      await db.updateTable('sessions').set({ last_seen_at: at }).where('id', '=', id).execute()
    },
    async revoke(id, at) {
      await db.updateTable('sessions').set({ revoked_at: at }).where('id', '=', id).where('revoked_at', 'is', null).execute()
    },
    async revokeAllForUser(userId, at) {
      await db.updateTable('sessions').set({ revoked_at: at }).where('user_id', '=', userId).where('revoked_at', 'is', null).execute()
    },
    async listForUser(userId) {
      return (await db.selectFrom('sessions').selectAll().where('user_id', '=', userId).orderBy('created_at', 'desc').execute()).map(toSession)
    },
  }
}

export function recoveryCodeRepository(db: Kysely<Database>): RecoveryCodeRepository {
  return {
    async replaceAll(userId, hashes, at) {
      await db.deleteFrom('recovery_codes').where('user_id', '=', userId).execute()
      if (hashes.length) await db.insertInto('recovery_codes').values(hashes.map((code_hash) => ({ user_id: userId, code_hash, created_at: at, used_at: null }))).execute()
    },
    async use(userId, codeHash, at) {
      const result = await db.updateTable('recovery_codes').set({ used_at: at }).where('user_id', '=', userId).where('code_hash', '=', codeHash).where('used_at', 'is', null).executeTakeFirst()
      return Number(result.numUpdatedRows) === 1
    },
    async countUnused(userId) {
      const row = await db.selectFrom('recovery_codes').select((eb) => eb.fn.countAll<number>().as('n')).where('user_id', '=', userId).where('used_at', 'is', null).executeTakeFirstOrThrow()
      return Number(row.n)
    },
    async removeAll(userId) {
      await db.deleteFrom('recovery_codes').where('user_id', '=', userId).execute()
    },
  }
}

export function auditRepository(db: Kysely<Database>): AuditRepository {
  return {
    async append(e) {
      await db
        .insertInto('audit_log')
        .values({
          id: e.id,
          at: e.at,
          actor: e.actor,
          user_id: e.userId,
          via: e.via,
          action: e.action,
          outcome: e.outcome,
          status: e.status,
          method: e.method,
          route: e.route,
          resource_type: e.resourceType,
          resource_id: e.resourceId,
          ip: e.ip,
          reason: e.reason,
          detail: e.detail ? JSON.stringify(e.detail) : null,
        })
        .execute()
    },
    async list(f) {
      let q = db.selectFrom('audit_log').selectAll()
      if (f.before) q = q.where('id', '<', f.before)
      if (f.userId) q = q.where('user_id', '=', f.userId)
      if (f.action) q = q.where('action', '=', f.action)
      if (f.outcome) q = q.where('outcome', '=', f.outcome)
      if (f.resourceType) q = q.where('resource_type', '=', f.resourceType)
      if (f.resourceId) q = q.where('resource_id', '=', f.resourceId)
      if (f.from !== undefined) q = q.where('at', '>=', f.from)
      if (f.to !== undefined) q = q.where('at', '<', f.to)
      return (await q.orderBy('id', 'desc').limit(f.limit + 1).execute()).map(toAudit)
    },
  }
}

function toAudit(r: AuditLogTable): AuditEntry {
  return {
    id: r.id,
    at: r.at,
    actor: r.actor,
    userId: r.user_id,
    via: r.via as AuditEntry['via'],
    action: r.action,
    outcome: r.outcome as AuditEntry['outcome'],
    status: r.status,
    method: r.method,
    route: r.route,
    resourceType: r.resource_type,
    resourceId: r.resource_id,
    ip: r.ip,
    reason: r.reason,
    detail: r.detail ? JSON.parse(r.detail) : null,
  }
}

export function settingsRepository(db: Kysely<Database>): SettingsRepository {
  return {
    async get(key) {
      return (await db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirst())?.value ?? null
    },
    async set(key, value, by, at) {
      await db
        .insertInto('settings')
        .values({ key, value, updated_at: at, updated_by: by })
        .onConflict((oc) => oc.column('key').doUpdateSet({ value, updated_at: at, updated_by: by }))
        .execute()
    },
    async all() {
      return Object.fromEntries((await db.selectFrom('settings').select(['key', 'value']).execute()).map((r) => [r.key, r.value]))
    },
  }
}
