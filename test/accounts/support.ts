/** Small helpers the accounts tests share, over test/http/harness.ts. */
import type { InjectOptions, LightMyRequestResponse } from 'fastify'
import { expect } from 'vitest'
import type { Role } from '../../src/core/access/actor.ts'
import { base32Decode, hotp, totpStep } from '../../src/core/accounts/totp.ts'
import { createUser } from '../../src/core/accounts/users.ts'
import type { AuditEntry } from '../../src/core/ports/repositories.ts'
import { bearer, type TestApi } from '../http/harness.ts'

export const PASSWORD = 'correct horse battery staple'

/** A request as a bearer-token caller (or nobody), with a JSON body when one is given. */
export function call(api: TestApi, method: InjectOptions['method'], url: string, token: string | null, body?: unknown, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return api.app.inject({
    method,
    url,
    headers: { ...(token ? bearer(token) : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
  } as InjectOptions)
}

let n = 0
/** A user who can sign in with a password (the harness's own users have none). */
export async function userWithPassword(api: TestApi, roles: Role[], password = PASSWORD): Promise<{ id: string; email: string; password: string }> {
  const email = `person-${Date.now()}-${n++}@example.org`
  const { user } = await createUser(api.ctx.store.repos, api.ctx.passwords, { email, displayName: roles.join('+'), roles, password })
  return { id: user.id, email, password }
}

export interface Session {
  /** Headers that send the session cookie; writes add the CSRF token. */
  headers: Record<string, string>
  writeHeaders: Record<string, string>
  body: { user: { id: string; mustChangePassword: boolean }; twoFactorPending: boolean; csrfToken: string }
}

export async function login(api: TestApi, email: string, password: string, extra: Record<string, string> = {}): Promise<Session> {
  const res = await call(api, 'POST', '/api/v1/auth/login', null, { email, password, ...extra })
  expect(res.statusCode, res.body).toBe(200)
  const cookie = res.cookies.find((c) => c.name === 'louder_session')!
  const body = res.json() as Session['body']
  const headers = { cookie: `louder_session=${cookie.value}` }
  return { headers, writeHeaders: { ...headers, 'x-csrf-token': body.csrfToken }, body }
}

/** The current code of an authenticator app holding this base32 secret. */
export function totpNow(secret: string, offsetSteps = 0): string {
  return hotp(base32Decode(secret), totpStep(Date.now()) + offsetSteps)
}

/** Every audit entry matching, newest first, read straight from the repository. */
export async function auditEntries(api: TestApi, filter: { action?: string; userId?: string; resourceId?: string } = {}): Promise<AuditEntry[]> {
  return api.ctx.store.repos.audit.list({ limit: 10_000, ...filter })
}
