/**
 * `/api/v1/tokens`: everyone manages their own API tokens. The list never shows a token or its hash, a new
 * token holds no role its maker is not acting with, revoking takes effect at once, and another user's
 * token is "not found". On SQLite and on PostgreSQL.
 */
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { hashToken, issueToken } from '../../src/core/accounts/tokens.ts'
import { uuidv7 } from '../../src/core/ids.ts'
import { expectProblem, observationBody, startTestApi, type TestApi } from '../http/harness.ts'
import { auditEntries, call } from './support.ts'

const TOKENS = '/api/v1/tokens'
const DAY = 86_400_000

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`API tokens [${dialect}]`, () => {
    let api: TestApi
    beforeAll(async () => {
      api = await startTestApi(dialect)
    })
    afterAll(async () => {
      await api?.close()
    })

    const create = (token: string, body: Record<string, unknown>, headers: Record<string, string> = {}) => call(api, 'POST', TOKENS, token, body, headers)
    const whoami = (token: string) => call(api, 'GET', '/api/v1/auth/session', token)

    it('lists my own tokens, newest first, with every field but the token itself', async () => {
      const me = await api.user(['researcher'])
      const other = await api.user(['researcher'])
      const made = await create(me.token, { name: 'laptop' })
      expect(made.statusCode, made.body).toBe(201)
      const { id, token, expiresAt } = made.json()
      expect(token).toMatch(/^ldr_[A-Za-z0-9_-]{43}$/)
      expect(Date.parse(expiresAt)).toBeGreaterThan(Date.now() + 89 * DAY)
      expect(Date.parse(expiresAt)).toBeLessThan(Date.now() + 91 * DAY)

      const res = await call(api, 'GET', TOKENS, me.token)
      expect(res.statusCode, res.body).toBe(200)
      const { items, next } = res.json()
      expect(next).toBeNull()
      expect(items).toHaveLength(2)
      expect(items[0]).toEqual({ id, name: 'laptop', roles: null, createdAt: expect.any(String), expiresAt, lastUsedAt: null, revoked: false })
      // The harness's token was just used to ask: its use is recorded.
      expect(items[1]).toMatchObject({ name: 'api', expiresAt: null, revoked: false, lastUsedAt: expect.stringMatching(/^\d{4}-.*Z$/) })
      for (const secret of [token, me.token, hashToken(token), hashToken(me.token)]) expect(res.body).not.toContain(secret)
      expect(res.body).not.toContain(other.token)
      expect(JSON.stringify(items)).not.toMatch(/hash/i)
    })

    it('pages with limit and cursor', async () => {
      const me = await api.user(['legal'])
      for (const name of ['a', 'b', 'c', 'd']) expect((await create(me.token, { name })).statusCode).toBe(201)
      const seen: string[] = []
      let url = `${TOKENS}?limit=2`
      for (let page = 0; page < 5; page++) {
        const body = (await call(api, 'GET', url, me.token)).json()
        seen.push(...body.items.map((t: { name: string }) => t.name))
        if (!body.next) break
        url = `${TOKENS}?limit=2&cursor=${body.next}`
      }
      expect(seen).toEqual(['d', 'c', 'b', 'a', 'api'])
      expectProblem(await call(api, 'GET', `${TOKENS}?cursor=nonsense`, me.token), 400)
    })

    it('makes a working token, shown once; an Idempotency-Key replays it without storing it in clear', async () => {
      const me = await api.user(['editor'])
      const key = randomUUID()
      const body = { name: 'ci', expiresAt: new Date(Date.now() + 30 * DAY).toISOString() }
      const first = await create(me.token, body, { 'idempotency-key': key })
      expect(first.statusCode).toBe(201)
      const replay = await create(me.token, body, { 'idempotency-key': key })
      expect(replay.headers['idempotent-replayed']).toBe('true')
      expect(replay.json()).toEqual(first.json())
      expectProblem(await create(me.token, { ...body, expiresAt: new Date(Date.now() + 31 * DAY).toISOString() }, { 'idempotency-key': key }), 422, 'idempotency_key_reused')
      expect(await api.ctx.store.repos.tokens.listForUser(me.id)).toHaveLength(2)
      const { token, id } = first.json()
      expect((await whoami(token)).json().user.id).toBe(me.id)
      const stored = await api.ctx.db.kysely.selectFrom('idempotency_keys').select('response_body').execute()
      for (const row of stored) expect(row.response_body).not.toContain(token)
      const [entry] = await auditEntries(api, { action: 'token.create', resourceId: id })
      expect(entry).toMatchObject({ userId: me.id, outcome: 'ok', status: 201, resourceType: 'token' })
      expect(JSON.stringify(entry)).not.toContain(token)
    })

    it('refuses an expiry in the past, beyond a year, or not a time', async () => {
      const { token } = await api.user(['researcher'])
      for (const expiresAt of [new Date(Date.now() - 1000).toISOString(), new Date(Date.now() + 400 * DAY).toISOString()]) {
        const doc = expectProblem(await create(token, { name: 'x', expiresAt }), 400)
        expect(doc.errors?.map((e) => e.field)).toEqual(['/body/expiresAt'])
      }
      expectProblem(await create(token, { name: 'x', expiresAt: 'tomorrow' }), 400)
      expectProblem(await create(token, { name: 'x', expiresAt: '2030-06-30T23:59:60Z' }), 400)
      expectProblem(await create(token, { name: '' }), 400)
      expectProblem(await create(token, { name: 'x', secret: 'mine' }), 400)
    })

    it('limits a token to a subset of my roles; the other role is then out of its reach', async () => {
      const me = await api.user(['admin', 'researcher'])
      const made = await create(me.token, { name: 'field', roles: ['researcher'] })
      expect(made.statusCode, made.body).toBe(201)
      const narrow = made.json().token
      expect((await call(api, 'POST', '/api/v1/observations', narrow, observationBody())).statusCode).toBe(201)
      expectProblem(await call(api, 'GET', '/api/v1/users', narrow), 403)
      expect((await call(api, 'GET', '/api/v1/users', me.token)).statusCode).toBe(200)

      // Roles I do not hold are refused…
      const doc = expectProblem(await create(me.token, { name: 'x', roles: ['editor'] }), 400)
      expect(doc.errors?.[0]).toMatchObject({ field: '/body/roles', message: expect.stringContaining('editor') })
      expectProblem(await create(me.token, { name: 'x', roles: ['superuser'] }), 400)
      // …and a narrow token cannot mint a wider one, asked or by default.
      expectProblem(await create(narrow, { name: 'wider', roles: ['admin'] }), 400)
      const child = await create(narrow, { name: 'child' })
      expect(child.statusCode).toBe(201)
      expectProblem(await call(api, 'GET', '/api/v1/users', child.json().token), 403)
      const listed = (await call(api, 'GET', TOKENS, me.token)).json().items
      expect(listed.find((t: { name: string }) => t.name === 'child').roles).toEqual(['researcher'])
    })

    it('revokes my token at once: the next call with it is 401', async () => {
      const me = await api.user(['researcher'])
      const made = (await create(me.token, { name: 'temp' })).json()
      expect((await whoami(made.token)).statusCode).toBe(200)
      const res = await call(api, 'DELETE', `${TOKENS}/${made.id}`, me.token)
      expect(res.statusCode, res.body).toBe(204)
      expect(res.body).toBe('')
      expectProblem(await whoami(made.token), 401)
      expect((await call(api, 'GET', TOKENS, me.token)).json().items.find((t: { id: string }) => t.id === made.id).revoked).toBe(true)
      // Revoking again is harmless; the token used to ask still works.
      expect((await call(api, 'DELETE', `${TOKENS}/${made.id}`, me.token)).statusCode).toBe(204)
      expect((await whoami(me.token)).statusCode).toBe(200)
      const [entry] = await auditEntries(api, { action: 'token.revoke', resourceId: made.id })
      expect(entry).toMatchObject({ userId: me.id, outcome: 'ok', status: 204 })
    })

    it('a token can revoke itself', async () => {
      const me = await api.user(['partner'])
      const own = (await api.ctx.store.repos.tokens.listForUser(me.id))[0]!
      expect((await call(api, 'DELETE', `${TOKENS}/${own.id}`, me.token)).statusCode).toBe(204)
      expectProblem(await whoami(me.token), 401)
    })

    it("answers 404 for someone else's token, as for one that does not exist, and leaves it working", async () => {
      const me = await api.user(['admin'])
      const victim = await api.user(['researcher'])
      const theirs = (await api.ctx.store.repos.tokens.listForUser(victim.id))[0]!
      const doc = expectProblem(await call(api, 'DELETE', `${TOKENS}/${theirs.id}`, me.token), 404)
      const missing = expectProblem(await call(api, 'DELETE', `${TOKENS}/${uuidv7()}`, me.token), 404)
      expect(doc.detail?.replace(theirs.id, 'ID')).toBe(missing.detail?.replace(/[0-9a-f-]{36}/, 'ID'))
      expect((await whoami(victim.token)).statusCode).toBe(200)
      expectProblem(await call(api, 'DELETE', `${TOKENS}/not-a-uuid`, me.token), 400)
      const [entry] = await auditEntries(api, { action: 'token.revoke', resourceId: theirs.id })
      expect(entry).toMatchObject({ userId: me.id, outcome: 'failed', status: 404 })
    })

    it('refuses an expired token with 401, and says nothing about why', async () => {
      const me = await api.user(['editor'])
      const expired = await issueToken(api.ctx.store.repos, me.id, { name: 'old', expiresAt: Date.now() - 1 })
      const doc = expectProblem(await call(api, 'GET', TOKENS, expired.token), 401)
      const garbage = expectProblem(await call(api, 'GET', TOKENS, `ldr_${'x'.repeat(43)}`), 401)
      expect(doc.detail).toBe(garbage.detail)
    })

    it('needs a sign-in', async () => {
      expectProblem(await call(api, 'GET', TOKENS, null), 401)
      expectProblem(await create('', { name: 'x' }), 401)
      expectProblem(await call(api, 'DELETE', `${TOKENS}/${uuidv7()}`, null), 401)
    })
  })
}
