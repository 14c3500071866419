/**
 * `/api/v1/users`, end to end with real sign-ins: generated passwords, role changes, disabling, the
 * self-lockout rule, and resetting a lost second factor. On SQLite and on PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { uuidv7 } from '../../src/core/ids.ts'
import { expectProblem, startTestApi, type TestApi } from '../http/harness.ts'
import { auditEntries, call, login, PASSWORD, totpNow, userWithPassword } from './support.ts'

const USERS = '/api/v1/users'

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`user administration [${dialect}]`, () => {
    let api: TestApi
    beforeAll(async () => {
      api = await startTestApi(dialect)
    })
    afterAll(async () => {
      await api?.close()
    })

    const patch = (id: string, body: unknown, token = api.token.admin) => call(api, 'PATCH', `${USERS}/${id}`, token, body)
    const session = (headers: Record<string, string>) => api.app.inject({ method: 'GET', url: '/api/v1/auth/session', headers })
    const bearerSession = (token: string) => call(api, 'GET', '/api/v1/auth/session', token)

    it('creates an account with a generated password, which signs in once and must be changed', async () => {
      const email = `amina-${Date.now()}@example.org`
      const res = await call(api, 'POST', USERS, api.token.admin, { email: email.toUpperCase(), displayName: 'Amina', roles: ['researcher'] })
      expect(res.statusCode, res.body).toBe(201)
      const { user, password } = res.json()
      expect(password).toMatch(/^[A-Za-z0-9]{20}$/)
      expect(user).toMatchObject({ email, roles: ['researcher'], mustChangePassword: true, disabled: false, twoFactorEnabled: false })

      const signedIn = await login(api, email, password)
      expect(signedIn.body.user).toMatchObject({ id: user.id, mustChangePassword: true })
      const changed = await api.app.inject({ method: 'POST', url: '/api/v1/auth/password', headers: { ...signedIn.writeHeaders, 'content-type': 'application/json' }, payload: { currentPassword: password, newPassword: PASSWORD } })
      expect(changed.statusCode, changed.body).toBe(204)
      expect((await login(api, email, PASSWORD)).body.user.mustChangePassword).toBe(false)
      expectProblem(await call(api, 'POST', '/api/v1/auth/login', null, { email, password }), 401)

      const [entry] = await auditEntries(api, { action: 'user.create', resourceId: user.id })
      expect(entry).toMatchObject({ outcome: 'ok', status: 201, detail: { roles: ['researcher'] } })
      expect(JSON.stringify(entry)).not.toContain(password)
    })

    it('refuses a taken email (409) and one that is not an email (400, naming the field)', async () => {
      const { email } = await userWithPassword(api, ['legal'])
      expectProblem(await call(api, 'POST', USERS, api.token.admin, { email, displayName: 'Twin', roles: ['legal'] }), 409, 'email_taken')
      const doc = expectProblem(await call(api, 'POST', USERS, api.token.admin, { email: 'not an email', displayName: 'X', roles: ['legal'] }), 400)
      expect(doc.errors?.map((e) => e.field)).toEqual(['/body/email'])
      expectProblem(await call(api, 'POST', USERS, api.token.admin, { email: 'x@example.org', displayName: 'X', roles: ['legal'], password: 'short' }), 400)
    })

    it('is for admins only', async () => {
      for (const role of ['editor', 'researcher', 'legal', 'partner'] as const) {
        expectProblem(await call(api, 'GET', USERS, api.token[role]), 403)
        expectProblem(await call(api, 'POST', USERS, api.token[role], { email: 'x@example.org', displayName: 'X', roles: ['admin'] }), 403)
      }
      expect(await api.ctx.store.repos.users.byEmail('x@example.org')).toBeNull()
    })

    it("changes roles, and with them what the user's existing token may do", async () => {
      const u = await api.user(['researcher'])
      expectProblem(await call(api, 'GET', '/api/v1/orgs', u.token), 403)
      const res = await patch(u.id, { roles: ['editor', 'researcher'] })
      expect(res.statusCode, res.body).toBe(200)
      expect(res.json().roles).toEqual(['editor', 'researcher'])
      expect((await call(api, 'GET', '/api/v1/orgs', u.token)).statusCode).toBe(200)
      expect((await patch(u.id, { roles: ['researcher'] })).statusCode).toBe(200)
      expectProblem(await call(api, 'GET', '/api/v1/orgs', u.token), 403)
      expectProblem(await patch(u.id, { roles: [] }), 400)
      expectProblem(await patch(uuidv7(), { roles: ['legal'] }), 404)
      const entries = await auditEntries(api, { action: 'user.update', resourceId: u.id })
      expect(entries.map((e) => `${e.outcome} ${e.status}`)).toEqual(['failed 400', 'ok 200', 'ok 200'])
      expect(entries[1]).toMatchObject({ actor: expect.stringMatching(/^user:/), detail: { fields: ['roles'] } })
    })

    it('disabling ends sessions and tokens at once, and enabling again does not bring the tokens back', async () => {
      const u = await userWithPassword(api, ['editor'])
      const browser = await login(api, u.email, u.password)
      const cli = await call(api, 'POST', '/api/v1/auth/token', null, { email: u.email, password: u.password })
      expect(cli.statusCode).toBe(201)
      const token = cli.json().token
      expect((await session(browser.headers)).statusCode).toBe(200)
      expect((await bearerSession(token)).statusCode).toBe(200)

      const res = await patch(u.id, { disabled: true })
      expect(res.statusCode, res.body).toBe(200)
      expect(res.json().disabled).toBe(true)
      expectProblem(await session(browser.headers), 401)
      expectProblem(await bearerSession(token), 401)
      expectProblem(await call(api, 'POST', '/api/v1/auth/login', null, { email: u.email, password: u.password }), 401)

      expect((await patch(u.id, { disabled: false })).json().disabled).toBe(false)
      expectProblem(await bearerSession(token), 401)
      expectProblem(await session(browser.headers), 401)
      expect((await login(api, u.email, u.password)).body.user.id).toBe(u.id)
    })

    it("makes a token for a user, limited to some of their roles; refuses an expiry that is past or cannot be stored", async () => {
      const u = await api.user(['editor', 'legal'])
      const url = `${USERS}/${u.id}/tokens`
      const made = await call(api, 'POST', url, api.token.admin, { name: 'scanner', roles: ['legal'], expiresAt: new Date(Date.now() + 3_600_000).toISOString() })
      expect(made.statusCode, made.body).toBe(201)
      expectProblem(await call(api, 'GET', '/api/v1/orgs', made.json().token), 403)
      expect((await bearerSession(made.json().token)).json().user.id).toBe(u.id)
      // A leap second passes the date-time format but is no JavaScript time: it used to become NaN, which
      // SQLite stores as NULL (a token that never expires) and PostgreSQL refuses (a 500).
      for (const expiresAt of ['2030-06-30T23:59:60Z', new Date(Date.now() - 1000).toISOString()]) {
        const doc = expectProblem(await call(api, 'POST', url, api.token.admin, { name: 'bad', expiresAt }), 400)
        expect(doc.errors?.map((e) => e.field)).toEqual(['/body/expiresAt'])
      }
      expectProblem(await call(api, 'POST', url, api.token.admin, { name: 'wider', roles: ['admin'] }), 400)
      expectProblem(await call(api, 'POST', `${USERS}/${uuidv7()}/tokens`, api.token.admin, { name: 'x' }), 404)
      expect((await api.ctx.store.repos.tokens.listForUser(u.id)).map((t) => t.name)).toEqual(['scanner', 'api'])
    })

    it('refuses to let an admin disable themselves or drop their own admin role; another admin can', async () => {
      const me = await api.user(['admin'])
      expectProblem(await patch(me.id, { roles: ['editor'] }, me.token), 409, 'self_lockout')
      expectProblem(await patch(me.id, { disabled: true }, me.token), 409, 'self_lockout')
      expect((await patch(me.id, { displayName: 'Still me', roles: ['admin', 'legal'] }, me.token)).statusCode).toBe(200)
      expect((await call(api, 'GET', USERS, me.token)).statusCode).toBe(200)
      expect((await patch(me.id, { roles: ['editor'] })).json().roles).toEqual(['editor'])
      expectProblem(await call(api, 'GET', USERS, me.token), 403)
    })

    it('resets a lost second factor: the old sessions end, and the password alone signs in again', async () => {
      const u = await userWithPassword(api, ['legal'])
      const browser = await login(api, u.email, u.password)
      const setup = await api.app.inject({ method: 'POST', url: '/api/v1/auth/totp/setup', headers: browser.writeHeaders })
      expect(setup.statusCode, setup.body).toBe(200)
      const { secret } = setup.json()
      const confirm = await api.app.inject({ method: 'POST', url: '/api/v1/auth/totp/confirm', headers: { ...browser.writeHeaders, 'content-type': 'application/json' }, payload: { code: totpNow(secret) } })
      expect(confirm.statusCode, confirm.body).toBe(200)
      expectProblem(await call(api, 'POST', '/api/v1/auth/login', null, { email: u.email, password: u.password }), 401, 'second_factor_required')
      const withCode = await login(api, u.email, u.password, { totp: totpNow(secret, 1) })

      expectProblem(await call(api, 'POST', `${USERS}/${u.id}/reset-2fa`, api.token.editor), 403)
      const res = await call(api, 'POST', `${USERS}/${u.id}/reset-2fa`, api.token.admin)
      expect(res.statusCode, res.body).toBe(200)
      expect(res.json()).toMatchObject({ id: u.id, twoFactorEnabled: false })
      expectProblem(await session(withCode.headers), 401)
      expect((await login(api, u.email, u.password)).body.user.id).toBe(u.id)
      expectProblem(await call(api, 'POST', `${USERS}/${uuidv7()}/reset-2fa`, api.token.admin), 404)
      const [entry] = await auditEntries(api, { action: 'user.reset-2fa', resourceId: u.id })
      expect(entry).toMatchObject({ outcome: 'ok', status: 200 })
    })
  })
}
