import { Readable } from 'node:stream'
import { type Static, Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import type { AppContext } from '../../app-context.ts'
import { MAX_SEARCH_TEXT } from '../../core/incidents/incident.service.ts'
import { ACLED_COLUMNS, acledRow } from '../../core/incidents/acled-row.ts'
import { getPublicIncident, listPublicIncidents } from '../../core/incidents/public-view.ts'
import { csvRow } from '../csv.ts'
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

const ExportQuery = Strict({
  bbox: PublicQuery.properties.bbox,
  from: PublicQuery.properties.from,
  to: PublicQuery.properties.to,
  eventType: PublicQuery.properties.eventType,
  q: PublicQuery.properties.q,
})
const EXPORT_PAGE = 500

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

  app.get<{ Querystring: Static<typeof ExportQuery> }>(
    '/api/v1/public/incidents/export',
    {
      config: { action: 'public.incident.list' },
      schema: {
        tags: ['public'],
        summary: "Every matching published incident as ACLED's event file (CSV, ACLED's columns in its order)",
        description: 'The same incidents and fields as the public list: generalised coordinates, nothing restricted, media left out. Cells starting with = + - or @ get an apostrophe so spreadsheets do not run them.',
        querystring: ExportQuery,
        response: { 200: { description: 'CSV with a header row', content: { 'text/csv': { schema: Type.String() } } }, ...problemResponses(400) },
      },
    },
    async (req, reply) => {
      const q = req.query
      const filter = {
        bbox: q.bbox ? parseBBox(q.bbox) : undefined,
        from: q.from ? parseTimestamp(q.from, '/querystring/from') : undefined,
        to: q.to ? parseTimestamp(q.to, '/querystring/to') : undefined,
        eventType: q.eventType,
        text: q.q,
        limit: EXPORT_PAGE,
      }
      // The first page is read before answering, so a bad filter is a 400, not a broken download.
      let page = await listPublicIncidents(ctx.store.repos, req.actor, filter)
      const repos = ctx.store.repos
      const actor = req.actor
      async function* rows() {
        yield csvRow(ACLED_COLUMNS)
        for (;;) {
          if (page.items.length) yield page.items.map((i) => csvRow(acledRow(i))).join('')
          if (!page.next) return
          page = await listPublicIncidents(repos, actor, { ...filter, cursor: page.next })
        }
      }
      return reply
        .type('text/csv; charset=utf-8; header=present')
        .header('content-disposition', 'attachment; filename="louder-incidents-acled.csv"')
        .send(Readable.from(rows(), { objectMode: false }))
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
