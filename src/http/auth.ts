import type { FastifyReply, FastifyRequest } from 'fastify'
import { ANONYMOUS, type Actor } from '../core/access/actor.ts'
import { authorize, POLICY, type Action } from '../core/access/policy.ts'
import { needsTwoFactor, readAccessSettings } from '../core/accounts/access-settings.ts'
import { csrfMatches, resolveSession, sessionActor } from '../core/accounts/sessions.ts'
import { authenticateToken } from '../core/accounts/tokens.ts'
import { ForbiddenError, UnauthenticatedError } from '../core/errors.ts'
import type { Repositories } from '../core/ports/repositories.ts'

declare module 'fastify' {
  interface FastifyRequest {
    actor: Actor
  }
  interface FastifyContextConfig {
    /** The policy action this route performs (src/core/access/policy.ts); every route declares one. */
    action?: Action
  }
}

export const SESSION_COOKIE = 'louder_session'
export const CSRF_COOKIE = 'louder_csrf'
export const CSRF_HEADER = 'x-csrf-token'
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

/**
 * Resolves the caller before anything else runs, then checks the route's declared action, so a denied
 * call is answered 401/403 before its body is even validated and no route tests roles itself.
 * A bearer token wins over a cookie. A write made with the session cookie must carry the session's CSRF
 * token in X-CSRF-Token: another site can make the browser send the cookie, but cannot read the token.
 */
export function authHook(repos: Repositories) {
  return async function authenticate(req: FastifyRequest, _reply: FastifyReply) {
    req.actor = ANONYMOUS
    const action = req.routeOptions.config.action
    const header = req.headers.authorization
    // A public route (sign-in above all) does not act on the session, so it does not read the cookie: a
    // stale or planted cookie must not stop anyone from signing in (sign-in ends that session itself).
    const cookie = action && POLICY[action] === 'public' ? undefined : req.cookies?.[SESSION_COOKIE]
    if (header !== undefined) {
      const match = /^Bearer ([^\s]+)$/i.exec(header)
      if (!match) throw new UnauthenticatedError('Send the token as `Authorization: Bearer <token>`.')
      req.actor = await authenticateToken(repos, match[1]!)
    } else if (cookie) {
      const auth = await resolveSession(repos, cookie)
      if (!SAFE_METHODS.has(req.method) && !csrfMatches(auth.csrfHash, headerValue(req.headers[CSRF_HEADER])))
        throw new ForbiddenError(`write with a session cookie without its CSRF token (send the ${CSRF_HEADER} header the sign-in gave)`)
      const settings = await readAccessSettings(repos)
      req.actor = sessionActor(auth, !auth.user.twoFactorEnabled && needsTwoFactor(settings, auth.user.roles))
    }
    if (action) authorize(req.actor, action)
  }
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? undefined : value
}
