/**
 * The permission matrix, generated from the server's own list of operations: every operation of the
 * OpenAPI document (and every route the router answers) × every role × no login, each called for real
 * with a token holding exactly that one role, checked against the table in permission-matrix.ts.
 * A refusal is 401 (no credentials) or 403 (signed in), a bare problem document, and comes before the body
 * is even validated; an allowed call gets past authorisation (whatever the record lookup then says).
 */
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Role } from '../../src/core/access/actor.ts'
import { issueToken } from '../../src/core/accounts/tokens.ts'
import { uuidv7 } from '../../src/core/ids.ts'
import { buildHttpApp } from '../../src/http/app.ts'
import { expectProblem, startTestApi, type TestApi } from '../http/harness.ts'
import { CALLERS, type Caller, PERMISSION_MATRIX } from './permission-matrix.ts'
import { BODIES, type Identity, partyForBodies } from './requests.ts'
import { call, documentedOperations, type OpenApiDocument, openApiDocument, type Operation, PASSWORD, PROBLEM_FIELDS, registeredRoutes } from './support.ts'

/** The operations an app answers (its OpenAPI document's and its router's, HEAD aside), and how the table differs. */
function coverage(app: FastifyInstance, doc: OpenApiDocument) {
  const operations = new Set([...documentedOperations(doc).keys(), ...[...registeredRoutes(app)].filter((r) => !r.startsWith('HEAD '))])
  return {
    operations,
    undeclared: [...operations].filter((op) => !(op in PERMISSION_MATRIX)).sort(),
    stale: Object.keys(PERMISSION_MATRIX).filter((op) => !operations.has(op)).sort(),
  }
}

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`permission matrix [${dialect}]`, () => {
    let api: TestApi
    let doc: OpenApiDocument
    let passwordHash: string

    beforeAll(async () => {
      api = await startTestApi(dialect)
      doc = await openApiDocument(api.app)
      passwordHash = await api.ctx.passwords.hash(PASSWORD)
      await partyForBodies(api.app, api.token.admin)
    })
    afterAll(async () => {
      await api?.close()
    })

    /** A new user with exactly this role and a token of its own: calls like logout and password change use it up. */
    async function identity(caller: Caller): Promise<Identity> {
      const role: Role = caller === 'anonymous' ? 'researcher' : caller
      const now = Date.now()
      const id = uuidv7(now)
      const email = `${id}@example.org`
      await api.ctx.store.repos.users.insert({ id, email, displayName: `matrix ${role}`, roles: [role], mustChangePassword: false, createdAt: now, disabledAt: null }, passwordHash)
      // Without a login the body may still name an account (sign-in does), but no token is sent.
      return { email, password: PASSWORD, token: caller === 'anonymous' ? null : (await issueToken(api.ctx.store.repos, id)).token }
    }

    it('has exactly one row for every operation the server answers, and none for any it does not', () => {
      const { operations, undeclared, stale } = coverage(api.app, doc)
      expect(operations.size).toBeGreaterThan(20)
      expect(undeclared, 'operations without a row in test/access/permission-matrix.ts').toEqual([])
      expect(stale, 'rows in test/access/permission-matrix.ts for operations the server does not answer').toEqual([])
    })

    it('notices a route added without a row, documented or hidden from the document', async () => {
      const app = await buildHttpApp(api.ctx)
      app.get('/api/v1/undeclared', { config: { action: 'health.read' }, schema: { summary: 'added without a row' } }, async () => ({}))
      app.post('/api/v1/hidden', { config: { action: 'health.read' }, schema: { hide: true } }, async () => ({}))
      await app.ready()
      try {
        expect(coverage(app, await openApiDocument(app)).undeclared).toEqual(['GET /api/v1/undeclared', 'POST /api/v1/hidden'])
      } finally {
        await app.close()
      }
    })

    it('agrees with the documented security: exactly the operations open to anonymous callers need no bearer token', () => {
      for (const [key, op] of documentedOperations(doc)) {
        const row = PERMISSION_MATRIX[key]
        if (!row) continue // reported by the coverage test above
        if (row.anonymous === 'allow') expect(op.security, `${key} is open to anonymous callers in the table`).toBeUndefined()
        else expect(op.security, `${key} needs sign-in in the table`).toEqual([{ bearer: [] }])
      }
    })

    it('gives every row a decision for every caller', () => {
      for (const [key, row] of Object.entries(PERMISSION_MATRIX)) expect(Object.keys(row).sort(), key).toEqual([...CALLERS].sort())
    })

    for (const [key, row] of Object.entries(PERMISSION_MATRIX)) {
      const [method, path] = key.split(' ') as [string, string]
      it(`${key}: ${CALLERS.map((c) => `${c} ${row[c]}`).join(', ')}`, async () => {
        const op: Operation | undefined = documentedOperations(doc).get(key)
        for (const caller of CALLERS) {
          const who = await identity(caller)
          // Record ids are fresh (unknown); a position in a list (`{index}`) is the first.
          const url = path.replace(/\{(\w+)\}/g, (_, name: string) => (name === 'index' ? '0' : uuidv7()))
          const takesBody = op?.requestBody !== undefined
          const body = takesBody ? (BODIES[key]?.(who) ?? {}) : undefined
          const label = `${key} as ${caller}`
          const res = await call(api.app, { method: method as 'GET', url, token: who.token, body })

          if (row[caller] === 'deny') {
            const status = caller === 'anonymous' ? 401 : 403
            expectProblem(res, status)
            expect(Object.keys(res.json() as object).filter((k) => !(PROBLEM_FIELDS as readonly string[]).includes(k)), `${label}: a refusal carries no data`).toEqual([])
            expect((res.json() as { errors?: unknown }).errors, `${label}: a refusal is not a validation report`).toBeUndefined()
            expect(res.headers['set-cookie'], `${label}: a refusal sets no cookie`).toBeUndefined()
            // Authorisation comes before validation: a body that would fail the schema is refused the same way.
            if (takesBody) expect((await call(api.app, { method: method as 'POST', url, token: who.token, body: { notAField: true } })).statusCode, `${label} with a bad body`).toBe(status)
          } else {
            expect([401, 403], `${label} was refused (${res.statusCode}): ${res.body}`).not.toContain(res.statusCode)
            expect(res.statusCode, `${label}: ${res.body}`).toBeLessThan(500)
            // The plausible body must pass the schema, or an allowed call would prove nothing beyond authorisation.
            if (BODIES[key]) expect([400, 413, 415], `${label}: the test's body was refused: ${res.body}`).not.toContain(res.statusCode)
          }

          // HEAD answers as its GET does (Fastify adds it to every GET route, with the same config).
          if (method === 'GET') {
            const head = await call(api.app, { method: 'HEAD', url, token: who.token })
            if (row[caller] === 'deny') expect(head.statusCode, `HEAD ${path} as ${caller}`).toBe(caller === 'anonymous' ? 401 : 403)
            else expect([401, 403], `HEAD ${path} as ${caller}`).not.toContain(head.statusCode)
          }
        }
      })
    }
  })
}
