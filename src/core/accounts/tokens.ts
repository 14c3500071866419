import { createHash, randomBytes } from 'node:crypto'
import { type Actor, type Role } from '../access/actor.ts'
import { ForbiddenError, UnauthenticatedError, ValidationError } from '../errors.ts'
import { type Credentials, type LoginDeps, verifyLogin } from './login.ts'
import { uuidv7 } from '../ids.ts'
import type { ApiToken, Repositories } from '../ports/repositories.ts'

const TOKEN_PREFIX = 'ldr_'
const TOKEN_SHAPE = /^ldr_[A-Za-z0-9_-]{43}$/

/** Tokens carry 256 random bits, so a fast hash is enough to store them (unlike passwords). */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex')
}

export interface IssuedToken {
  token: string
  record: ApiToken
}

/** Creates an API token for a user; the token is returned once and only its hash is kept. */
export async function issueToken(
  repos: Repositories,
  userId: string,
  options: { name?: string; roles?: Role[] | null; expiresAt?: number | null } = {},
): Promise<IssuedToken> {
  const user = await repos.users.byId(userId)
  if (!user) throw new ValidationError([{ field: 'userId', message: 'no such user' }])
  const roles = options.roles ?? null
  const extra = roles?.filter((r) => !user.roles.includes(r)) ?? []
  if (extra.length) throw new ValidationError([{ field: 'roles', message: `the user does not hold ${extra.join(', ')}` }])
  const token = TOKEN_PREFIX + randomBytes(32).toString('base64url')
  const now = Date.now()
  const record: ApiToken = { id: uuidv7(now), userId, name: options.name ?? 'api', roles, createdAt: now, expiresAt: options.expiresAt ?? null, revokedAt: null }
  await repos.tokens.insert(record, hashToken(token))
  return { token, record }
}

/** The actor behind a bearer token, or an UnauthenticatedError that does not say which check failed. */
export async function authenticateToken(repos: Repositories, token: string, now = Date.now()): Promise<Actor> {
  const fail = () => new UnauthenticatedError('The API token is not valid: it may be mistyped, expired or revoked.')
  if (!TOKEN_SHAPE.test(token)) throw fail()
  const found = await repos.tokens.byHash(hashToken(token))
  if (!found) throw fail()
  const { token: record, user } = found
  if (record.revokedAt !== null || (record.expiresAt !== null && record.expiresAt <= now) || user.disabledAt !== null) throw fail()
  const roles = record.roles ? user.roles.filter((r) => record.roles!.includes(r)) : user.roles
  return { kind: 'user', userId: user.id, roles, orgId: user.orgId, via: 'token', tokenId: record.id, sessionId: null, twoFactorPending: false }
}

/**
 * Exchanges credentials (with the second factor when the account has one) for a new API token. Someone who
 * still owes two-factor enrolment gets no token: tokens outlive sessions, so they must not skip the policy.
 */
export async function loginForToken(deps: LoginDeps, credentials: Credentials, options: { name?: string; ttlMs?: number } = {}): Promise<IssuedToken> {
  const { user, twoFactorPending } = await verifyLogin(deps, credentials)
  if (user.mustChangePassword) throw new ForbiddenError('get an API token with a one-time password (sign in and choose your own password first: POST /api/v1/auth/password)')
  if (twoFactorPending) throw new ForbiddenError('get an API token before setting up two-factor login (sign in and POST /api/v1/auth/totp/setup)')
  return issueToken(deps.repos, user.id, { name: options.name ?? 'login', expiresAt: (deps.now ?? Date.now()) + (options.ttlMs ?? 12 * 3600_000) })
}
