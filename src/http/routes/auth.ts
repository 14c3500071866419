import { type Static, Type } from '@sinclair/typebox'
import type { FastifyInstance, FastifyReply } from 'fastify'
import type { AppContext } from '../../app-context.ts'
import { loginForToken } from '../../core/accounts/tokens.ts'
import { verifyLogin } from '../../core/accounts/login.ts'
import { endSessionByToken, resolveSession, signOut, startSession } from '../../core/accounts/sessions.ts'
import { beginTotpEnrolment, confirmTotpEnrolment, removeTwoFactor } from '../../core/accounts/two-factor.ts'
import { changePassword } from '../../core/accounts/users.ts'
import { UnauthenticatedError } from '../../core/errors.ts'
import { CSRF_COOKIE, SESSION_COOKIE } from '../auth.ts'
import { rateLimit } from '../rate-limit.ts'
import { problemResponses, Strict, Timestamp, Uuid } from '../schemas/common.ts'
import { UserSchema, presentUser } from './users.ts'

const Credentials = {
  email: Type.String({ minLength: 3, maxLength: 254 }),
  password: Type.String({ minLength: 1, maxLength: 1024 }),
  totp: Type.Optional(Type.String({ pattern: '^[0-9]{6}$', description: 'the current code of the authenticator app' })),
  recoveryCode: Type.Optional(Type.String({ minLength: 10, maxLength: 20, description: 'a one-time recovery code, instead of `totp`' })),
}
const LoginBody = Strict(Credentials)
const TokenLoginBody = Strict({ ...Credentials, name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })) })

const SessionSchema = Type.Object(
  {
    user: UserSchema,
    csrfToken: Type.Optional(Type.String({ description: 'send it as X-CSRF-Token on every write made with the session cookie' })),
    expiresAt: Timestamp,
    twoFactorPending: Type.Boolean({ description: 'two-factor login is required of this account and not yet set up: only enrolment is allowed' }),
  },
  { title: 'Session' },
)

const Code = Strict({ code: Type.String({ pattern: '^[0-9]{6}$' }) })
const PasswordBody = Strict({ currentPassword: Type.String({ minLength: 1, maxLength: 1024 }), newPassword: Type.String({ minLength: 12, maxLength: 1024 }) })

export function registerAuthRoutes(app: FastifyInstance, ctx: AppContext): void {
  const loginDeps = () => ({ repos: ctx.store.repos, hasher: ctx.passwords, sealer: ctx.sealer })
  const secure = ctx.config.publicUrl.startsWith('https:')
  // One budget per address across every endpoint that checks a password.
  const limitByAddress = rateLimit()

  function setSessionCookies(reply: FastifyReply, token: string, csrfToken: string, expiresAt: number) {
    const expires = new Date(expiresAt)
    // SameSite=Strict: the cookie never rides on a request another site starts. The CSRF cookie is readable
    // by our own pages (not httpOnly) so the web app can echo it in X-CSRF-Token.
    reply.setCookie(SESSION_COOKIE, token, { httpOnly: true, secure, sameSite: 'strict', path: '/', expires })
    reply.setCookie(CSRF_COOKIE, csrfToken, { httpOnly: false, secure, sameSite: 'strict', path: '/', expires })
  }

  app.post<{ Body: Static<typeof LoginBody> }>(
    '/api/v1/auth/login',
    {
      config: { action: 'auth.login' },
      preHandler: limitByAddress,
      schema: {
        tags: ['auth'],
        summary: 'Sign in (browser session cookie); with two-factor login, send `totp` or `recoveryCode` too',
        body: LoginBody,
        response: { 200: SessionSchema, ...problemResponses(400, 401, 403, 413, 415, 429) },
      },
    },
    async (req, reply) => {
      req.auditExtra = { detail: { email: emailForAudit(req.body.email) } }
      const { user, twoFactorPending } = await verifyLogin(loginDeps(), req.body)
      req.auditExtra = { userId: user.id, resourceId: user.id }
      // Session fixation: whatever session the browser came with ends here; the new one has a new id.
      const previous = req.cookies[SESSION_COOKIE]
      if (previous) await endSessionByToken(ctx.store.repos, previous)
      const started = await startSession(ctx.store.repos, user, { ip: req.ip, userAgent: req.headers['user-agent'] ?? null })
      setSessionCookies(reply, started.token, started.csrfToken, started.session.expiresAt)
      return { user: presentUser(user), csrfToken: started.csrfToken, expiresAt: new Date(started.session.expiresAt).toISOString(), twoFactorPending }
    },
  )

  app.post(
    '/api/v1/auth/logout',
    {
      config: { action: 'auth.logout' },
      schema: { tags: ['auth'], summary: 'Sign out: ends this session (or revokes the bearer token used)', security: [{ bearer: [] }], response: { 204: Type.Null(), ...problemResponses(401, 403) } },
    },
    async (req, reply) => {
      await signOut(ctx.store.repos, req.actor)
      reply.clearCookie(SESSION_COOKIE, { path: '/' }).clearCookie(CSRF_COOKIE, { path: '/' })
      return reply.code(204).send()
    },
  )

  app.get(
    '/api/v1/auth/session',
    {
      config: { action: 'auth.session.read' },
      schema: { tags: ['auth'], summary: 'Who am I', security: [{ bearer: [] }], response: { 200: SessionSchema, ...problemResponses(401, 403) } },
    },
    async (req) => {
      const actor = req.actor
      if (actor.kind !== 'user') throw new UnauthenticatedError()
      const user = (await ctx.store.repos.users.byId(actor.userId))!
      let expiresAt = Date.now() + 3600_000
      if (actor.sessionId) expiresAt = (await resolveSession(ctx.store.repos, req.cookies[SESSION_COOKIE] ?? '')).session.expiresAt
      else if (actor.tokenId) expiresAt = (await ctx.store.repos.tokens.byId(actor.tokenId))?.expiresAt ?? expiresAt
      return { user: presentUser(user), expiresAt: new Date(expiresAt).toISOString(), twoFactorPending: actor.twoFactorPending }
    },
  )

  app.post<{ Body: Static<typeof TokenLoginBody> }>(
    '/api/v1/auth/token',
    {
      config: { action: 'auth.token.create' },
      preHandler: limitByAddress,
      schema: {
        tags: ['auth'],
        summary: 'Exchange credentials for an API token (shown once, 12 hours); for the CLI and scripts',
        body: TokenLoginBody,
        response: { 201: Type.Object({ token: Type.String(), id: Uuid, expiresAt: Timestamp }), ...problemResponses(400, 401, 403, 413, 415, 429) },
      },
    },
    async (req, reply) => {
      req.auditExtra = { detail: { email: emailForAudit(req.body.email) } }
      const issued = await loginForToken(loginDeps(), req.body, { name: req.body.name })
      req.auditExtra = { userId: issued.record.userId, resourceId: issued.record.id }
      reply.code(201)
      return { token: issued.token, id: issued.record.id, expiresAt: new Date(issued.record.expiresAt!).toISOString() }
    },
  )

  app.post<{ Body: Static<typeof PasswordBody> }>(
    '/api/v1/auth/password',
    {
      config: { action: 'auth.password.change' },
      schema: { tags: ['auth'], summary: 'Change my password (ends my other sessions)', security: [{ bearer: [] }], body: PasswordBody, response: { 204: Type.Null(), ...problemResponses(400, 401, 403, 413, 415, 429) } },
    },
    async (req, reply) => {
      const actor = req.actor
      if (actor.kind !== 'user') throw new UnauthenticatedError()
      await changePassword({ repos: ctx.store.repos, hasher: ctx.passwords, sealer: ctx.sealer }, actor, req.body.currentPassword, req.body.newPassword)
      return reply.code(204).send()
    },
  )

  app.post(
    '/api/v1/auth/totp/setup',
    {
      config: { action: 'auth.totp.setup' },
      schema: {
        tags: ['auth'],
        summary: 'Start two-factor enrolment: a new secret for an authenticator app (shown once)',
        security: [{ bearer: [] }],
        response: { 200: Type.Object({ secret: Type.String({ 'x-restricted': true }), uri: Type.String({ 'x-restricted': true }) }), ...problemResponses(401, 403, 409) },
      },
    },
    async (req) => {
      const actor = req.actor
      if (actor.kind !== 'user') throw new UnauthenticatedError()
      // Not in a write transaction: sealing the new secret stores a data key, which on SQLite needs the connection.
      return beginTotpEnrolment({ repos: ctx.store.repos, sealer: ctx.sealer }, actor.userId)
    },
  )

  app.post<{ Body: Static<typeof Code> }>(
    '/api/v1/auth/totp/confirm',
    {
      config: { action: 'auth.totp.confirm' },
      schema: {
        tags: ['auth'],
        summary: 'Finish enrolment with a current code; returns ten recovery codes (shown once)',
        security: [{ bearer: [] }],
        body: Code,
        response: { 200: Type.Object({ recoveryCodes: Type.Array(Type.String(), { 'x-restricted': true }) }), ...problemResponses(400, 401, 403, 409, 413, 415) },
      },
    },
    async (req) => {
      const actor = req.actor
      if (actor.kind !== 'user') throw new UnauthenticatedError()
      return confirmTotpEnrolment({ repos: ctx.store.repos, sealer: ctx.sealer }, actor.userId, req.body.code)
    },
  )

  app.post<{ Body: Static<typeof LoginBody> }>(
    '/api/v1/auth/totp/disable',
    {
      config: { action: 'auth.totp.disable' },
      preHandler: limitByAddress,
      schema: {
        tags: ['auth'],
        summary: 'Turn my two-factor login off (proves it is me with password and a current code)',
        security: [{ bearer: [] }],
        body: LoginBody,
        response: { 204: Type.Null(), ...problemResponses(400, 401, 403, 413, 415, 429) },
      },
    },
    async (req, reply) => {
      const actor = req.actor
      if (actor.kind !== 'user') throw new UnauthenticatedError()
      const { user } = await verifyLogin(loginDeps(), req.body)
      if (user.id !== actor.userId) throw new UnauthenticatedError('Those are not your credentials.')
      await removeTwoFactor({ repos: ctx.store.repos, sealer: ctx.sealer }, actor.userId)
      return reply.code(204).send()
    },
  )
}

/**
 * The email a sign-in named, for the audit of failures; but not when it does not look like an email: people
 * type their password into the wrong field, and the audit log must not keep it.
 */
export function emailForAudit(typed: string): string {
  const email = typed.trim().slice(0, 254)
  return /^[^\s@]{1,64}@[^\s@]{1,190}$/.test(email) ? email : '(not an email address)'
}
