/**
 * `/api/v1/settings`: the access settings an admin controls, validated, audited with old and new values,
 * and in force from the next request. On SQLite and on PostgreSQL.
 */
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEFAULT_ACCESS_SETTINGS } from '../../src/core/accounts/access-settings.ts'
import { expectProblem, startTestApi, type TestApi } from '../http/harness.ts'
import { auditEntries, call, login, totpNow, userWithPassword } from './support.ts'

const SETTINGS = '/api/v1/settings'

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`access settings [${dialect}]`, () => {
    let api: TestApi
    beforeAll(async () => {
      api = await startTestApi(dialect)
    })
    afterAll(async () => {
      await api?.close()
    })

    const update = (body: unknown, headers: Record<string, string> = {}, token = api.token.admin) => call(api, 'PATCH', SETTINGS, token, body, headers)

    it('shows the defaults, to admins only', async () => {
      const res = await call(api, 'GET', SETTINGS, api.token.admin)
      expect(res.statusCode).toBe(200)
      expect(res.json()).toEqual(DEFAULT_ACCESS_SETTINGS)
      for (const role of ['editor', 'researcher', 'legal', 'partner'] as const) {
        expectProblem(await call(api, 'GET', SETTINGS, api.token[role]), 403)
        expectProblem(await update({ requireTwoFactor: false }, {}, api.token[role]), 403)
      }
      expectProblem(await call(api, 'GET', SETTINGS, null), 401)
    })

    it('changes only the fields sent, and records old and new values', async () => {
      const res = await update({ sessionIdleMinutes: 60 })
      expect(res.statusCode, res.body).toBe(200)
      expect(res.json()).toEqual({ ...DEFAULT_ACCESS_SETTINGS, sessionIdleMinutes: 60 })
      expect((await update({ sessionAbsoluteHours: 24 })).json()).toEqual({ ...DEFAULT_ACCESS_SETTINGS, sessionIdleMinutes: 60, sessionAbsoluteHours: 24 })
      expect((await call(api, 'GET', SETTINGS, api.token.admin)).json()).toEqual({ ...DEFAULT_ACCESS_SETTINGS, sessionIdleMinutes: 60, sessionAbsoluteHours: 24 })
      const [latest, earlier] = await auditEntries(api, { action: 'settings.update' })
      expect(latest).toMatchObject({ outcome: 'ok', status: 200, resourceType: 'settings', detail: { changed: { sessionAbsoluteHours: { from: 12, to: 24 } } } })
      expect(earlier!.detail).toEqual({ changed: { sessionIdleMinutes: { from: 30, to: 60 } } })
      expect((await update({ sessionIdleMinutes: 30, sessionAbsoluteHours: 12 })).json()).toEqual(DEFAULT_ACCESS_SETTINGS)
    })

    it.each([
      [{ sessionIdleMinutes: 4 }, '/body/sessionIdleMinutes'],
      [{ sessionIdleMinutes: 1441 }, '/body/sessionIdleMinutes'],
      [{ sessionIdleMinutes: 7.5 }, '/body/sessionIdleMinutes'],
      [{ sessionIdleMinutes: '60' }, '/body/sessionIdleMinutes'],
      [{ sessionAbsoluteHours: 0 }, '/body/sessionAbsoluteHours'],
      [{ sessionAbsoluteHours: 721 }, '/body/sessionAbsoluteHours'],
      [{ requireTwoFactor: 'yes' }, '/body/requireTwoFactor'],
      [{ requireTwoFactor: null }, '/body/requireTwoFactor'],
      [{ sessionIdleMinutes: 60, lockoutMinutes: 5 }, '/body/lockoutMinutes'],
      [{}, '/body'],
    ])('refuses %j', async (body, field) => {
      const doc = expectProblem(await update(body), 400)
      expect(doc.errors?.map((e) => e.field)).toContain(field)
      expect((await call(api, 'GET', SETTINGS, api.token.admin)).json()).toEqual(DEFAULT_ACCESS_SETTINGS)
    })

    it('accepts the bounds', async () => {
      expect((await update({ sessionIdleMinutes: 5, sessionAbsoluteHours: 720 })).statusCode).toBe(200)
      expect((await update({ sessionIdleMinutes: 1440, sessionAbsoluteHours: 1 })).statusCode).toBe(200)
      expect((await update({ sessionIdleMinutes: 30, sessionAbsoluteHours: 12 })).json()).toEqual(DEFAULT_ACCESS_SETTINGS)
    })

    it('replays a retried change with the same Idempotency-Key', async () => {
      const key = randomUUID()
      const first = await update({ sessionIdleMinutes: 45 }, { 'idempotency-key': key })
      expect(first.statusCode).toBe(200)
      const again = await update({ sessionIdleMinutes: 45 }, { 'idempotency-key': key })
      expect(again.headers['idempotent-replayed']).toBe('true')
      expectProblem(await update({ sessionIdleMinutes: 50 }, { 'idempotency-key': key }), 422)
      expect((await update({ sessionIdleMinutes: 30 })).json()).toEqual(DEFAULT_ACCESS_SETTINGS)
    })

    it('requiring two-factor login holds an editor without it to enrolment, from their next request', async () => {
      const editor = await userWithPassword(api, ['editor'])
      const researcher = await userWithPassword(api, ['researcher'])
      const before = await login(api, editor.email, editor.password)
      const get = (url: string, headers: Record<string, string>) => api.app.inject({ method: 'GET', url, headers })
      expect((await get('/api/v1/orgs', before.headers)).statusCode).toBe(200)

      // An admin without a second factor may not turn the requirement on: they would hold only themselves back.
      expectProblem(await update({ requireTwoFactor: true }), 409, 'enrol_first')
      const admin = await api.user(['admin'])
      const { secret } = (await call(api, 'POST', '/api/v1/auth/totp/setup', admin.token)).json()
      expect((await call(api, 'POST', '/api/v1/auth/totp/confirm', admin.token, { code: totpNow(secret) })).statusCode).toBe(200)

      expect((await update({ requireTwoFactor: true }, {}, admin.token)).json().requireTwoFactor).toBe(true)
      try {
        expectProblem(await get('/api/v1/orgs', before.headers), 403)
        const me = await get('/api/v1/auth/session', before.headers)
        expect(me.json().twoFactorPending).toBe(true)
        expect((await login(api, editor.email, editor.password)).body.twoFactorPending).toBe(true)
        // Tokens too, the admin's own among them unless it has a second factor.
        expectProblem(await call(api, 'GET', '/api/v1/orgs', api.token.editor), 403)
        expectProblem(await call(api, 'GET', SETTINGS, api.token.admin), 403)
        // Researchers are not among the roles the policy covers.
        const r = await login(api, researcher.email, researcher.password)
        expect(r.body.twoFactorPending).toBe(false)
        expect((await get('/api/v1/observations', r.headers)).statusCode).toBe(200)
      } finally {
        expect((await update({ requireTwoFactor: false }, {}, admin.token)).json().requireTwoFactor).toBe(false)
      }
      expect((await get('/api/v1/orgs', before.headers)).statusCode).toBe(200)
    })
  })
}
