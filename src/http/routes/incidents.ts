import { type Static, Type } from '@sinclair/typebox'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { AppContext } from '../../app-context.ts'
import { INCIDENT_STATUSES, type IncidentInput, type IncidentPatch, type IncidentStatus } from '../../core/incidents/incident.ts'
import {
  acquireLock,
  addComment,
  createIncident,
  getIncident,
  linkObservations,
  listComments,
  listHistory,
  listIncidents,
  MAX_COMMENT,
  MAX_SEARCH_TEXT,
  prepareIncidentSealing,
  readIncidentRestricted,
  releaseLock,
  transitionIncident,
  updateIncident,
  VersionConflictError,
} from '../../core/incidents/incident.service.ts'
import { toRfc3339 } from '../../core/time.ts'
import { auditOrigin } from '../audit.ts'
import { idempotentWrite } from '../idempotency.ts'
import { IdempotencyHeaders, PageOf, PageQuery, parseTimestamp, problemResponses, Strict, Timestamp, Uuid } from '../schemas/common.ts'
import {
  CreateIncidentBody,
  EventTypeName,
  IncidentRestrictedSchema,
  IncidentSchema,
  PatchIncidentBody,
  presentIncident,
  presentRestricted,
  presentVersion,
  TransitionBody,
  VersionSchema,
} from '../schemas/incident.ts'
import { parseBBox } from './observations.ts'

const IdParams = Strict({ id: Uuid })
const STATUS_LIST = `^(${INCIDENT_STATUSES.join('|')})(,(${INCIDENT_STATUSES.join('|')}))*$`

export const IncidentListQuery = Strict({
  bbox: Type.Optional(Type.String({ pattern: '^-?[0-9.]+,-?[0-9.]+,-?[0-9.]+,-?[0-9.]+$', description: 'west,south,east,north in degrees (WGS 84)' })),
  from: Type.Optional(Timestamp),
  to: Type.Optional(Timestamp),
  eventType: Type.Optional(EventTypeName),
  party: Type.Optional(Type.String({ format: 'uuid', description: 'incidents this party acts in, as an actor or an associated group' })),
  status: Type.Optional(Type.String({ pattern: STATUS_LIST, maxLength: 200, description: 'one or more statuses, comma-separated' })),
  timePrecision: Type.Optional(Type.Integer({ minimum: 1, maximum: 3 })),
  geoPrecision: Type.Optional(Type.Integer({ minimum: 1, maximum: 3 })),
  q: Type.Optional(Type.String({ maxLength: MAX_SEARCH_TEXT, description: 'words of the narrative or place name; every word must occur' })),
  ...PageQuery,
})

const CommentSchema = Type.Object({ id: Uuid, authorId: Uuid, body: Type.String(), createdAt: Timestamp }, { title: 'IncidentComment' })
const LockSchema = Type.Object({ holder: Uuid, expiresAt: Timestamp }, { title: 'EditLock' })

/** The common query filters, parsed (the public view uses the same). */
export function incidentFilter(q: Static<typeof IncidentListQuery>) {
  return {
    bbox: q.bbox ? parseBBox(q.bbox) : undefined,
    from: q.from ? parseTimestamp(q.from, '/querystring/from') : undefined,
    to: q.to ? parseTimestamp(q.to, '/querystring/to') : undefined,
    eventType: q.eventType,
    partyId: q.party,
    statuses: q.status ? ([...new Set(q.status.split(','))] as IncidentStatus[]) : undefined,
    timePrecision: q.timePrecision as 1 | 2 | 3 | undefined,
    geoPrecision: q.geoPrecision as 1 | 2 | 3 | undefined,
    text: q.q,
    limit: q.limit ?? 50,
    cursor: q.cursor,
  }
}

function toInput(b: Static<typeof CreateIncidentBody>): IncidentInput {
  return {
    ...b,
    occurredAt: parseTimestamp(b.occurredAt, '/body/occurredAt'),
    actors: b.actors.map((a) => ({ partyId: a.partyId, associated: a.associated ?? [] })),
  }
}

function toPatch(b: Static<typeof PatchIncidentBody>): IncidentPatch {
  const { version: _v, ...rest } = b
  return {
    ...rest,
    occurredAt: rest.occurredAt === undefined ? undefined : parseTimestamp(rest.occurredAt, '/body/occurredAt'),
    actors: rest.actors?.map((a) => ({ partyId: a.partyId, associated: a.associated ?? [] })),
  }
}

/** A 409 for a stale version carries the incident as it is now, so the client can reapply its change. */
async function withCurrent<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    if (err instanceof VersionConflictError) err.extensions = { current: presentIncident(err.current) }
    throw err
  }
}

export function registerIncidentRoutes(app: FastifyInstance, ctx: AppContext): void {
  const deps = { store: ctx.store, isUniqueViolation: ctx.db.isUniqueViolation, sealer: ctx.sealer }
  const tags = ['register']
  const security = [{ bearer: [] }]
  const withRestricted = (req: FastifyRequest<{ Body: { restricted?: unknown } }>) => !!req.body?.restricted

  app.post<{ Body: Static<typeof CreateIncidentBody> }>(
    '/api/v1/incidents',
    {
      config: { action: 'incident.create' },
      schema: {
        tags,
        summary: 'Code an incident (from observations); it starts as received',
        security,
        headers: IdempotencyHeaders,
        body: CreateIncidentBody,
        response: { 201: IncidentSchema, ...problemResponses(400, 401, 403, 409, 413, 415, 422) },
      },
    },
    async (req, reply) => {
      const input = toInput(req.body)
      const sealing = await prepareIncidentSealing(ctx.store.repos, ctx.sealer, null, input)
      return idempotentWrite(deps, req, reply, 201, async (repos) => presentIncident(await createIncident(repos, req.actor, input, sealing)), { secretRequest: withRestricted(req) || !!input.sensitive })
    },
  )

  app.get<{ Querystring: Static<typeof IncidentListQuery> }>(
    '/api/v1/incidents',
    {
      config: { action: 'incident.list' },
      schema: {
        tags,
        summary: 'Search the register, newest first: place, time, event type, party, status, precision, words',
        security,
        querystring: IncidentListQuery,
        response: { 200: PageOf(IncidentSchema), ...problemResponses(400, 401, 403) },
      },
    },
    async (req) => {
      const page = await listIncidents(ctx.store.repos, req.actor, incidentFilter(req.query))
      return { items: page.items.map((i) => presentIncident(i)), next: page.next }
    },
  )

  app.get<{ Params: Static<typeof IdParams> }>(
    '/api/v1/incidents/:id',
    {
      config: { action: 'incident.list' },
      schema: { tags, summary: 'One incident', security, params: IdParams, response: { 200: IncidentSchema, ...problemResponses(400, 401, 403, 404) } },
    },
    async (req) => presentIncident(await getIncident(ctx.store.repos, req.actor, req.params.id)),
  )

  app.patch<{ Params: Static<typeof IdParams>; Body: Static<typeof PatchIncidentBody> }>(
    '/api/v1/incidents/:id',
    {
      config: { action: 'incident.update' },
      schema: {
        tags,
        summary: 'Change an incident (send the version you edited; 409 with `current` if it moved on, or if someone else holds the lock)',
        description: 'Editing a verified incident sends it back to review. A published incident is retracted before it is edited.',
        security,
        headers: IdempotencyHeaders,
        params: IdParams,
        body: PatchIncidentBody,
        response: { 200: IncidentSchema, ...problemResponses(400, 401, 403, 404, 409, 413, 415, 422) },
      },
    },
    async (req, reply) => {
      const patch = toPatch(req.body)
      const sealing = await prepareIncidentSealing(ctx.store.repos, ctx.sealer, req.params.id, patch)
      return withCurrent(() =>
        idempotentWrite(deps, req, reply, 200, async (repos) => presentIncident(await updateIncident(repos, req.actor, req.params.id, req.body.version, patch, sealing)), {
          secretRequest: withRestricted(req) || patch.location !== undefined,
        }),
      )
    },
  )

  app.post<{ Params: Static<typeof IdParams>; Body: Static<typeof TransitionBody> }>(
    '/api/v1/incidents/:id/transitions',
    {
      config: { action: 'incident.review' },
      schema: {
        tags,
        summary: 'Move an incident through review: received → in_review → verified | unverifiable | rejected → published | retracted',
        description: 'Publishing and retracting take the incident.publish action; whoever verified an incident cannot publish it (403 two_person_rule).',
        security,
        headers: IdempotencyHeaders,
        params: IdParams,
        body: TransitionBody,
        response: { 200: IncidentSchema, ...problemResponses(400, 401, 403, 404, 409, 413, 415, 422) },
      },
    },
    async (req, reply) =>
      withCurrent(() =>
        idempotentWrite(deps, req, reply, 200, async (repos) => {
          const incident = await transitionIncident(repos, req.actor, req.params.id, { to: req.body.to, version: req.body.version, reason: req.body.reason ?? null })
          req.auditExtra = { detail: { to: incident.status } }
          return presentIncident(incident)
        }),
      ),
  )

  app.post<{ Params: Static<typeof IdParams>; Body: { observationIds: string[] } }>(
    '/api/v1/incidents/:id/observations',
    {
      config: { action: 'incident.update' },
      schema: {
        tags,
        summary: 'Link more observations to an incident',
        security,
        headers: IdempotencyHeaders,
        params: IdParams,
        body: Strict({ observationIds: Type.Array(Uuid, { minItems: 1, maxItems: 500 }) }),
        response: { 200: IncidentSchema, ...problemResponses(400, 401, 403, 404, 409, 413, 415, 422) },
      },
    },
    async (req, reply) => idempotentWrite(deps, req, reply, 200, async (repos) => presentIncident(await linkObservations(repos, req.actor, req.params.id, req.body.observationIds))),
  )

  app.post<{ Params: Static<typeof IdParams> }>(
    '/api/v1/incidents/:id/lock',
    {
      config: { action: 'incident.update' },
      schema: {
        tags,
        summary: 'Take or renew the edit lock (15 minutes); 409 with `lock` when someone else holds it',
        security,
        params: IdParams,
        response: { 200: LockSchema, ...problemResponses(400, 401, 403, 404, 409) },
      },
    },
    async (req) => {
      const lock = await ctx.store.transaction((repos) => acquireLock(repos, req.actor, req.params.id))
      return { holder: lock.holder, expiresAt: toRfc3339(lock.expiresAt) }
    },
  )

  app.delete<{ Params: Static<typeof IdParams> }>(
    '/api/v1/incidents/:id/lock',
    {
      config: { action: 'incident.update' },
      schema: { tags, summary: 'Release the edit lock (its holder, or an admin)', security, params: IdParams, response: { 204: Type.Null(), ...problemResponses(400, 401, 403, 404) } },
    },
    async (req, reply) => {
      await ctx.store.transaction((repos) => releaseLock(repos, req.actor, req.params.id))
      return reply.code(204).send()
    },
  )

  app.get<{ Params: Static<typeof IdParams>; Querystring: Static<typeof PageQueryOnly> }>(
    '/api/v1/incidents/:id/comments',
    {
      config: { action: 'incident.list' },
      schema: { tags, summary: "An incident's review comments, oldest first", security, params: IdParams, querystring: PageQueryOnly, response: { 200: PageOf(CommentSchema), ...problemResponses(400, 401, 403, 404) } },
    },
    async (req) => {
      const page = await listComments(ctx.store.repos, req.actor, req.params.id, req.query.limit ?? 50, req.query.cursor)
      return { items: page.items.map((c) => ({ id: c.id, authorId: c.authorId, body: c.body, createdAt: toRfc3339(c.createdAt) })), next: page.next }
    },
  )

  app.post<{ Params: Static<typeof IdParams>; Body: { body: string } }>(
    '/api/v1/incidents/:id/comments',
    {
      config: { action: 'incident.comment' },
      schema: {
        tags,
        summary: 'Comment on an incident under review',
        security,
        headers: IdempotencyHeaders,
        params: IdParams,
        body: Strict({ body: Type.String({ minLength: 1, maxLength: MAX_COMMENT }) }),
        response: { 201: CommentSchema, ...problemResponses(400, 401, 403, 404, 409, 413, 415, 422) },
      },
    },
    async (req, reply) =>
      idempotentWrite(deps, req, reply, 201, async (repos) => {
        const c = await addComment(repos, req.actor, req.params.id, req.body.body)
        return { id: c.id, authorId: c.authorId, body: c.body, createdAt: toRfc3339(c.createdAt) }
      }),
  )

  app.get<{ Params: Static<typeof IdParams>; Querystring: Static<typeof PageQueryOnly> }>(
    '/api/v1/incidents/:id/history',
    {
      config: { action: 'incident.list' },
      schema: {
        tags,
        summary: "An incident's versions, newest first: who changed which fields, when, from what to what",
        security,
        params: IdParams,
        querystring: PageQueryOnly,
        response: { 200: PageOf(VersionSchema), ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (req) => {
      const page = await listHistory(ctx.store.repos, req.actor, req.params.id, req.query.limit ?? 50, req.query.cursor)
      return { items: page.items.map(presentVersion), next: page.next }
    },
  )

  app.get<{ Params: Static<typeof IdParams> }>(
    '/api/v1/incidents/:id/restricted',
    {
      config: { action: 'incident.restricted.read' },
      schema: {
        tags,
        summary: "An incident's restricted part: notes, victims, a sensitive incident's exact point (legal, or the editor who coded it; audited)",
        description: 'Send the reason for reading in the `Louder-Reason` header: it is recorded with the read.',
        security,
        params: IdParams,
        response: { 200: IncidentRestrictedSchema, ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (req) => presentRestricted(await readIncidentRestricted(ctx.store.repos, ctx.sealer, req.actor, req.params.id, auditOrigin(req))),
  )
}

const PageQueryOnly = Strict({ ...PageQuery })
