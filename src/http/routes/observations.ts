import { type Static, Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import type { AppContext } from '../../app-context.ts'
import { ValidationError } from '../../core/errors.ts'
import type { BBox, Observation } from '../../core/observations/observation.ts'
import { createObservation, listObservations } from '../../core/observations/observation.service.ts'
import { throwNotFound } from '../../core/errors.ts'
import { authorize } from '../../core/access/policy.ts'
import { toRfc3339 } from '../../core/time.ts'
import { idempotentWrite } from '../idempotency.ts'
import { IdempotencyHeaders, PageOf, PageQuery, parseTimestamp, problemResponses, Strict, Timestamp, Uuid } from '../schemas/common.ts'

const Location = Strict({ lat: Type.Number({ minimum: -90, maximum: 90 }), lon: Type.Number({ minimum: -180, maximum: 180 }) })

const ObservationBody = Strict({
  narrative: Type.String({ minLength: 1, maxLength: 20_000 }),
  occurredAt: Timestamp,
  location: Type.Optional(Type.Union([Location, Type.Null()])),
})

export const ObservationSchema = Type.Object(
  { id: Uuid, narrative: Type.String(), occurredAt: Timestamp, location: Type.Union([Location, Type.Null()]), createdBy: Uuid, createdAt: Timestamp, updatedAt: Timestamp },
  { title: 'Observation' },
)

const ListQuery = Strict({
  bbox: Type.Optional(Type.String({ pattern: '^-?[0-9.]+,-?[0-9.]+,-?[0-9.]+,-?[0-9.]+$', description: 'west,south,east,north in degrees (WGS 84)' })),
  from: Type.Optional(Timestamp),
  to: Type.Optional(Timestamp),
  ...PageQuery,
})

export function presentObservation(o: Observation): Static<typeof ObservationSchema> {
  return { id: o.id, narrative: o.narrative, occurredAt: toRfc3339(o.occurredAt), location: o.location, createdBy: o.createdBy, createdAt: toRfc3339(o.createdAt), updatedAt: toRfc3339(o.updatedAt) }
}

export function parseBBox(value: string): BBox {
  const [west, south, east, north] = value.split(',').map(Number) as [number, number, number, number]
  const errors = []
  if (![west, east].every((v) => v >= -180 && v <= 180)) errors.push('west and east must be within −180…180')
  if (![south, north].every((v) => v >= -90 && v <= 90)) errors.push('south and north must be within −90…90')
  if (south > north) errors.push('south must not be north of north')
  if (errors.length) throw new ValidationError(errors.map((message) => ({ field: '/querystring/bbox', message })))
  return [west, south, east, north]
}

export function registerObservationRoutes(app: FastifyInstance, ctx: AppContext): void {
  const deps = { store: ctx.store, isUniqueViolation: ctx.db.isUniqueViolation, sealer: ctx.sealer }

  app.post<{ Body: Static<typeof ObservationBody> }>(
    '/api/v1/observations',
    {
      config: { action: 'observation.create' },
      schema: {
        tags: ['register'],
        summary: 'Record an observation',
        security: [{ bearer: [] }],
        headers: IdempotencyHeaders,
        body: ObservationBody,
        response: { 201: ObservationSchema, ...problemResponses(400, 401, 403, 409, 413, 415, 422) },
      },
    },
    async (req, reply) => {
      const input = { narrative: req.body.narrative, occurredAt: parseTimestamp(req.body.occurredAt, '/body/occurredAt'), location: req.body.location ?? null }
      return idempotentWrite(deps, req, reply, 201, async (repos) => presentObservation(await createObservation(repos, req.actor, input)))
    },
  )

  app.get<{ Querystring: Static<typeof ListQuery> }>(
    '/api/v1/observations',
    {
      config: { action: 'observation.list' },
      schema: {
        tags: ['register'],
        summary: 'List observations, newest first, by place and time',
        security: [{ bearer: [] }],
        querystring: ListQuery,
        response: { 200: PageOf(ObservationSchema), ...problemResponses(400, 401, 403) },
      },
    },
    async (req) => {
      const q = req.query
      const page = await listObservations(ctx.store.repos, req.actor, {
        bbox: q.bbox ? parseBBox(q.bbox) : undefined,
        from: q.from ? parseTimestamp(q.from, '/querystring/from') : undefined,
        to: q.to ? parseTimestamp(q.to, '/querystring/to') : undefined,
        limit: q.limit ?? 50,
        cursor: q.cursor,
      })
      return { items: page.items.map(presentObservation), next: page.next }
    },
  )

  app.get<{ Params: { id: string } }>(
    '/api/v1/observations/:id',
    {
      config: { action: 'observation.list' },
      schema: {
        tags: ['register'],
        summary: 'One observation',
        security: [{ bearer: [] }],
        params: Strict({ id: Uuid }),
        response: { 200: ObservationSchema, ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (req) => {
      authorize(req.actor, 'observation.list')
      const o = (await ctx.store.repos.observations.byId(req.params.id)) ?? throwNotFound('observation', req.params.id)
      return presentObservation(o)
    },
  )
}
