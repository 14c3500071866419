import { createHash, randomBytes } from 'node:crypto'
import { type Actor, type Role } from '../access/actor.ts'
import { ForbiddenError, NotFoundError, UnauthenticatedError, ValidationError } from '../errors.ts'
import { needsTwoFactor, readAccessSettings } from './access-settings.ts'
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
  // `lastUsedAt` lets people find and revoke tokens nobody uses; a minute's precision spares a write per request.
  if (record.lastUsedAt === null || now - record.lastUsedAt > 60_000) await repos.tokens.touch(record.id, now)
  const roles = record.roles ? user.roles.filter((r) => record.roles!.includes(r)) : user.roles
  // The two-factor policy holds for tokens as for sessions, including tokens made before it was turned on:
  // whoever owes enrolment may only enrol, whatever they signed in with.
  const twoFactorPending = !user.twoFactorEnabled && needsTwoFactor(await readAccessSettings(repos), roles)
  return { kind: 'user', userId: user.id, roles, orgId: user.orgId, via: 'token', tokenId: record.id, sessionId: null, twoFactorPending }
}

/** Self-service tokens last at most a year, and 90 days unless asked otherwise: a forgotten token should die. */
export const OWN_TOKEN_MAX_MS = 366 * 86_400_000
export const OWN_TOKEN_DEFAULT_MS = 90 * 86_400_000

/**
 * A user makes a token for themselves. It can hold no role the caller does not hold right now: a caller
 * using a token limited to some roles gets a token limited to those (or fewer), never the account's others,
 * so a leaked narrow token cannot mint a wider one.
 */
export async function createOwnToken(
  repos: Repositories,
  actor: Actor,
  input: { name: string; roles?: Role[]; expiresAt?: number },
  now = Date.now(),
): Promise<IssuedToken> {
  if (actor.kind !== 'user') throw new UnauthenticatedError()
  const expiresAt = input.expiresAt ?? now + OWN_TOKEN_DEFAULT_MS
  if (expiresAt <= now) throw new ValidationError([{ field: 'expiresAt', message: 'must be in the future' }])
  if (expiresAt > now + OWN_TOKEN_MAX_MS) throw new ValidationError([{ field: 'expiresAt', message: 'must be within a year' }])
  const user = await repos.users.byId(actor.userId)
  if (!user || user.disabledAt !== null) throw new UnauthenticatedError()
  const extra = input.roles?.filter((r) => !actor.roles.includes(r)) ?? []
  if (extra.length) throw new ValidationError([{ field: 'roles', message: `you do not hold ${extra.join(', ')}${actor.via === 'token' ? ' with this token' : ''}` }])
  const narrowed = actor.roles.length < user.roles.length || user.roles.some((r) => !actor.roles.includes(r))
  const roles = input.roles ? [...new Set(input.roles)] : narrowed ? actor.roles : null
  return issueToken(repos, actor.userId, { name: input.name, roles, expiresAt })
}

/** Revokes one of the caller's own tokens. Someone else's is "not found", so ids cannot be probed. */
export async function revokeOwnToken(repos: Repositories, actor: Actor, id: string, now = Date.now()): Promise<ApiToken> {
  if (actor.kind !== 'user') throw new UnauthenticatedError()
  const token = await repos.tokens.byId(id)
  if (!token || token.userId !== actor.userId) throw new NotFoundError('token', id)
  await repos.tokens.revoke(id, now)
  return { ...token, revokedAt: token.revokedAt ?? now }
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
