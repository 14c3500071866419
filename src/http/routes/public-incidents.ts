import { type Static, Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import type { AppContext } from '../../app-context.ts'
import { MAX_SEARCH_TEXT } from '../../core/incidents/incident.service.ts'
import { getPublicIncident, listPublicIncidents } from '../../core/incidents/public-view.ts'
import { PageOf, PageQuery, parseTimestamp, problemResponses, Strict, Timestamp, Uuid } from '../schemas/common.ts'
import { EventTypeName, presentPublic, PublicIncidentSchema } from '../schemas/incident.ts'
import { parseBBox } from './observations.ts'

const PublicQuery = Strict({
  bbox: Type.Optional(Type.String({ pattern: '^-?[0-9.]+,-?[0-9.]+,-?[0-9.]+,-?[0-9.]+$', description: 'west,south,east,north in degrees (WGS 84), matched against generalised points' })),
  from: Type.Optional(Timestamp),
  to: Type.Optional(Timestamp),
  eventType: Type.Optional(EventTypeName),
  q: Type.Optional(Type.String({ maxLength: MAX_SEARCH_TEXT, description: 'words of the narrative or place name' })),
  ...PageQuery,
})

/**
 * The public view: published incidents only, no login, nothing restricted, points generalised. A box
 * searches the points lists use, which for a sensitive incident are already the generalised ones.
 */
export function registerPublicIncidentRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.get<{ Querystring: Static<typeof PublicQuery> }>(
    '/api/v1/public/incidents',
    {
      config: { action: 'public.incident.list' },
      schema: {
        tags: ['public'],
        summary: 'Published incidents, newest first, without restricted fields, with generalised locations',
        querystring: PublicQuery,
        response: { 200: PageOf(PublicIncidentSchema), ...problemResponses(400) },
      },
    },
    async (req) => {
      const q = req.query
      const page = await listPublicIncidents(ctx.store.repos, req.actor, {
        bbox: q.bbox ? parseBBox(q.bbox) : undefined,
        from: q.from ? parseTimestamp(q.from, '/querystring/from') : undefined,
        to: q.to ? parseTimestamp(q.to, '/querystring/to') : undefined,
        eventType: q.eventType,
        text: q.q,
        limit: q.limit ?? 50,
        cursor: q.cursor,
      })
      return { items: page.items.map(presentPublic), next: page.next }
    },
  )

  app.get<{ Params: { id: string } }>(
    '/api/v1/public/incidents/:id',
    {
      config: { action: 'public.incident.list' },
      schema: { tags: ['public'], summary: 'One published incident', params: Strict({ id: Uuid }), response: { 200: PublicIncidentSchema, ...problemResponses(400, 404) } },
    },
    async (req) => presentPublic(await getPublicIncident(ctx.store.repos, req.actor, req.params.id)),
  )
}
