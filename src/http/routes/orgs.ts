import { type Static, Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import type { AppContext } from '../../app-context.ts'
import { createOrg, MAX_ORG_NAME, renameOrg } from '../../core/accounts/orgs.ts'
import { decodeCursor, toPage } from '../../core/pagination.ts'
import type { Org } from '../../core/ports/repositories.ts'
import { toRfc3339 } from '../../core/time.ts'
import { idempotentWrite } from '../idempotency.ts'
import { IdempotencyHeaders, PageOf, PageQuery, problemResponses, Strict, Timestamp, Uuid } from '../schemas/common.ts'

export const OrgSchema = Type.Object({ id: Uuid, name: Type.String(), createdAt: Timestamp }, { title: 'Organisation' })

const OrgBody = Strict({ name: Type.String({ minLength: 1, maxLength: MAX_ORG_NAME, description: 'unique, ignoring case and surrounding spaces' }) })
const IdParams = Strict({ id: Uuid })
const ListQuery = Strict({ ...PageQuery })

function presentOrg(o: Org): Static<typeof OrgSchema> {
  return { id: o.id, name: o.name, createdAt: toRfc3339(o.createdAt) }
}

/** Partner organisations: what sharing with partners is scoped by. */
export function registerOrgRoutes(app: FastifyInstance, ctx: AppContext): void {
  const deps = { store: ctx.store, isUniqueViolation: ctx.db.isUniqueViolation, sealer: ctx.sealer }
  const secured = { security: [{ bearer: [] }], tags: ['accounts'] }

  app.get<{ Querystring: Static<typeof ListQuery> }>(
    '/api/v1/orgs',
    { config: { action: 'org.list' }, schema: { ...secured, summary: 'Organisations, by name', querystring: ListQuery, response: { 200: PageOf(OrgSchema), ...problemResponses(400, 401, 403) } } },
    async (req) => {
      const limit = req.query.limit ?? 50
      const after = req.query.cursor ? (decodeCursor(req.query.cursor, ['string'])[0] as string) : undefined
      const page = toPage(await ctx.store.repos.orgs.list({ limit, after }), limit, (o) => [o.name])
      return { items: page.items.map(presentOrg), next: page.next }
    },
  )

  app.post<{ Body: Static<typeof OrgBody> }>(
    '/api/v1/orgs',
    {
      config: { action: 'org.create' },
      schema: { ...secured, summary: 'Create an organisation', headers: IdempotencyHeaders, body: OrgBody, response: { 201: OrgSchema, ...problemResponses(400, 401, 403, 409, 413, 415, 422) } },
    },
    async (req, reply) =>
      idempotentWrite(deps, req, reply, 201, async (repos) => {
        const org = await createOrg(repos, req.body)
        req.auditExtra = { detail: { name: org.name } }
        return presentOrg(org)
      }),
  )

  app.patch<{ Params: Static<typeof IdParams>; Body: Static<typeof OrgBody> }>(
    '/api/v1/orgs/:id',
    {
      config: { action: 'org.update' },
      schema: { ...secured, summary: 'Rename an organisation', headers: IdempotencyHeaders, params: IdParams, body: OrgBody, response: { 200: OrgSchema, ...problemResponses(400, 401, 403, 404, 409, 413, 415, 422) } },
    },
    async (req, reply) =>
      idempotentWrite(deps, req, reply, 200, async (repos) => {
        const before = await repos.orgs.byId(req.params.id)
        const org = await renameOrg(repos, req.params.id, req.body)
        req.auditExtra = { detail: { from: before?.name ?? null, to: org.name } }
        return presentOrg(org)
      }),
  )
}
