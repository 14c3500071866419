/**
 * One address may try passwords 20 times a minute across sign-in, token exchange and turning two-factor
 * off; then 429 with Retry-After. This is what stops spraying one guess over many accounts, which the
 * per-account lockout does not see. On SQLite and on PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LOGIN_RATE_LIMIT } from '../../src/http/rate-limit.ts'
import { bearer, expectProblem, startTestApi, type TestApi } from '../http/harness.ts'
import { auditEntries, PASSWORD, userWithPassword } from './support.ts'

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`rate limit per address [${dialect}]`, () => {
    let api: TestApi
    beforeAll(async () => {
      api = await startTestApi(dialect)
    })
    afterAll(async () => {
      await api?.close()
    })

    const attempt = (url: string, remoteAddress: string, payload: Record<string, unknown>, token?: string) =>
      api.app.inject({ method: 'POST', url, remoteAddress, headers: { 'content-type': 'application/json', ...(token ? bearer(token) : {}) }, payload: JSON.stringify(payload) })

    it('answers 429 with Retry-After once an address has used its attempts, on every password endpoint', async () => {
      const real = await userWithPassword(api, ['researcher'])
      const sprayer = '203.0.113.9'
      // A different email each time: no account is locked, so only the address limit can stop this.
      for (let i = 0; i < LOGIN_RATE_LIMIT.max - 1; i++) expectProblem(await attempt('/api/v1/auth/login', sprayer, { email: `guess-${i}@example.org`, password: 'Winter2024!' }), 401)
      expect((await attempt('/api/v1/auth/token', sprayer, { email: real.email, password: PASSWORD })).statusCode).toBe(201)

      const refused = await attempt('/api/v1/auth/login', sprayer, { email: real.email, password: PASSWORD })
      const doc = expectProblem(refused, 429, 'rate_limited')
      expect(doc.detail).toMatch(/Try again in \d+ s/)
      const retryAfter = Number(refused.headers['retry-after'])
      expect(retryAfter).toBeGreaterThanOrEqual(1)
      expect(retryAfter).toBeLessThanOrEqual(60)
      expectProblem(await attempt('/api/v1/auth/token', sprayer, { email: real.email, password: PASSWORD }), 429, 'rate_limited')
      expectProblem(await attempt('/api/v1/auth/totp/disable', sprayer, { email: real.email, password: PASSWORD }, api.token.researcher), 429, 'rate_limited')

      // Another address is not held back, and neither is the account: it was never locked.
      expect((await attempt('/api/v1/auth/login', '198.51.100.4', { email: real.email, password: PASSWORD })).statusCode).toBe(200)
      // Requests that are not attempts (no valid body) do not use the budget, and other endpoints are not limited.
      expectProblem(await attempt('/api/v1/auth/login', '198.51.100.5', { email: 'x' }), 400)
      const session = await api.app.inject({ method: 'GET', url: '/api/v1/auth/session', remoteAddress: sprayer, headers: bearer(api.token.admin) })
      expect(session.statusCode).toBe(200)

      const refusedEntries = (await auditEntries(api, { action: 'auth.login' })).filter((e) => e.status === 429)
      expect(refusedEntries[0]).toMatchObject({ outcome: 'denied', ip: sprayer })
    })

    it('counts an IPv6 /64 as one address', async () => {
      for (let i = 0; i < LOGIN_RATE_LIMIT.max; i++) expectProblem(await attempt('/api/v1/auth/login', `2001:db8:aa:bb::${(i + 1).toString(16)}`, { email: `v6-${i}@example.org`, password: 'x' }), 401)
      expectProblem(await attempt('/api/v1/auth/login', '2001:db8:aa:bb:ffff::1', { email: 'v6@example.org', password: 'x' }), 429, 'rate_limited')
      expectProblem(await attempt('/api/v1/auth/login', '2001:db8:aa:cc::1', { email: 'v6@example.org', password: 'x' }), 401)
    })
  })
}
