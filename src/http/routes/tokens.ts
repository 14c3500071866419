import { type Static, Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import type { AppContext } from '../../app-context.ts'
import { ROLES } from '../../core/access/actor.ts'
import { createOwnToken, revokeOwnToken } from '../../core/accounts/tokens.ts'
import { UnauthenticatedError } from '../../core/errors.ts'
import { decodeCursor, toPage } from '../../core/pagination.ts'
import type { ApiToken } from '../../core/ports/repositories.ts'
import { toRfc3339 } from '../../core/time.ts'
import { idempotentWrite } from '../idempotency.ts'
import { IdempotencyHeaders, PageOf, PageQuery, parseTimestamp, problemResponses, Strict, Timestamp, Uuid } from '../schemas/common.ts'
import { RoleSchema } from './users.ts'

const Roles = Type.Array(RoleSchema, { minItems: 1, maxItems: ROLES.length, uniqueItems: true })

const TokenSchema = Type.Object(
  {
    id: Uuid,
    name: Type.String(),
    roles: Type.Union([Roles, Type.Null()], { description: "the roles the token is limited to; null: all of the account's roles, as they change" }),
    createdAt: Timestamp,
    expiresAt: Type.Union([Timestamp, Type.Null()]),
    lastUsedAt: Type.Union([Timestamp, Type.Null()], { description: 'to the minute' }),
    revoked: Type.Boolean(),
  },
  { title: 'ApiToken', description: 'The token itself is shown once, when it is made; only its hash is kept.' },
)

const CreateTokenBody = Strict({
  name: Type.String({ minLength: 1, maxLength: 100 }),
  roles: Type.Optional({ ...Roles, description: 'limit the token to these of your roles (default: the roles you are acting with now)' }),
  expiresAt: Type.Optional({ ...Timestamp, description: 'RFC 3339 UTC time, in the future and within a year (default: 90 days)' }),
})

const IdParams = Strict({ id: Uuid })
const ListQuery = Strict({ ...PageQuery })

function presentToken(t: ApiToken & { lastUsedAt: number | null }): Static<typeof TokenSchema> {
  return {
    id: t.id,
    name: t.name,
    roles: t.roles,
    createdAt: toRfc3339(t.createdAt),
    expiresAt: t.expiresAt === null ? null : toRfc3339(t.expiresAt),
    lastUsedAt: t.lastUsedAt === null ? null : toRfc3339(t.lastUsedAt),
    revoked: t.revokedAt !== null,
  }
}

/** Anyone signed in manages their own API tokens (admins make them for others at /users/{id}/tokens). */
export function registerTokenRoutes(app: FastifyInstance, ctx: AppContext): void {
  const deps = { store: ctx.store, isUniqueViolation: ctx.db.isUniqueViolation, sealer: ctx.sealer }
  const own = { security: [{ bearer: [] }], tags: ['accounts'] }

  app.get<{ Querystring: Static<typeof ListQuery> }>(
    '/api/v1/tokens',
    { config: { action: 'token.list' }, schema: { ...own, summary: 'My API tokens, newest first (never the tokens themselves)', querystring: ListQuery, response: { 200: PageOf(TokenSchema), ...problemResponses(400, 401, 403) } } },
    async (req) => {
      const actor = req.actor
      if (actor.kind !== 'user') throw new UnauthenticatedError()
      const limit = req.query.limit ?? 50
      const before = req.query.cursor ? (decodeCursor(req.query.cursor, ['string'])[0] as string) : undefined
      const page = toPage(await ctx.store.repos.tokens.listForUser(actor.userId, { limit, before }), limit, (t) => [t.id])
      return { items: page.items.map(presentToken), next: page.next }
    },
  )

  app.post<{ Body: Static<typeof CreateTokenBody> }>(
    '/api/v1/tokens',
    {
      config: { action: 'token.create' },
      schema: {
        ...own,
        summary: 'Make myself an API token (shown once), optionally limited to some of my roles',
        headers: IdempotencyHeaders,
        body: CreateTokenBody,
        response: { 201: Type.Object({ id: Uuid, token: Type.String({ 'x-restricted': true }), expiresAt: Timestamp }), ...problemResponses(400, 401, 403, 409, 413, 415, 422) },
      },
    },
    async (req, reply) => {
      const expiresAt = req.body.expiresAt === undefined ? undefined : parseTimestamp(req.body.expiresAt, '/body/expiresAt')
      return idempotentWrite(
        deps,
        req,
        reply,
        201,
        async (repos) => {
          const issued = await createOwnToken(repos, req.actor, { name: req.body.name, roles: req.body.roles, expiresAt })
          req.auditExtra = { resourceId: issued.record.id, detail: { roles: issued.record.roles, expiresAt: toRfc3339(issued.record.expiresAt!) } }
          return { id: issued.record.id, token: issued.token, expiresAt: toRfc3339(issued.record.expiresAt!) }
        },
        { secretResponse: true },
      )
    },
  )

  app.delete<{ Params: Static<typeof IdParams> }>(
    '/api/v1/tokens/:id',
    {
      config: { action: 'token.revoke' },
      schema: { ...own, summary: 'Revoke one of my API tokens; it stops working at once', params: IdParams, response: { 204: Type.Null(), ...problemResponses(400, 401, 403, 404) } },
    },
    async (req, reply) => {
      await idempotentWrite(deps, req, reply, 204, async (repos) => {
        await revokeOwnToken(repos, req.actor, req.params.id)
        return null
      })
      return reply.code(204).send()
    },
  )
}
