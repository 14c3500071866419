import { type Static, Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import type { AppContext } from '../../app-context.ts'
import { ROLES } from '../../core/access/actor.ts'
import { issueToken } from '../../core/accounts/tokens.ts'
import { createUser, resetTwoFactor, updateUser } from '../../core/accounts/users.ts'
import { throwNotFound, ValidationError } from '../../core/errors.ts'
import { decodeCursor, toPage } from '../../core/pagination.ts'
import type { User } from '../../core/ports/repositories.ts'
import { toRfc3339 } from '../../core/time.ts'
import { idempotentWrite } from '../idempotency.ts'
import { IdempotencyHeaders, PageOf, PageQuery, parseTimestamp, problemResponses, Strict, Timestamp, Uuid } from '../schemas/common.ts'

export const RoleSchema = Type.Union(ROLES.map((r) => Type.Literal(r)))

export const UserSchema = Type.Object(
  {
    id: Uuid,
    email: Type.String(),
    displayName: Type.String(),
    roles: Type.Array(RoleSchema),
    orgId: Type.Union([Uuid, Type.Null()]),
    twoFactorEnabled: Type.Boolean(),
    mustChangePassword: Type.Boolean(),
    disabled: Type.Boolean(),
    createdAt: Timestamp,
  },
  { title: 'User' },
)

export function presentUser(u: User): Static<typeof UserSchema> {
  return {
    id: u.id,
    email: u.email,
    displayName: u.displayName,
    roles: u.roles,
    orgId: u.orgId,
    twoFactorEnabled: u.twoFactorEnabled,
    mustChangePassword: u.mustChangePassword,
    disabled: u.disabledAt !== null,
    createdAt: toRfc3339(u.createdAt),
  }
}

const CreateUserBody = Strict({
  email: Type.String({ minLength: 3, maxLength: 254 }),
  displayName: Type.String({ minLength: 1, maxLength: 200 }),
  roles: Type.Array(RoleSchema, { minItems: 1, maxItems: ROLES.length, uniqueItems: true }),
  orgId: Type.Optional(Type.Union([Uuid, Type.Null()])),
  password: Type.Optional(Type.String({ minLength: 12, maxLength: 1024, description: 'leave out to have one generated (returned once)' })),
})

const UpdateUserBody = Strict({
  displayName: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  roles: Type.Optional(Type.Array(RoleSchema, { minItems: 1, maxItems: ROLES.length, uniqueItems: true })),
  orgId: Type.Optional(Type.Union([Uuid, Type.Null()])),
  disabled: Type.Optional(Type.Boolean()),
})

const UserTokenBody = Strict({
  name: Type.String({ minLength: 1, maxLength: 100 }),
  roles: Type.Optional(Type.Array(RoleSchema, { minItems: 1, maxItems: ROLES.length, uniqueItems: true })),
  expiresAt: Type.Optional(Timestamp),
})

const IdParams = Strict({ id: Uuid })
const ListQuery = Strict({ orgId: Type.Optional(Uuid), role: Type.Optional(RoleSchema), ...PageQuery })

/** Account administration, for admins. */
export function registerUserRoutes(app: FastifyInstance, ctx: AppContext): void {
  const deps = { store: ctx.store, isUniqueViolation: ctx.db.isUniqueViolation, sealer: ctx.sealer }
  const admin = { security: [{ bearer: [] }], tags: ['accounts'] }

  app.get<{ Querystring: Static<typeof ListQuery> }>(
    '/api/v1/users',
    { config: { action: 'user.list' }, schema: { ...admin, summary: 'Accounts, by email', querystring: ListQuery, response: { 200: PageOf(UserSchema), ...problemResponses(400, 401, 403) } } },
    async (req) => {
      const limit = req.query.limit ?? 50
      const after = req.query.cursor ? (decodeCursor(req.query.cursor, ['string'])[0] as string) : undefined
      const rows = await ctx.store.repos.users.list({ limit, after, orgId: req.query.orgId, role: req.query.role })
      const page = toPage(rows, limit, (u) => [u.email])
      return { items: page.items.map(presentUser), next: page.next }
    },
  )

  app.get<{ Params: Static<typeof IdParams> }>(
    '/api/v1/users/:id',
    { config: { action: 'user.read' }, schema: { ...admin, summary: 'One account', params: IdParams, response: { 200: UserSchema, ...problemResponses(400, 401, 403, 404) } } },
    async (req) => presentUser((await ctx.store.repos.users.byId(req.params.id)) ?? throwNotFound('user', req.params.id)),
  )

  app.post<{ Body: Static<typeof CreateUserBody> }>(
    '/api/v1/users',
    {
      config: { action: 'user.create' },
      schema: {
        ...admin,
        summary: 'Create an account; a generated password is returned once',
        headers: IdempotencyHeaders,
        body: CreateUserBody,
        response: { 201: Type.Object({ user: UserSchema, password: Type.Optional(Type.String({ 'x-restricted': true })) }), ...problemResponses(400, 401, 403, 409, 413, 415, 422) },
      },
    },
    async (req, reply) =>
      idempotentWrite(deps, req, reply, 201, async (repos) => {
        const { user, generatedPassword } = await createUser(repos, ctx.passwords, req.body)
        req.auditExtra = { resourceId: user.id, detail: { roles: user.roles } }
        return { user: presentUser(user), ...(generatedPassword ? { password: generatedPassword } : {}) }
      }, { secretResponse: true }),
  )

  app.patch<{ Params: Static<typeof IdParams>; Body: Static<typeof UpdateUserBody> }>(
    '/api/v1/users/:id',
    {
      config: { action: 'user.update' },
      schema: { ...admin, summary: 'Change roles, organisation, name, or disable an account', headers: IdempotencyHeaders, params: IdParams, body: UpdateUserBody, response: { 200: UserSchema, ...problemResponses(400, 401, 403, 404, 409, 413, 415, 422) } },
    },
    async (req, reply) =>
      idempotentWrite(deps, req, reply, 200, async (repos) => {
        req.auditExtra = { detail: { fields: Object.keys(req.body) } }
        return presentUser(await updateUser(repos, req.actor, req.params.id, req.body))
      }),
  )

  app.post<{ Params: Static<typeof IdParams> }>(
    '/api/v1/users/:id/reset-2fa',
    { config: { action: 'user.reset-2fa' }, schema: { ...admin, summary: 'Remove a lost second factor; the user enrols again at next sign-in', params: IdParams, response: { 200: UserSchema, ...problemResponses(400, 401, 403, 404) } } },
    async (req, reply) => idempotentWrite(deps, req, reply, 200, async (repos) => presentUser(await resetTwoFactor(repos, ctx.sealer, req.params.id))),
  )

  app.post<{ Params: Static<typeof IdParams>; Body: Static<typeof UserTokenBody> }>(
    '/api/v1/users/:id/tokens',
    {
      config: { action: 'user.token.create' },
      schema: {
        ...admin,
        summary: "Create an API token for a user (shown once), optionally limited to some of the user's roles",
        params: IdParams,
        body: UserTokenBody,
        response: { 201: Type.Object({ id: Uuid, token: Type.String({ 'x-restricted': true }), expiresAt: Type.Union([Timestamp, Type.Null()]) }), ...problemResponses(400, 401, 403, 404, 413, 415) },
      },
    },
    async (req, reply) => {
      // parseTimestamp, not Date.parse: a leap second passes the schema and would be stored as NaN, a token that never expires.
      const expiresAt = req.body.expiresAt === undefined ? null : parseTimestamp(req.body.expiresAt, '/body/expiresAt')
      if (expiresAt !== null && expiresAt <= Date.now()) throw new ValidationError([{ field: '/body/expiresAt', message: 'must be in the future' }])
      return idempotentWrite(deps, req, reply, 201, async (repos) => {
        ;(await repos.users.byId(req.params.id)) ?? throwNotFound('user', req.params.id)
        const issued = await issueToken(repos, req.params.id, { name: req.body.name, roles: req.body.roles ?? null, expiresAt })
        req.auditExtra = { userId: req.actor.kind === 'user' ? req.actor.userId : null, resourceId: issued.record.id, detail: { forUser: req.params.id } }
        return { id: issued.record.id, token: issued.token, expiresAt: issued.record.expiresAt === null ? null : toRfc3339(issued.record.expiresAt) }
      }, { secretResponse: true })
    },
  )
}
