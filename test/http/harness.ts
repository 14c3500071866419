/**
 * The HTTP API in-process, on a real database (SQLite in a temp data directory, or a fresh PostgreSQL
 * database from test/support/postgres.ts), with one signed-in user per role. Nothing is mocked: requests go
 * through `app.inject` or, where a real socket is needed, through `listen()` on 127.0.0.1.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import { expect } from 'vitest'
import { type AppContext, createAppContext } from '../../src/app-context.ts'
import { buildConfig } from '../../src/config/build-config.ts'
import type { RawSettings } from '../../src/config/read-env.ts'
import type { Role } from '../../src/core/access/actor.ts'
import { issueToken } from '../../src/core/accounts/tokens.ts'
import { uuidv7 } from '../../src/core/ids.ts'
import type { DialectName } from '../../src/db/dialect/dialect-adapter.ts'
import { buildHttpApp } from '../../src/http/app.ts'
import { createLogger } from '../../src/log.ts'
import { createTestDatabase } from '../support/postgres.ts'

export interface TestApi {
  app: FastifyInstance
  ctx: AppContext
  /** A bearer token for a user holding exactly this role. */
  token: Record<Role, string>
  /** Makes another user with these roles and returns its id and a token. */
  user(roles: Role[]): Promise<{ id: string; token: string }>
  /** Closes the app and its database and opens new ones on the same data (a clean server restart). */
  restart(): Promise<void>
  close(): Promise<void>
}

/** `settings`: environment settings beyond the data directory and database (small upload limits, …). */
export async function startTestApi(dialect: DialectName = 'sqlite', settings: RawSettings = {}): Promise<TestApi> {
  const dataDir = mkdtempSync(join(tmpdir(), 'louder-http-'))
  const databaseUrl = dialect === 'postgres' ? await createTestDatabase() : undefined
  const open = async () => {
    const ctx = await createAppContext(buildConfig({ ...settings, dataDir, databaseUrl }), createLogger({ level: 'silent' }))
    const app = await buildHttpApp(ctx)
    await app.ready()
    return { ctx, app }
  }
  const { ctx, app } = await open()
  const user = async (roles: Role[]) => {
    const ctx = api.ctx
    const now = Date.now()
    const id = uuidv7(now)
    await ctx.store.repos.users.insert({ id, email: `${id}@example.org`, displayName: roles.join('+'), roles, mustChangePassword: false, createdAt: now, disabledAt: null }, null)
    return { id, token: (await issueToken(ctx.store.repos, id)).token }
  }
  const token = {} as Record<Role, string>
  const api: TestApi = {
    app,
    ctx,
    token,
    user,
    async restart() {
      await api.app.close()
      await api.ctx.close()
      Object.assign(api, await open())
    },
    async close() {
      await api.app.close()
      await api.ctx.close()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
  for (const role of ['admin', 'editor', 'researcher', 'legal', 'partner'] as const) token[role] = (await user([role])).token
  return api
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

export interface ObservationInput {
  narrative: string
  occurredAt: string
  [field: string]: unknown
}

/** A body that passes the observation schema, with a narrative nobody else uses. */
export function observationBody(overrides: Record<string, unknown> = {}): ObservationInput {
  return { narrative: `seen at ${Date.now()} ${Math.random()}`, occurredAt: '2024-05-01T12:00:00Z', location: { lat: 12.5, lon: -3.25 }, ...overrides }
}

/** A minimal valid incident acted by `partyId` (which must exist for the create to succeed). */
export function incidentBody(partyId: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    eventType: 'Violence against civilians',
    subEventType: 'Attack',
    actors: [{ partyId }],
    occurredAt: '2024-05-01T12:00:00Z',
    placeName: 'Test market',
    narrative: `Attack on the market ${Date.now()} ${Math.random()}`,
    ...overrides,
  }
}

export function postJson(app: FastifyInstance, url: string, token: string | null, payload: unknown, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return app.inject({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/json', ...(token ? bearer(token) : {}), ...headers },
    payload: typeof payload === 'string' || Buffer.isBuffer(payload) ? payload : JSON.stringify(payload),
  } as InjectOptions)
}

/** Things that must never reach a client: stack frames, file paths, driver or framework internals. */
const LEAKS = [/\bat .+\(.+:\d+:\d+\)/, /node_modules/, /\/work\//, /\.ts:\d+/, /SQLITE_/, /sqlite/i, /postgres/i, /kysely/i, /\bFST_/, /stack/i]

/** Asserts an RFC 9457 problem document with this status, and returns it. */
export function expectProblem(res: { statusCode: number; headers: Record<string, unknown>; body: string }, status: number, code?: string): ProblemBody {
  expect(res.statusCode, res.body).toBe(status)
  expect(String(res.headers['content-type'])).toMatch(/^application\/problem\+json/)
  const doc = JSON.parse(res.body) as ProblemBody
  expect(doc).toMatchObject({ status, type: expect.any(String), title: expect.any(String), code: expect.any(String) })
  if (code) expect(doc.code).toBe(code)
  if (doc.errors) for (const e of doc.errors) expect(e).toEqual({ field: expect.stringMatching(/^\//), message: expect.any(String) })
  for (const leak of LEAKS) expect(res.body, `problem body leaks ${leak}`).not.toMatch(leak)
  if (status === 401) expect(res.headers['www-authenticate']).toMatch(/^Bearer/)
  return doc
}

export interface ProblemBody {
  type: string
  title: string
  status: number
  code: string
  detail?: string
  errors?: { field: string; message: string }[]
}
