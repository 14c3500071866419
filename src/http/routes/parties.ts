import { type Static, Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import type { AppContext } from '../../app-context.ts'
import { decodeCursor, toPage } from '../../core/pagination.ts'
import type { Party } from '../../core/ports/repositories.ts'
import { INTER_CODES } from '../../core/register/acled.ts'
import { archiveParty, createParty, getParty, listParties, MAX_ALIASES, MAX_PARTY_DESCRIPTION, MAX_PARTY_NAME, updateParty } from '../../core/register/parties.ts'
import { toRfc3339 } from '../../core/time.ts'
import { idempotentWrite } from '../idempotency.ts'
import { IdempotencyHeaders, PageOf, PageQuery, problemResponses, Strict, Timestamp, Uuid } from '../schemas/common.ts'

const InterCode = Type.Integer({ minimum: 1, maximum: 8, description: `ACLED inter code: ${Object.entries(INTER_CODES).map(([k, v]) => `${k} ${v}`).join(', ')}` })
const Name = Type.String({ minLength: 1, maxLength: MAX_PARTY_NAME, description: 'unique among parties and their aliases, ignoring case, spacing and invisible characters' })

export const PartySchema = Type.Object(
  {
    id: Uuid,
    name: Type.String(),
    aliases: Type.Array(Type.String()),
    interCode: Type.Integer(),
    interLabel: Type.String(),
    description: Type.Union([Type.String(), Type.Null()]),
    parentId: Type.Union([Uuid, Type.Null()]),
    createdAt: Timestamp,
    updatedAt: Timestamp,
    archivedAt: Type.Union([Timestamp, Type.Null()]),
  },
  { title: 'Party' },
)

const fields = {
  name: Name,
  aliases: Type.Array(Type.String({ minLength: 1, maxLength: MAX_PARTY_NAME }), { maxItems: MAX_ALIASES, description: 'other names; one may not be another party’s name (409 party_alias_taken)' }),
  interCode: InterCode,
  description: Type.Union([Type.String({ maxLength: MAX_PARTY_DESCRIPTION }), Type.Null()]),
  parentId: Type.Union([Uuid, Type.Null()], { description: 'the group this party belongs to: an existing party, not archived, no cycles' }),
}
const CreateBody = Strict({ name: fields.name, aliases: Type.Optional(fields.aliases), interCode: fields.interCode, description: Type.Optional(fields.description), parentId: Type.Optional(fields.parentId) })
const PatchBody = Strict({
  name: Type.Optional(fields.name),
  aliases: Type.Optional(fields.aliases),
  interCode: Type.Optional(fields.interCode),
  description: Type.Optional(fields.description),
  parentId: Type.Optional(fields.parentId),
})
const IdParams = Strict({ id: Uuid })
const ListQuery = Strict({
  ...PageQuery,
  q: Type.Optional(Type.String({ maxLength: MAX_PARTY_NAME, description: 'part of a name or alias, ignoring case and spacing' })),
  interCode: Type.Optional(InterCode),
  includeArchived: Type.Optional(Type.Boolean({ default: false })),
})

function presentParty(p: Party): Static<typeof PartySchema> {
  return {
    id: p.id,
    name: p.name,
    aliases: p.aliases,
    interCode: p.interCode,
    interLabel: INTER_CODES[p.interCode],
    description: p.description,
    parentId: p.parentId,
    createdAt: toRfc3339(p.createdAt),
    updatedAt: toRfc3339(p.updatedAt),
    archivedAt: p.archivedAt === null ? null : toRfc3339(p.archivedAt),
  }
}

/** The parties thesaurus: the actors incidents name. Everyone signed in reads it; editors and admins keep it. */
export function registerPartyRoutes(app: FastifyInstance, ctx: AppContext): void {
  const deps = { store: ctx.store, isUniqueViolation: ctx.db.isUniqueViolation, sealer: ctx.sealer }
  const secured = { security: [{ bearer: [] }], tags: ['register'] }

  app.get<{ Querystring: Static<typeof ListQuery> }>(
    '/api/v1/parties',
    { config: { action: 'party.list' }, schema: { ...secured, summary: 'Parties, by name', querystring: ListQuery, response: { 200: PageOf(PartySchema), ...problemResponses(400, 401, 403) } } },
    async (req) => {
      const limit = req.query.limit ?? 50
      const after = req.query.cursor ? (decodeCursor(req.query.cursor, ['string'])[0] as string) : undefined
      const rows = await listParties(ctx.store.repos, { limit, after, q: req.query.q, interCode: req.query.interCode as Party['interCode'] | undefined, includeArchived: req.query.includeArchived })
      const page = toPage(rows, limit, (p) => [p.nameKey])
      return { items: page.items.map(presentParty), next: page.next }
    },
  )

  app.get<{ Params: Static<typeof IdParams> }>(
    '/api/v1/parties/:id',
    { config: { action: 'party.list' }, schema: { ...secured, summary: 'A party', params: IdParams, response: { 200: PartySchema, ...problemResponses(400, 401, 403, 404) } } },
    async (req) => presentParty(await getParty(ctx.store.repos, req.params.id)),
  )

  app.post<{ Body: Static<typeof CreateBody> }>(
    '/api/v1/parties',
    {
      config: { action: 'party.create' },
      schema: { ...secured, summary: 'Add a party', headers: IdempotencyHeaders, body: CreateBody, response: { 201: PartySchema, ...problemResponses(400, 401, 403, 409, 413, 415, 422) } },
    },
    async (req, reply) =>
      idempotentWrite(deps, req, reply, 201, async (repos) => {
        const party = await createParty(repos, req.actor, req.body)
        req.auditExtra = { resourceId: party.id, detail: { name: party.name } }
        return presentParty(party)
      }),
  )

  app.patch<{ Params: Static<typeof IdParams>; Body: Static<typeof PatchBody> }>(
    '/api/v1/parties/:id',
    {
      config: { action: 'party.update' },
      schema: { ...secured, summary: 'Change a party', headers: IdempotencyHeaders, params: IdParams, body: PatchBody, response: { 200: PartySchema, ...problemResponses(400, 401, 403, 404, 409, 413, 415, 422) } },
    },
    async (req, reply) =>
      idempotentWrite(deps, req, reply, 200, async (repos) => {
        const party = await updateParty(repos, req.params.id, req.body)
        req.auditExtra = { detail: { changed: Object.keys(req.body).sort() } }
        return presentParty(party)
      }),
  )

  app.post<{ Params: Static<typeof IdParams> }>(
    '/api/v1/parties/:id/archive',
    {
      config: { action: 'party.archive' },
      schema: { ...secured, summary: 'Archive a party: it leaves the default list and cannot become a parent', headers: IdempotencyHeaders, params: IdParams, response: { 200: PartySchema, ...problemResponses(400, 401, 403, 404, 409, 422) } },
    },
    async (req, reply) => idempotentWrite(deps, req, reply, 200, async (repos) => presentParty(await archiveParty(repos, req.params.id))),
  )
}
