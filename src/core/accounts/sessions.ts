import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import type { Actor } from '../access/actor.ts'
import { UnauthenticatedError } from '../errors.ts'
import { uuidv7 } from '../ids.ts'
import type { Repositories, Session, User } from '../ports/repositories.ts'
import { readAccessSettings } from './access-settings.ts'

const SESSION_SHAPE = /^[A-Za-z0-9_-]{43}$/

function sha256(value: string): string {
  return createHash('sha256').update(value).digest('hex')
}

export interface NewSession {
  /** The cookie value: shown to the browser once, only its hash is stored. */
  token: string
  /** Sent back in `X-CSRF-Token` on every cookie-authenticated write. */
  csrfToken: string
  session: Session
}

/**
 * Starts a browser session after a successful login. Always a new id (never one the browser brought, which
 * is what session fixation relies on); the caller revokes whatever session the request came with.
 */
export async function startSession(repos: Repositories, user: User, client: { ip: string | null; userAgent: string | null }, now = Date.now()): Promise<NewSession> {
  const settings = await readAccessSettings(repos)
  const token = randomBytes(32).toString('base64url')
  const csrfToken = randomBytes(32).toString('base64url')
  const session: Session = {
    id: uuidv7(now),
    userId: user.id,
    createdAt: now,
    lastSeenAt: now,
    expiresAt: now + settings.sessionAbsoluteHours * 3_600_000,
    ip: client.ip,
    userAgent: client.userAgent?.slice(0, 300) ?? null,
    revokedAt: null,
  }
  await repos.sessions.insert(session, sha256(token), sha256(csrfToken))
  return { token, csrfToken, session }
}

export interface SessionAuth {
  session: Session
  user: User
  csrfHash: string
}

/** The session behind a cookie, if it is live: not revoked, not past its absolute end, not idle too long. */
export async function resolveSession(repos: Repositories, token: string, now = Date.now()): Promise<SessionAuth> {
  const expired = () => new UnauthenticatedError('Your session has ended; sign in again.')
  if (!SESSION_SHAPE.test(token)) throw expired()
  const found = await repos.sessions.byTokenHash(sha256(token))
  if (!found || found.revokedAt !== null || found.expiresAt <= now) throw expired()
  const settings = await readAccessSettings(repos)
  if (found.lastSeenAt + settings.sessionIdleMinutes * 60_000 <= now) {
    await repos.sessions.revoke(found.id, now)
    throw expired()
  }
  const user = await repos.users.byId(found.userId)
  if (!user || user.disabledAt !== null) throw expired()
  // Writing on every request would turn reads into writes; a minute's precision is enough for idleness.
  if (now - found.lastSeenAt > 60_000) await repos.sessions.touch(found.id, now)
  const { csrfHash, ...session } = found
  return { session, user, csrfHash }
}

export function csrfMatches(csrfHash: string, presented: string | undefined): boolean {
  if (!presented || presented.length > 200) return false
  return timingSafeEqual(Buffer.from(sha256(presented), 'hex'), Buffer.from(csrfHash, 'hex'))
}

export function sessionActor(auth: SessionAuth, twoFactorPending: boolean): Actor {
  return { kind: 'user', userId: auth.user.id, roles: auth.user.roles, orgId: auth.user.orgId, via: 'session', tokenId: null, sessionId: auth.session.id, twoFactorPending, passwordChangePending: auth.user.mustChangePassword }
}

/** Ends the session a cookie names, if any (sign-in revokes the session the browser came with). */
export async function endSessionByToken(repos: Repositories, token: string, now = Date.now()): Promise<void> {
  if (!SESSION_SHAPE.test(token)) return
  const found = await repos.sessions.byTokenHash(sha256(token))
  if (found) await repos.sessions.revoke(found.id, now)
}

/** Signs the actor out: ends the session it came with, or revokes the bearer token it used. */
export async function signOut(repos: Repositories, actor: Actor, now = Date.now()): Promise<void> {
  if (actor.kind !== 'user') return
  if (actor.sessionId) await repos.sessions.revoke(actor.sessionId, now)
  else if (actor.tokenId) await repos.tokens.revoke(actor.tokenId, now)
}
