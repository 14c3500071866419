/**
 * Hostile input on authentication, each refused: guessing passwords (lockout with back-off that never
 * locks the real user out for good, also when the guesses come in parallel), expired, revoked and forged
 * tokens, tokens used for a role they were not granted, cookie writes without their CSRF token, session
 * fixation, stale sessions, second-factor guessing and replay, the two-factor policy, prototype-poisoning
 * and duplicate-key bodies that try to escalate a role, and telling accounts apart by the answers or
 * their timing. Time is driven by moving stored instants (locks, session activity) into the past.
 */
import { createHash } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { writeAccessSettings } from '../../src/core/accounts/access-settings.ts'
import { LOCK_CAP_MS, lockDurationMs, verifyLogin } from '../../src/core/accounts/login.ts'
import { issueToken } from '../../src/core/accounts/tokens.ts'
import { base32Decode, hotp, totpStep } from '../../src/core/accounts/totp.ts'
import { uuidv7 } from '../../src/core/ids.ts'
import { expectProblem, startTestApi, type TestApi } from '../http/harness.ts'
import { call, freshAddress, PASSWORD, type PasswordUser, passwordUser, signIn, withSession } from './support.ts'

const WRONG = 'not the password at all'

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`hostile input on authentication [${dialect}]`, () => {
    let api: TestApi
    beforeAll(async () => {
      api = await startTestApi(dialect)
    })
    afterAll(async () => {
      await api?.close()
    })

    const db = () => api.ctx.db.kysely
    const login = (email: string, password: string, extra: Record<string, unknown> = {}) => call(api.app, { url: '/api/v1/auth/login', body: { email, password, ...extra } })
    const tokenLogin = (email: string, password: string, extra: Record<string, unknown> = {}) => call(api.app, { url: '/api/v1/auth/token', body: { email, password, ...extra } })
    const lockState = async (id: string) => db().selectFrom('users').select(['failed_logins', 'locked_until']).where('id', '=', id).executeTakeFirstOrThrow()
    /** The wait is over: what a clock moving past `locked_until` would do. */
    const endTheWait = (id: string) => db().updateTable('users').set({ locked_until: Date.now() - 1 }).where('id', '=', id).execute()

    describe('wrong passwords', () => {
      it('locks after five failures with 429 and Retry-After, refusing even the right password during the wait', async () => {
        const u = await passwordUser(api, ['researcher'])
        for (let i = 0; i < 5; i++) expectProblem(await login(u.email, WRONG), 401, 'unauthenticated')
        const locked = await login(u.email, PASSWORD)
        expectProblem(locked, 429, 'too_many_attempts')
        expect(locked.headers['retry-after']).toBe('1')
        expect(locked.cookies).toEqual([])
        expectProblem(await tokenLogin(u.email, PASSWORD), 429, 'too_many_attempts')
      })

      it('doubles the wait with each further failure, caps it at 15 minutes, and lets the real user in once it is over', async () => {
        const u = await passwordUser(api, ['researcher'])
        for (let i = 0; i < 5; i++) await login(u.email, WRONG)
        const waits: string[] = []
        for (let i = 0; i < 4; i++) {
          await endTheWait(u.id)
          expectProblem(await login(u.email, WRONG), 401)
          const refused = await login(u.email, WRONG)
          expectProblem(refused, 429, 'too_many_attempts')
          waits.push(String(refused.headers['retry-after']))
        }
        expect(waits).toEqual(['2', '4', '8', '16'])
        // Refused attempts do not count: only guesses the server actually checked make the wait longer.
        expect((await lockState(u.id)).failed_logins).toBe(9)

        await db().updateTable('users').set({ failed_logins: 40, locked_until: null }).where('id', '=', u.id).execute()
        expectProblem(await login(u.email, WRONG), 401)
        expect((await login(u.email, WRONG)).headers['retry-after']).toBe(String(LOCK_CAP_MS / 1000))
        await db().updateTable('users').set({ failed_logins: 100_000, locked_until: null }).where('id', '=', u.id).execute()
        expectProblem(await login(u.email, WRONG), 401)
        expect((await login(u.email, WRONG)).headers['retry-after']).toBe(String(LOCK_CAP_MS / 1000))

        await endTheWait(u.id)
        const s = await signIn(api.app, u.email, PASSWORD)
        expect(s.response.statusCode).toBe(200)
        expect(await lockState(u.id)).toEqual({ failed_logins: 0, locked_until: null })
      })

      it('never locks anyone for ever: whatever the count, the wait ends and the right password then works', async () => {
        for (const failures of [5, 6, 20, 1074, 1_000_000]) {
          expect(lockDurationMs(failures), `${failures} failures`).toBeGreaterThan(0)
          expect(lockDurationMs(failures), `${failures} failures`).toBeLessThanOrEqual(LOCK_CAP_MS)
        }
        const u = await passwordUser(api, ['editor'])
        for (let i = 0; i < 5; i++) await login(u.email, WRONG)
        const { locked_until } = await lockState(u.id)
        const deps = { repos: api.ctx.store.repos, hasher: api.ctx.passwords, sealer: api.ctx.sealer }
        await expect(verifyLogin({ ...deps, now: locked_until! - 1 }, { email: u.email, password: PASSWORD })).rejects.toMatchObject({ code: 'too_many_attempts' })
        await expect(verifyLogin({ ...deps, now: locked_until! }, { email: u.email, password: PASSWORD })).resolves.toMatchObject({ user: { id: u.id } })
      })

      it('counts guesses sent in parallel: they cannot slip past the lock or clear it', async () => {
        const u = await passwordUser(api, ['researcher'])
        const answers = await Promise.all(Array.from({ length: 12 }, () => login(u.email, WRONG)))
        for (const a of answers) expect([401, 429]).toContain(a.statusCode)
        const checked = answers.filter((a) => a.statusCode === 401).length
        const state = await lockState(u.id)
        expect(state.failed_logins).toBe(checked)
        expect(state.locked_until).not.toBeNull()
        expect(state.locked_until!).toBeGreaterThanOrEqual(Date.now() + lockDurationMs(checked) - 5_000)
        expectProblem(await login(u.email, PASSWORD), 429, 'too_many_attempts')
      })
    })

    describe('user enumeration', () => {
      /** Everything a client sees of an answer, less what differs between any two responses (the date). */
      const visible = (res: Awaited<ReturnType<typeof login>>) => {
        const { date: _date, ...headers } = res.headers
        return { status: res.statusCode, headers, body: res.body }
      }

      it('answers an unknown email exactly as a known one with a wrong password, at sign-in and token exchange', async () => {
        const known = await passwordUser(api, ['researcher'])
        const disabled = await passwordUser(api, ['researcher'])
        await api.ctx.store.repos.users.update(disabled.id, { disabledAt: Date.now() }, Date.now())
        for (const endpoint of [login, tokenLogin]) {
          const unknown = visible(await endpoint(`${uuidv7()}@example.org`, WRONG))
          expect(unknown.status).toBe(401)
          expect(visible(await endpoint(known.email, WRONG))).toEqual(unknown)
          // A disabled account, even with its right password, answers as if it did not exist.
          expect(visible(await endpoint(disabled.email, PASSWORD))).toEqual(unknown)
        }
      })

      it('locks an unknown email after five failures exactly as it locks a real account', async () => {
        const known = await passwordUser(api, ['researcher'])
        const unknownEmail = `${uuidv7()}@example.org`
        for (let i = 0; i < 5; i++) expect(visible(await login(known.email, WRONG))).toEqual(visible(await login(unknownEmail, WRONG)))
        // The sixth: the real account is refused even with its right password, and looks the same as the unknown one.
        const real = visible(await login(known.email, PASSWORD))
        expect(real.status).toBe(429)
        expect(visible(await login(unknownEmail, PASSWORD))).toEqual(real)
      })

      it('locks an unknown email under parallel guesses as it does a real account', async () => {
        const unknownEmail = `${uuidv7()}@example.org`
        await Promise.all(Array.from({ length: 8 }, () => login(unknownEmail, WRONG)))
        expectProblem(await login(unknownEmail, WRONG), 429, 'too_many_attempts')
      })

      it('takes comparable time for an unknown email, a known one, and an account without a password', async () => {
        const known = await passwordUser(api, ['researcher'])
        const passwordless = await api.user(['researcher']) // no password: it signs in only with tokens an admin made
        const passwordlessEmail = (await api.ctx.store.repos.users.byId(passwordless.id))!.email
        const timings: Record<'unknown' | 'known' | 'passwordless', number[]> = { unknown: [], known: [], passwordless: [] }
        const time = async (email: string) => {
          const t0 = performance.now()
          const res = await login(email, WRONG)
          const ms = performance.now() - t0
          expect(res.statusCode).toBe(401)
          return ms
        }
        for (let i = 0; i < 10; i++) {
          timings.unknown.push(await time(`${uuidv7()}@example.org`))
          timings.known.push(await time(known.email))
          timings.passwordless.push(await time(passwordlessEmail))
          // Keep both accounts below the lockout, which would answer early (and is tested above).
          await db().updateTable('users').set({ failed_logins: 0, locked_until: null }).where('id', 'in', [known.id, passwordless.id]).execute()
        }
        const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!
        const [unknown, knownMs, passwordlessMs] = [median(timings.unknown), median(timings.known), median(timings.passwordless)]
        const detail = JSON.stringify({ unknown, known: knownMs, passwordless: passwordlessMs })
        expect(unknown / knownMs, detail).toBeGreaterThan(0.5)
        expect(unknown / knownMs, detail).toBeLessThan(2)
        expect(passwordlessMs / knownMs, detail).toBeGreaterThan(0.5)
        expect(passwordlessMs / knownMs, detail).toBeLessThan(2)
      })
    })

    describe('tokens', () => {
      const whoAmI = (token: string) => call(api.app, { url: '/api/v1/auth/session', token })

      it('refuses an expired token, and a forged or malformed one, with 401', async () => {
        const u = await api.user(['researcher'])
        expect((await whoAmI(u.token)).statusCode).toBe(200)
        await db().updateTable('api_tokens').set({ expires_at: Date.now() - 1 }).where('user_id', '=', u.id).execute()
        expectProblem(await whoAmI(u.token), 401, 'unauthenticated')
        expectProblem(await whoAmI(`ldr_${'A'.repeat(43)}`), 401, 'unauthenticated')
        expectProblem(await whoAmI(u.token.slice(0, -1)), 401, 'unauthenticated')
        expectProblem(await call(api.app, { url: '/api/v1/auth/session', headers: { authorization: `Basic ${u.token}` } }), 401, 'unauthenticated')
      })

      it('refuses a revoked token at once: revoked by its owner, by signing out with it, or by disabling the account', async () => {
        const u = await api.user(['researcher'])
        const second = (await issueToken(api.ctx.store.repos, u.id)).token
        const third = (await issueToken(api.ctx.store.repos, u.id)).token
        const secondId = (await db().selectFrom('api_tokens').select('id').where('token_hash', '=', createHash('sha256').update(second).digest('hex')).executeTakeFirstOrThrow()).id
        expect((await call(api.app, { method: 'DELETE', url: `/api/v1/tokens/${secondId}`, token: u.token })).statusCode).toBe(204)
        expectProblem(await whoAmI(second), 401)
        expect((await call(api.app, { method: 'POST', url: '/api/v1/auth/logout', token: u.token })).statusCode).toBe(204)
        expectProblem(await whoAmI(u.token), 401)
        expect((await whoAmI(third)).statusCode).toBe(200)
        expect((await call(api.app, { method: 'PATCH', url: `/api/v1/users/${u.id}`, token: api.token.admin, body: { disabled: true } })).statusCode).toBe(200)
        expectProblem(await whoAmI(third), 401)
      })

      it("cannot act in a role it was not granted: limited tokens, tokens minted from them, and roles taken away", async () => {
        const u = await api.user(['editor', 'researcher'])
        const narrow = (await issueToken(api.ctx.store.repos, u.id, { roles: ['researcher'] })).token
        expect((await call(api.app, { url: '/api/v1/observations', token: narrow })).statusCode).toBe(200)
        expectProblem(await call(api.app, { url: '/api/v1/orgs', token: narrow }), 403, 'forbidden')
        expect((await call(api.app, { url: '/api/v1/orgs', token: u.token })).statusCode).toBe(200)

        // A narrow token cannot mint a wider one, by asking or by default.
        expectProblem(await call(api.app, { url: '/api/v1/tokens', token: narrow, body: { name: 'wider', roles: ['editor'] } }), 400)
        const minted = await call(api.app, { url: '/api/v1/tokens', token: narrow, body: { name: 'default' } })
        expect(minted.statusCode).toBe(201)
        expectProblem(await call(api.app, { url: '/api/v1/orgs', token: (minted.json() as { token: string }).token }), 403)

        // An admin cannot give a token a role its user does not hold.
        const r = await api.user(['researcher'])
        expectProblem(await call(api.app, { url: `/api/v1/users/${r.id}/tokens`, token: api.token.admin, body: { name: 'escalate', roles: ['admin'] } }), 400)
        expect(await db().selectFrom('api_tokens').select('id').where('user_id', '=', r.id).execute()).toHaveLength(1)

        // Roles taken from the account are gone from every token at once.
        expect((await call(api.app, { method: 'PATCH', url: `/api/v1/users/${u.id}`, token: api.token.admin, body: { roles: ['researcher'] } })).statusCode).toBe(200)
        expectProblem(await call(api.app, { url: '/api/v1/orgs', token: u.token }), 403)
        const editorOnly = await api.user(['editor'])
        const limited = (await issueToken(api.ctx.store.repos, editorOnly.id, { roles: ['editor'] })).token
        await call(api.app, { method: 'PATCH', url: `/api/v1/users/${editorOnly.id}`, token: api.token.admin, body: { roles: ['partner'] } })
        expectProblem(await call(api.app, { url: '/api/v1/orgs', token: limited }), 403)
        expectProblem(await call(api.app, { url: '/api/v1/observations', token: limited }), 403)
      })
    })

    describe('browser sessions', () => {
      const whoAmI = (cookie: string) => call(api.app, { url: '/api/v1/auth/session', cookies: { louder_session: cookie } })
      const sessionsOf = (userId: string) => db().selectFrom('sessions').selectAll().where('user_id', '=', userId).orderBy('created_at').execute()

      it('sets the session cookie HttpOnly and SameSite=Strict, and the CSRF cookie readable by our pages', async () => {
        const u = await passwordUser(api, ['researcher'])
        const s = await signIn(api.app, u.email, PASSWORD)
        const session = s.response.cookies.find((c) => c.name === 'louder_session')!
        const csrf = s.response.cookies.find((c) => c.name === 'louder_csrf')!
        expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' })
        expect(csrf).toMatchObject({ sameSite: 'Strict', path: '/' })
        expect(csrf.httpOnly).toBeFalsy()
        expect(s.cookie).not.toBe(s.csrfToken)
      })

      it('refuses a cookie write without its CSRF token, with a wrong one, or with another session\'s; reads need none', async () => {
        const u = await passwordUser(api, ['researcher'])
        const s = await signIn(api.app, u.email, PASSWORD)
        const other = await signIn(api.app, (await passwordUser(api, ['researcher'])).email, PASSWORD)
        const write = (csrf: string | null, extra: Record<string, string> = {}) => {
          const session = withSession(s, csrf)
          return call(api.app, { url: '/api/v1/tokens', body: { name: 'csrf' }, cookies: session.cookies, headers: { ...session.headers, ...extra } })
        }
        expectProblem(await write(null), 403, 'forbidden')
        expectProblem(await write('x'.repeat(43)), 403, 'forbidden')
        expectProblem(await write(other.csrfToken), 403, 'forbidden')
        expectProblem(await write(s.cookie), 403, 'forbidden') // the session id is not its CSRF token
        // What a cross-site form can send: a simple content type and no custom header.
        expectProblem(await write(null, { 'content-type': 'text/plain' }), 403)
        expect(await db().selectFrom('api_tokens').select('id').where('user_id', '=', u.id).execute()).toEqual([])
        expect((await write(s.csrfToken)).statusCode).toBe(201)
        expect((await call(api.app, { url: '/api/v1/tokens', ...withSession(s, null) })).statusCode).toBe(200)
      })

      it('does not keep a session id the browser brought to sign-in (session fixation)', async () => {
        const u = await passwordUser(api, ['researcher'])
        const first = await signIn(api.app, u.email, PASSWORD)
        const second = await signIn(api.app, u.email, PASSWORD, withSession(first))
        expect(second.cookie).not.toBe(first.cookie)
        expectProblem(await whoAmI(first.cookie), 401)
        expect((await whoAmI(second.cookie)).statusCode).toBe(200)

        // An attacker plants a cookie of their own choosing, or a live session of their own account, in the
        // victim's browser: sign-in still works, and the victim ends up in a new session the attacker does not know.
        const planted = 'A'.repeat(43)
        const afterPlanted = await signIn(api.app, u.email, PASSWORD, { cookies: { louder_session: planted } })
        expect(afterPlanted.cookie).not.toBe(planted)
        const attacker = await passwordUser(api, ['partner'])
        const attackerSession = await signIn(api.app, attacker.email, PASSWORD)
        const victim = await signIn(api.app, u.email, PASSWORD, { cookies: { louder_session: attackerSession.cookie } })
        expect(victim.cookie).not.toBe(attackerSession.cookie)
        expect((await whoAmI(victim.cookie)).json()).toMatchObject({ user: { id: u.id } })
        expectProblem(await whoAmI(attackerSession.cookie), 401)
      })

      it('ends the session at sign-out (a CSRF-protected write), and the cookie stops working', async () => {
        const u = await passwordUser(api, ['researcher'])
        const s = await signIn(api.app, u.email, PASSWORD)
        expectProblem(await call(api.app, { url: '/api/v1/auth/logout', method: 'POST', ...withSession(s, null) }), 403)
        expect((await whoAmI(s.cookie)).statusCode).toBe(200)
        const out = await call(api.app, { url: '/api/v1/auth/logout', method: 'POST', ...withSession(s) })
        expect(out.statusCode).toBe(204)
        expect(out.cookies.find((c) => c.name === 'louder_session')?.value).toBe('')
        expectProblem(await whoAmI(s.cookie), 401)
        expect((await sessionsOf(u.id))[0]!.revoked_at).not.toBeNull()
      })

      it('ends a session left idle too long, counting from its last request, and one past its absolute end', async () => {
        const idle = await passwordUser(api, ['researcher'])
        const s = await signIn(api.app, idle.email, PASSWORD)
        const minutes = (n: number) => Date.now() - n * 60_000
        await db().updateTable('sessions').set({ last_seen_at: minutes(29) }).where('user_id', '=', idle.id).execute()
        expect((await whoAmI(s.cookie)).statusCode).toBe(200)
        // That request counted as activity: 29 minutes after it is not yet idle.
        const touched = (await sessionsOf(idle.id))[0]!.last_seen_at
        expect(touched).toBeGreaterThan(minutes(1))
        await db().updateTable('sessions').set({ last_seen_at: minutes(31) }).where('user_id', '=', idle.id).execute()
        expectProblem(await whoAmI(s.cookie), 401)
        expect((await sessionsOf(idle.id))[0]!.revoked_at).not.toBeNull()

        const old = await passwordUser(api, ['researcher'])
        const t = await signIn(api.app, old.email, PASSWORD)
        await db().updateTable('sessions').set({ expires_at: Date.now() - 1 }).where('user_id', '=', old.id).execute()
        expectProblem(await whoAmI(t.cookie), 401)
      })

      it('ends every session of an account that is disabled', async () => {
        const u = await passwordUser(api, ['researcher'])
        const s = await signIn(api.app, u.email, PASSWORD)
        await call(api.app, { method: 'PATCH', url: `/api/v1/users/${u.id}`, token: api.token.admin, body: { disabled: true } })
        expectProblem(await whoAmI(s.cookie), 401)
      })
    })

    describe('two-factor login', () => {
      /** A code the secret gives `offset` steps from now, and one it gives at no step near now. */
      const code = (secret: string, offset = 0) => hotp(base32Decode(secret), totpStep(Date.now()) + offset)
      const notACode = (secret: string) => ['000000', '123456', '999999', '314159'].find((c) => ![-2, -1, 0, 1, 2].some((o) => code(secret, o) === c))!

      async function enrol(u: PasswordUser, auth: { token?: string; session?: Awaited<ReturnType<typeof signIn>> }) {
        const as = auth.token ? { token: auth.token } : withSession(auth.session!)
        const setup = await call(api.app, { method: 'POST', url: '/api/v1/auth/totp/setup', ...as })
        expect(setup.statusCode, setup.body).toBe(200)
        const { secret, uri } = setup.json() as { secret: string; uri: string }
        expect(secret).toMatch(/^[A-Z2-7]{32}$/)
        expect(uri).toContain(`secret=${secret}`)
        expectProblem(await call(api.app, { url: '/api/v1/auth/totp/confirm', body: { code: notACode(secret) }, ...as }), 409, 'totp_invalid')
        const confirmed = await call(api.app, { url: '/api/v1/auth/totp/confirm', body: { code: code(secret) }, ...as })
        expect(confirmed.statusCode, confirmed.body).toBe(200)
        const { recoveryCodes } = confirmed.json() as { recoveryCodes: string[] }
        expect(recoveryCodes).toHaveLength(10)
        expect(new Set(recoveryCodes).size).toBe(10)
        return { secret, recoveryCodes }
      }

      it('asks for the second factor, refuses wrong, replayed and stale codes, and takes each recovery code once', async () => {
        const u = await passwordUser(api, ['researcher'])
        const { token } = (await tokenLogin(u.email, PASSWORD)).json() as { token: string }
        const { secret, recoveryCodes } = await enrol(u, { token })
        expectProblem(await call(api.app, { method: 'POST', url: '/api/v1/auth/totp/setup', token }), 409, 'two_factor_enabled')

        const missing = await login(u.email, PASSWORD)
        expectProblem(missing, 401, 'second_factor_required')
        expect(missing.cookies).toEqual([])
        expectProblem(await tokenLogin(u.email, PASSWORD), 401, 'second_factor_required')
        expectProblem(await tokenLogin(u.email, PASSWORD, { totp: notACode(secret) }), 401, 'unauthenticated')
        // A right code with a wrong password tells nothing either.
        expectProblem(await tokenLogin(u.email, WRONG, { totp: code(secret, 1) }), 401, 'unauthenticated')

        // Enrolment used the current step; the next one is a fresh code.
        const next = code(secret, 1)
        expect((await tokenLogin(u.email, PASSWORD, { totp: next })).statusCode).toBe(201)
        expectProblem(await tokenLogin(u.email, PASSWORD, { totp: next }), 401) // replayed
        expectProblem(await tokenLogin(u.email, PASSWORD, { totp: code(secret) }), 401) // older than the last one used

        expect((await tokenLogin(u.email, PASSWORD, { recoveryCode: recoveryCodes[0] })).statusCode).toBe(201)
        expectProblem(await tokenLogin(u.email, PASSWORD, { recoveryCode: recoveryCodes[0] }), 401)
        const session = await signIn(api.app, u.email, PASSWORD, { body: { recoveryCode: recoveryCodes[1]!.toUpperCase() } })
        expect(session.response.json()).toMatchObject({ user: { id: u.id, twoFactorEnabled: true }, twoFactorPending: false })
      })

      it('counts second-factor guesses towards the lockout', async () => {
        const u = await passwordUser(api, ['researcher'])
        const { token } = (await tokenLogin(u.email, PASSWORD)).json() as { token: string }
        const { secret } = await enrol(u, { token })
        for (let i = 0; i < 5; i++) expectProblem(await tokenLogin(u.email, PASSWORD, { totp: notACode(secret) }), 401)
        expectProblem(await tokenLogin(u.email, PASSWORD, { totp: code(secret, 1) }), 429, 'too_many_attempts')
      })

      it('under the two-factor policy, lets an admin, editor or legal officer without it do nothing but enrol', async () => {
        // Only an admin with a second factor may require it of others.
        const admin = await passwordUser(api, ['admin'])
        const adminToken = (await issueToken(api.ctx.store.repos, admin.id)).token
        await enrol(admin, { token: adminToken })
        const earlierEditorToken = api.token.editor
        const turnOn = await call(api.app, { method: 'PATCH', url: '/api/v1/settings', token: adminToken, body: { requireTwoFactor: true } })
        expect(turnOn.statusCode, turnOn.body).toBe(200)
        try {
          for (const role of ['admin', 'editor', 'legal'] as const) {
            const u = await passwordUser(api, [role])
            const s = await signIn(api.app, u.email, PASSWORD)
            expect(s.response.json()).toMatchObject({ twoFactorPending: true })
            expect((await call(api.app, { url: '/api/v1/auth/session', ...withSession(s) })).json()).toMatchObject({ twoFactorPending: true })
            for (const url of ['/api/v1/observations', '/api/v1/tokens', '/api/v1/users', '/api/v1/settings'])
              expectProblem(await call(api.app, { url, ...withSession(s) }), 403, 'forbidden')
            expectProblem(await call(api.app, { url: '/api/v1/tokens', body: { name: 'escape' }, ...withSession(s) }), 403)
            // No token either: tokens outlive sessions, so they must not skip the policy.
            expectProblem(await tokenLogin(u.email, PASSWORD), 403, 'forbidden')
            expect(await db().selectFrom('api_tokens').select('id').where('user_id', '=', u.id).execute()).toEqual([])
            if (role === 'editor') {
              await enrol(u, { session: s })
              expect((await call(api.app, { url: '/api/v1/observations', ...withSession(s) })).statusCode).toBe(200)
            }
          }
          // A token made before the policy was turned on does not get round it.
          expectProblem(await call(api.app, { url: '/api/v1/orgs', token: earlierEditorToken }), 403, 'forbidden')
          expect((await call(api.app, { url: '/api/v1/auth/session', token: earlierEditorToken })).json()).toMatchObject({ twoFactorPending: true })
          // Another admin's token is held to it too, and can still enrol; the enrolled admin's is not.
          expectProblem(await call(api.app, { url: '/api/v1/settings', token: api.token.admin }), 403)
          expect((await call(api.app, { method: 'POST', url: '/api/v1/auth/totp/setup', token: api.token.admin })).statusCode).toBe(200)
          expect((await call(api.app, { url: '/api/v1/settings', token: adminToken })).statusCode).toBe(200)
          // Researchers and partners are not asked for it.
          const r = await passwordUser(api, ['researcher'])
          const rs = await signIn(api.app, r.email, PASSWORD)
          expect(rs.response.json()).toMatchObject({ twoFactorPending: false })
          expect((await call(api.app, { url: '/api/v1/observations', ...withSession(rs) })).statusCode).toBe(200)
        } finally {
          await writeAccessSettings(api.ctx.store.repos, { requireTwoFactor: false }, null)
        }
        expect((await call(api.app, { url: '/api/v1/orgs', token: earlierEditorToken })).statusCode).toBe(200)
      })
    })

    describe('bodies that try to escalate', () => {
      const rolesOf = async (id: string) => (await api.ctx.store.repos.users.byId(id))!.roles
      const raw = (url: string, body: string, token: string | null = api.token.admin, method: 'POST' | 'PATCH' = 'POST') => call(api.app, { method, url, token, body })

      it('refuses prototype-poisoning keys (__proto__, constructor.prototype), however they are spelled', async () => {
        const u = await passwordUser(api, ['researcher'])
        const creds = `"email":${JSON.stringify(u.email)},"password":${JSON.stringify(PASSWORD)}`
        for (const poison of ['"__proto__":{"roles":["admin"]}', '"constructor":{"prototype":{"roles":["admin"]}}', '"__pro\\u0074o__":{"roles":["admin"]}', '"extra":{"__proto__":{"isAdmin":true}}']) {
          const signIn = await raw('/api/v1/auth/login', `{${creds},${poison}}`, null)
          expectProblem(signIn, 400)
          expect(signIn.cookies).toEqual([])

          const email = `${uuidv7()}@example.org`
          expectProblem(await raw('/api/v1/users', `{"email":"${email}","displayName":"P","roles":["researcher"],${poison}}`), 400)
          expect(await api.ctx.store.repos.users.byEmail(email)).toBeNull()
          expectProblem(await raw(`/api/v1/users/${u.id}`, `{"displayName":"P",${poison}}`, api.token.admin, 'PATCH'), 400)
        }
        expect(await rolesOf(u.id)).toEqual(['researcher'])
        expect(({} as Record<string, unknown>).roles).toBeUndefined()
        expect(({} as Record<string, unknown>).isAdmin).toBeUndefined()
      })

      it('refuses a key given twice, so a second "roles" cannot quietly win', async () => {
        const u = await api.user(['researcher'])
        const email = `${uuidv7()}@example.org`
        for (const dup of ['"roles":["researcher"],"roles":["admin"]', '"roles":["researcher"],"rol\\u0065s":["admin"]']) {
          const res = await raw('/api/v1/users', `{"email":"${email}","displayName":"D",${dup}}`)
          expect(expectProblem(res, 400).errors).toEqual([{ field: '/body', message: expect.stringContaining('roles') }])
          expect(await api.ctx.store.repos.users.byEmail(email)).toBeNull()
          expectProblem(await raw(`/api/v1/users/${u.id}`, `{${dup}}`, api.token.admin, 'PATCH'), 400)
          expectProblem(await raw('/api/v1/tokens', `{"name":"t",${dup}}`, u.token), 400)
        }
        expect(await rolesOf(u.id)).toEqual(['researcher'])
        const victim = await passwordUser(api, ['admin'])
        expectProblem(await raw('/api/v1/auth/login', `{"email":"nobody@example.org","email":${JSON.stringify(victim.email)},"password":"x"}`, null), 400)
        expect((await lockState(victim.id)).failed_logins).toBe(0)
      })
    })

    it('refuses every request from one address past its limit on password endpoints, whoever it names', async () => {
      const address = freshAddress()
      const answers = []
      for (let i = 0; i < 25; i++) answers.push((await call(api.app, { url: '/api/v1/auth/token', body: { email: `${uuidv7()}@example.org`, password: WRONG }, remoteAddress: address })).statusCode)
      expect(answers.slice(0, 5)).toEqual([401, 401, 401, 401, 401])
      expect(answers.at(-1)).toBe(429)
    })
  })
}
