/**
 * The audit log covers what it must: every write operation of the OpenAPI document, performed for real
 * by a caller the permission matrix allows, leaves exactly one record naming the route, method, action,
 * actor, client address, outcome and status, and the reason the caller gave (`Louder-Reason`); so do
 * refused and failed calls and refused reads; reads of restricted data are recorded; admins read and
 * export it; and the database itself refuses to change or remove a record.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { type Kysely, sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { issueToken } from '../../src/core/accounts/tokens.ts'
import { uuidv7 } from '../../src/core/ids.ts'
import type { Database } from '../../src/db/schema.ts'
import { incidentBody, observationBody, startTestApi, type TestApi } from '../http/harness.ts'
import { CALLERS, PERMISSION_MATRIX } from './permission-matrix.ts'
import { BODIES, type Identity, partyForBodies } from './requests.ts'
import { newDevice, registeredDevice, requestDeviceOver, signedCapture } from '../evidence/device-fixture.ts'
import { call, documentedOperations, freshAddress, type OpenApiDocument, openApiDocument, type Operation, PASSWORD, passwordUser } from './support.ts'

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS'])

type AuditRow = Database['audit_log']

/** True when a JSON schema (or anything inside it) is marked `x-restricted`. */
function holdsRestricted(schema: unknown): boolean {
  if (typeof schema !== 'object' || schema === null) return false
  if ((schema as Record<string, unknown>)['x-restricted'] === true) return true
  return Object.values(schema).some(holdsRestricted)
}

function outcomeOf(status: number): string {
  return status < 400 ? 'ok' : [401, 403, 429].includes(status) ? 'denied' : 'failed'
}

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`audit coverage [${dialect}]`, () => {
    let api: TestApi
    let doc: OpenApiDocument
    beforeAll(async () => {
      api = await startTestApi(dialect)
      doc = await openApiDocument(api.app)
      await partyForBodies(api.app, api.token.admin)
    })
    afterAll(async () => {
      await api?.close()
    })

    const db = () => api.ctx.db.kysely

    /** The audit records of the request that gave this reason; the hook writes after the answer is sent, so wait a little. */
    async function recordsOf(reason: string, atLeast = 1): Promise<AuditRow[]> {
      for (let i = 0; ; i++) {
        const rows = await db().selectFrom('audit_log').selectAll().where('reason', '=', reason).execute()
        if (rows.length >= atLeast || i === 40) return rows
        await new Promise((r) => setTimeout(r, 25))
      }
    }

    /** A fresh user in this role with a password and a token of its own (some writes use their caller up). */
    async function identity(role: (typeof CALLERS)[number]): Promise<Identity & { id: string }> {
      const u = await passwordUser(api, [role === 'anonymous' ? 'researcher' : role])
      return { id: u.id, email: u.email, password: PASSWORD, token: role === 'anonymous' ? null : (await issueToken(api.ctx.store.repos, u.id)).token }
    }

    const newParty = async () => ((await call(api.app, { url: '/api/v1/parties', token: api.token.admin, body: { name: `Party ${uuidv7()}`, interCode: 2 } })).json() as { id: string }).id
    const newIncident = async () => ((await call(api.app, { url: '/api/v1/incidents', token: api.token.admin, body: incidentBody(await newParty()) })).json() as { id: string }).id
    /** Bodies that must name real records (a party, an observation) for the write to succeed. */
    const REAL_BODIES: Record<string, () => Promise<unknown>> = {
      // An item in the locker with a stored hash (the background job's work, written directly here).
      'POST /api/v1/match': async () => {
        const bytes = readFileSync(join(import.meta.dirname, '..', 'fixtures', 'pdq', 'small.jpg'))
        const res = await api.app.inject({ method: 'POST', url: '/api/v1/media', headers: { authorization: `Bearer ${api.token.admin}`, 'content-type': 'image/jpeg' }, payload: bytes })
        const sha256 = (res.json() as { sha256: string }).sha256
        await api.ctx.store.repos.mediaHashes.replace(sha256, [{ frameMs: null, hash: 'f0'.repeat(32), quality: 90 }], Date.now())
        return { sha256 }
      },
      'POST /api/v1/incidents/{id}/observations': async () => ({
        observationIds: [((await call(api.app, { url: '/api/v1/observations', token: api.token.researcher, body: observationBody() })).json() as { id: string }).id],
      }),
      // A record signed by a device key an editor approved.
      'POST /api/v1/captures': async () => signedCapture(await registeredDevice(api.app, api.token.researcher, api.token.editor)),
    }

    /** Real records for the path parameters of the writes that take one, so their success is audited too. */
    const PATH_IDS: Record<string, (who: Identity & { id: string }) => Promise<string>> = {
      'DELETE /api/v1/tokens/{id}': async (who) => (await issueToken(api.ctx.store.repos, who.id)).record.id,
      'PATCH /api/v1/users/{id}': async () => (await api.user(['researcher'])).id,
      'POST /api/v1/users/{id}/reset-2fa': async () => (await api.user(['researcher'])).id,
      'POST /api/v1/users/{id}/tokens': async () => (await api.user(['researcher'])).id,
      'PATCH /api/v1/orgs/{id}': async () => ((await call(api.app, { url: '/api/v1/orgs', token: api.token.admin, body: { name: `Org ${uuidv7()}` } })).json() as { id: string }).id,
      'PATCH /api/v1/parties/{id}': async () => ((await call(api.app, { url: '/api/v1/parties', token: api.token.admin, body: { name: `Party ${uuidv7()}`, interCode: 2 } })).json() as { id: string }).id,
      'POST /api/v1/parties/{id}/archive': async () => ((await call(api.app, { url: '/api/v1/parties', token: api.token.admin, body: { name: `Party ${uuidv7()}`, interCode: 2 } })).json() as { id: string }).id,
      // An observation with a witness, recorded by the caller (only its author or legal changes consent).
      'PATCH /api/v1/observations/{id}/witnesses/{index}/consent': async (who) => {
        const body = { ...(BODIES['POST /api/v1/observations']!(who) as object), restricted: { witnesses: [{ name: 'Audit coverage witness', role: 'witness' }] } }
        return ((await call(api.app, { url: '/api/v1/observations', token: who.token, body })).json() as { id: string }).id
      },
      'PATCH /api/v1/incidents/{id}': async () => newIncident(),
      'POST /api/v1/incidents/{id}/transitions': async () => newIncident(),
      'POST /api/v1/incidents/{id}/observations': async () => newIncident(),
      'POST /api/v1/incidents/{id}/lock': async () => newIncident(),
      'DELETE /api/v1/incidents/{id}/lock': async () => newIncident(),
      'POST /api/v1/incidents/{id}/comments': async () => newIncident(),
      'POST /api/v1/jobs/{id}/retry': async () => {
        const id = await api.ctx.jobs.enqueue('platform.prune-idempotency', { olderThanMs: 1 })
        await db().updateTable('jobs').set({ status: 'dead', finished_at: Date.now() }).where('id', '=', id).execute()
        return id
      },
      'POST /api/v1/devices/{keyId}/approve': async () => requestDeviceOver(api.app, api.token.researcher, newDevice()),
      'POST /api/v1/devices/{keyId}/revoke': async () => (await registeredDevice(api.app, api.token.researcher, api.token.editor)).keyId,
      // An item in the locker to make a working copy of (the path parameter is its SHA-256).
      'POST /api/v1/media/{sha256}/working-copy': async () =>
        ((await call(api.app, { url: '/api/v1/media', token: api.token.admin, body: `audit coverage ${uuidv7()}`, headers: { 'content-type': 'text/plain' } })).json() as { sha256: string }).sha256,
      // An upload of the caller's own (nobody else's is found).
      'PATCH /api/v1/uploads/{id}': async (who) => newUpload(who.token!),
      'DELETE /api/v1/uploads/{id}': async (who) => newUpload(who.token!),
    }

    /** tus requests carry the protocol's headers (docs/field-sync.md); the PATCH sends no bytes, which is allowed. */
    const uploadMetadata = `sha256 ${Buffer.from('a'.repeat(64)).toString('base64')}`
    const TUS_HEADERS: Record<string, Record<string, string>> = {
      'POST /api/v1/uploads': { 'tus-resumable': '1.0.0', 'upload-length': '10', 'upload-metadata': uploadMetadata },
      'PATCH /api/v1/uploads/{id}': { 'tus-resumable': '1.0.0', 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' },
      'DELETE /api/v1/uploads/{id}': { 'tus-resumable': '1.0.0' },
    }
    async function newUpload(token: string): Promise<string> {
      const res = await call(api.app, { method: 'POST', url: '/api/v1/uploads', token, headers: TUS_HEADERS['POST /api/v1/uploads'] })
      return String(res.headers.location).split('/').pop()!
    }

    it('records every write operation in the document, with who, what, when, from where, why, and how it ended', async () => {
      const writes = [...documentedOperations(doc)].filter(([key]) => !SAFE.has(key.split(' ')[0]!))
      expect(writes.length).toBeGreaterThan(10)
      const succeeded: string[] = []
      for (const [key, op] of writes) {
        const [method, path] = key.split(' ') as [string, string]
        const row = PERMISSION_MATRIX[key]
        expect(row, `${key} has no row in the permission matrix`).toBeDefined()
        // The admin where allowed (most writes), else the first role allowed; public writes without a login.
        const caller = row!.anonymous === 'allow' ? 'anonymous' : row!.admin === 'allow' ? 'admin' : CALLERS.find((c) => row![c] === 'allow')!
        const who = await identity(caller)
        const id = PATH_IDS[key] ? await PATH_IDS[key](who) : uuidv7()
        const filled = path.replace(/\{(\w+)\}/g, (_, name: string) => (name === 'index' ? '0' : id))
        const reason = `audit coverage ${key} ${uuidv7()}`
        const ip = freshAddress()
        const before = Date.now()
        const res = await call(api.app, {
          method: method as 'POST',
          url: filled,
          token: who.token,
          body: (op as Operation).requestBody ? (REAL_BODIES[key] ? await REAL_BODIES[key]() : (BODIES[key]?.(who) ?? {})) : undefined,
          headers: { 'louder-reason': reason, ...TUS_HEADERS[key] },
          remoteAddress: ip,
        })
        const records = await recordsOf(reason)
        expect(records, `${key} (${res.statusCode}) left ${records.length} audit records`).toHaveLength(1)
        const record = records[0]!
        expect(record, `${key} (${res.statusCode})`).toMatchObject({
          action: op['x-louder-action'],
          method,
          route: path.replace(/\{(\w+)\}/g, ':$1'),
          ip,
          status: res.statusCode,
          outcome: outcomeOf(res.statusCode),
          actor: who.token ? `user:${who.id}` : 'anonymous',
          via: who.token ? 'token' : null,
        })
        // Sign-in records whom it signed in, though nobody was signed in when it began.
        if (!who.token && res.statusCode < 400) expect(record.user_id, key).toBe(who.id)
        expect(Number(record.at)).toBeGreaterThanOrEqual(before)
        expect(Number(record.at)).toBeLessThanOrEqual(Date.now())
        if (res.statusCode < 300) succeeded.push(key)
      }
      // The calls were real: nearly all of them did what they were asked.
      expect(succeeded.length, `succeeded: ${succeeded.join(', ')}`).toBeGreaterThanOrEqual(writes.length - 2)
    })

    it('records refused and failed calls, reads included, with the caller as far as known', async () => {
      const researcher = await identity('researcher')
      const cases: { what: string; request: Parameters<typeof call>[1]; status: number; actor: string; action: string }[] = [
        { what: 'a read refused to a signed-in caller', request: { url: '/api/v1/users', token: researcher.token }, status: 403, actor: `user:${researcher.id}`, action: 'user.list' },
        { what: 'a read of the audit log without a login', request: { url: '/api/v1/audit' }, status: 401, actor: 'anonymous', action: 'audit.read' },
        { what: 'a read with a forged token', request: { url: '/api/v1/observations', token: `ldr_${'x'.repeat(43)}` }, status: 401, actor: 'anonymous', action: 'observation.list' },
        { what: 'a write refused', request: { url: '/api/v1/users', token: researcher.token, body: { email: 'x@example.org', displayName: 'x', roles: ['admin'] } }, status: 403, actor: `user:${researcher.id}`, action: 'user.create' },
        { what: 'a write that failed validation', request: { url: '/api/v1/observations', token: researcher.token, body: { narrative: '' } }, status: 400, actor: `user:${researcher.id}`, action: 'observation.create' },
        { what: 'a failed sign-in', request: { url: '/api/v1/auth/login', body: { email: researcher.email, password: 'wrong password' } }, status: 401, actor: 'anonymous', action: 'auth.login' },
      ]
      for (const c of cases) {
        const reason = `refused ${uuidv7()}`
        const res = await call(api.app, { ...c.request, headers: { 'louder-reason': reason } })
        expect(res.statusCode, c.what).toBe(c.status)
        const records = await recordsOf(reason)
        expect(records, c.what).toHaveLength(1)
        expect(records[0], c.what).toMatchObject({ status: c.status, outcome: outcomeOf(c.status), actor: c.actor, action: c.action })
      }
      // A failed sign-in names the account it tried, and never the password it tried.
      const failed = await db().selectFrom('audit_log').selectAll().where('action', '=', 'auth.login').where('outcome', '=', 'denied').execute()
      expect(failed.map((r) => r.detail).join('\n')).toContain(researcher.email)
      expect(failed.map((r) => JSON.stringify(r)).join('\n')).not.toContain('wrong password')
    })

    it('records successful reads of restricted data', async () => {
      // Every read whose answer holds a field marked x-restricted. Today none does (the restricted fields are
      // secrets shown once, by writes, which are recorded above); the register's witness fields will be.
      const reads = [...documentedOperations(doc)].filter(([key, op]) => key.startsWith('GET ') && holdsRestricted(op.responses['200']))
      for (const [key] of reads) {
        const row = PERMISSION_MATRIX[key]!
        const caller = row.admin === 'allow' ? 'admin' : CALLERS.find((c) => c !== 'anonymous' && row[c] === 'allow')!
        const who = await identity(caller)
        const reason = `restricted read ${uuidv7()}`
        const res = await call(api.app, { url: key.slice(4).replace(/\{\w+\}/g, uuidv7()), token: who.token, headers: { 'louder-reason': reason } })
        if (res.statusCode === 200) expect(await recordsOf(reason), key).toHaveLength(1)
      }
      // Reading the audit log is itself recorded: who watches the watchers is in the log too.
      const reason = `who watches ${uuidv7()}`
      expect((await call(api.app, { url: '/api/v1/audit?limit=5', token: api.token.admin, headers: { 'louder-reason': reason } })).statusCode).toBe(200)
      expect(await recordsOf(reason)).toMatchObject([{ action: 'audit.read', outcome: 'ok' }])
    })

    it('lets admins read and export it, with the reason given, control characters defused', async () => {
      const researcher = await identity('researcher')
      // A tab is the one control character a header value may hold; it must not reach the log as one (nor may a flood).
      const id = uuidv7()
      const sent = `because\tlegal asked ${id} ${'x'.repeat(600)}`
      await call(api.app, { url: '/api/v1/observations', token: researcher.token, body: BODIES['POST /api/v1/observations']!(researcher), headers: { 'louder-reason': sent } })
      const stored = sent.replace('\t', ' ').slice(0, 500)
      expect(await recordsOf(stored)).toHaveLength(1)

      const list = await call(api.app, { url: `/api/v1/audit?userId=${researcher.id}&limit=10`, token: api.token.admin })
      expect(list.statusCode).toBe(200)
      const items = (list.json() as { items: { reason: string | null; action: string; ip: string }[] }).items
      expect(items).toContainEqual(expect.objectContaining({ reason: stored, action: 'observation.create' }))

      const jsonl = await call(api.app, { url: `/api/v1/audit/export?userId=${researcher.id}`, token: api.token.admin })
      expect(jsonl.statusCode).toBe(200)
      const lines = jsonl.body.trim().split('\n').map((l) => JSON.parse(l) as { reason: string | null })
      expect(lines.map((l) => l.reason)).toContain(stored)
      const csv = await call(api.app, { url: `/api/v1/audit/export?userId=${researcher.id}&format=csv`, token: api.token.admin })
      expect(csv.statusCode).toBe(200)
      expect(csv.body).toContain(id)
    })

    it('is append-only: the database refuses to change or remove a record', async () => {
      const reason = `append-only ${uuidv7()}`
      await call(api.app, { url: '/api/v1/users', token: api.token.researcher, headers: { 'louder-reason': reason } })
      const [record] = await recordsOf(reason)
      expect(record).toBeDefined()
      const k = db() as Kysely<Database>
      await expect(k.updateTable('audit_log').set({ outcome: 'ok', actor: 'user:someone-else' }).where('id', '=', record!.id).execute()).rejects.toThrow(/append-only/)
      await expect(k.deleteFrom('audit_log').where('id', '=', record!.id).execute()).rejects.toThrow(/append-only/)
      await expect(k.deleteFrom('audit_log').execute()).rejects.toThrow(/append-only/)
      if (dialect === 'postgres') await expect(sql`truncate audit_log`.execute(k)).rejects.toThrow(/append-only/)
      expect(await recordsOf(reason)).toEqual([record])
      expect(Number((await k.selectFrom('audit_log').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n)).toBeGreaterThan(1)
    })
  })
}
