import { PassThrough } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createAppContext, type AppContext } from '../../src/app-context.ts'
import { buildConfig } from '../../src/config/build-config.ts'
import { issueToken } from '../../src/core/accounts/tokens.ts'
import { uuidv7 } from '../../src/core/ids.ts'
import { buildHttpApp } from '../../src/http/app.ts'
import { createLogger } from '../../src/log.ts'
import { tmpDir } from '../support/tmp.ts'

/** Logs never carry request bodies, passwords or tokens: whatever a request holds, the log line does not. */
describe('logs', () => {
  let ctx: AppContext
  let lines = ''

  beforeAll(async () => {
    const sink = new PassThrough()
    sink.on('data', (chunk) => (lines += chunk.toString()))
    ctx = await createAppContext(buildConfig({ dataDir: tmpDir() }), createLogger({ level: 'trace', destination: sink }))
  })
  afterAll(() => ctx.close())

  it('contain no body, password or token, on success or failure', async () => {
    const app = await buildHttpApp(ctx)
    const now = Date.now()
    const userId = uuidv7(now)
    await ctx.store.repos.users.insert({ id: userId, email: 'r@example.org', displayName: 'R', roles: ['researcher'], mustChangePassword: false, createdAt: now, disabledAt: null }, await ctx.passwords.hash('CANARY-PASSWORD-1'))
    const { token } = await issueToken(ctx.store.repos, userId)
    const auth = { authorization: `Bearer ${token}` }

    await app.inject({ method: 'POST', url: '/api/v1/observations', headers: { ...auth, 'idempotency-key': 'CANARY-KEY' }, payload: { narrative: 'CANARY-NARRATIVE witness Amina', occurredAt: '2026-01-01T00:00:00Z' } })
    await app.inject({ method: 'POST', url: '/api/v1/observations', headers: auth, payload: { narrative: 'CANARY-NARRATIVE-2', occurredAt: 'not a time', bogus: 'CANARY-FIELD' } })
    await app.inject({ method: 'POST', url: '/api/v1/auth/token', payload: { email: 'r@example.org', password: 'CANARY-PASSWORD-1' } })
    await app.inject({ method: 'POST', url: '/api/v1/auth/token', payload: { email: 'r@example.org', password: 'CANARY-PASSWORD-WRONG' } })
    await app.inject({ method: 'GET', url: '/api/v1/observations', headers: { authorization: 'Bearer ldr_CANARYTOKENCANARYTOKENCANARYTOKENCANARYTOK' } })
    await app.inject({ method: 'GET', url: '/api/v1/observations', headers: { ...auth, cookie: 'session=CANARY-COOKIE' } })
    await app.close()

    expect(lines.length).toBeGreaterThan(0)
    expect(lines).toContain('request completed')
    for (const secret of ['CANARY', token, 'Amina']) expect(lines).not.toContain(secret)
  })
})
