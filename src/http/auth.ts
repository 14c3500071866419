import type { FastifyReply, FastifyRequest } from 'fastify'
import { ANONYMOUS, type Actor } from '../core/access/actor.ts'
import { authorize, type Action } from '../core/access/policy.ts'
import { authenticateToken } from '../core/accounts/tokens.ts'
import { UnauthenticatedError } from '../core/errors.ts'
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

/**
 * Resolves the caller before anything else runs, then checks the route's declared action, so a denied
 * call is answered 401/403 before its body is even validated and no route tests roles itself.
 */
export function authHook(repos: Repositories) {
  return async function authenticate(req: FastifyRequest, _reply: FastifyReply) {
    req.actor = ANONYMOUS
    const header = req.headers.authorization
    if (header !== undefined) {
      const match = /^Bearer ([^\s]+)$/i.exec(header)
      if (!match) throw new UnauthenticatedError('Send the token as `Authorization: Bearer <token>`.')
      req.actor = await authenticateToken(repos, match[1]!)
    }
    const action = req.routeOptions.config.action
    if (action) authorize(req.actor, action)
  }
}
