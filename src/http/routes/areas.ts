import { type Static, Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import type { AppContext } from '../../app-context.ts'
import { MAX_FEATURES } from '../../core/geo/admin-boundaries.ts'
import { decodeCursor, toPage } from '../../core/pagination.ts'
import type { Area } from '../../core/ports/repositories.ts'
import { importAreas, listAreas, locateAdminAreas, MAX_SOURCE } from '../../core/register/areas.ts'
import { toRfc3339 } from '../../core/time.ts'
import { idempotentWrite } from '../idempotency.ts'
import { IdempotencyHeaders, PageOf, PageQuery, problemResponses, Strict, Timestamp, Uuid } from '../schemas/common.ts'

/** A country's ADM2 polygons as GeoJSON run to tens of megabytes; every other route keeps the 1 MiB limit. */
export const AREA_IMPORT_BODY_LIMIT = 64 * 1024 * 1024

const Level = Type.Integer({ minimum: 1, maximum: 2, description: '1 (ADM1, e.g. province) or 2 (ADM2, e.g. district)' })
const Pcode = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$' })

export const AreaSchema = Type.Object(
  {
    id: Uuid,
    level: Type.Integer(),
    pcode: Type.String(),
    name: Type.String(),
    parentPcode: Type.Union([Type.String(), Type.Null()]),
    bbox: Type.Array(Type.Number(), { minItems: 4, maxItems: 4, description: '[west, south, east, north], as GeoJSON orders them' }),
    representativePoint: Type.Object({ lat: Type.Number(), lon: Type.Number() }, { description: 'a point inside the area: what generalised locations show' }),
    source: Type.String(),
    importedAt: Timestamp,
  },
  { title: 'Area' },
)

const AreaRef = Type.Union([Type.Object({ pcode: Type.String(), name: Type.String() }), Type.Null()])

const LocateResult = Type.Object(
  {
    admin1: AreaRef,
    admin2: AreaRef,
    generalised: Type.Union([
      Type.Object({ lat: Type.Number(), lon: Type.Number(), areaPcode: Type.String(), level: Type.Integer() }, { description: 'the representative point of the smallest area holding the point; never the point itself' }),
      Type.Null(),
    ]),
  },
  { title: 'AreaLocation' },
)

const ListQuery = Strict({ ...PageQuery, level: Type.Optional(Level), parent: Type.Optional(Pcode) })
const LocateQuery = Strict({ lat: Type.Number({ minimum: -90, maximum: 90 }), lon: Type.Number({ minimum: -180, maximum: 180 }) })
const ImportQuery = Strict({
  level: Type.Optional({ ...Level, description: 'the level of every feature; detected from COD-AB or geoBoundaries properties when absent' }),
  source: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_SOURCE, pattern: '^[^\\x00-\\x1f\\x7f]+$', description: 'where the file came from, e.g. "OCHA COD-AB SOM 2024" (default: "api upload")' })),
})
// Only the envelope is checked here; each feature is checked by the import, which names the one at fault.
// Like every body, it refuses unknown members; the ones exporters write (QGIS and ArcGIS `name`, `crs`;
// RFC 7946 `bbox`) are accepted and ignored (coordinates are read as WGS 84 longitude, latitude).
const ImportBody = Strict(
  {
    type: Type.Literal('FeatureCollection'),
    features: Type.Array(Type.Unknown(), { minItems: 1, maxItems: MAX_FEATURES }),
    name: Type.Optional(Type.String({ maxLength: 1000 })),
    crs: Type.Optional(Type.Object({})),
    bbox: Type.Optional(Type.Array(Type.Number(), { maxItems: 6 })),
  },
  { description: 'A GeoJSON FeatureCollection of ADM1 or ADM2 Polygons/MultiPolygons (OCHA COD-AB or geoBoundaries properties)' },
)
const ImportResult = Type.Object({
  features: Type.Integer(),
  inserted: Type.Integer(),
  replaced: Type.Integer(),
  byLevel: Type.Object({ adm1: Type.Integer(), adm2: Type.Integer() }),
  parentsFound: Type.Integer(),
})

function presentArea(a: Area): Static<typeof AreaSchema> {
  return {
    id: a.id,
    level: a.level,
    pcode: a.pcode,
    name: a.name,
    parentPcode: a.parentPcode,
    bbox: [a.minLon, a.minLat, a.maxLon, a.maxLat],
    representativePoint: { lat: a.repLat, lon: a.repLon },
    source: a.source,
    importedAt: toRfc3339(a.importedAt),
  }
}

const ref = (a: Area | null) => (a ? { pcode: a.pcode, name: a.name } : null)

/** Administrative areas: everyone signed in reads and locates; admins import boundary files. */
export function registerAreaRoutes(app: FastifyInstance, ctx: AppContext): void {
  const deps = { store: ctx.store, isUniqueViolation: ctx.db.isUniqueViolation, sealer: ctx.sealer }
  const secured = { security: [{ bearer: [] }], tags: ['register'] }

  app.get<{ Querystring: Static<typeof ListQuery> }>(
    '/api/v1/areas',
    { config: { action: 'area.list' }, schema: { ...secured, summary: 'Administrative areas, by pcode', querystring: ListQuery, response: { 200: PageOf(AreaSchema), ...problemResponses(400, 401, 403) } } },
    async (req) => {
      const limit = req.query.limit ?? 50
      const after = req.query.cursor ? (decodeCursor(req.query.cursor, ['string'])[0] as string) : undefined
      const rows = await listAreas(ctx.store.repos, { limit, after, level: req.query.level as Area['level'] | undefined, parentPcode: req.query.parent })
      const page = toPage(rows, limit, (a) => [a.pcode])
      return { items: page.items.map(presentArea), next: page.next }
    },
  )

  app.get<{ Querystring: Static<typeof LocateQuery> }>(
    '/api/v1/areas/locate',
    {
      config: { action: 'area.list' },
      schema: { ...secured, summary: 'The ADM1 and ADM2 areas a point lies in, and its generalised point', querystring: LocateQuery, response: { 200: LocateResult, ...problemResponses(400, 401, 403) } },
    },
    async (req) => {
      const found = await locateAdminAreas(ctx.store.repos, { lat: req.query.lat, lon: req.query.lon })
      return { admin1: ref(found.admin1), admin2: ref(found.admin2), generalised: found.generalised }
    },
  )

  app.post<{ Querystring: Static<typeof ImportQuery>; Body: Static<typeof ImportBody> }>(
    '/api/v1/areas/import',
    {
      // The app's strict JSON parser (depth, duplicate keys, prototype keys) still parses this body; only its size limit differs.
      bodyLimit: AREA_IMPORT_BODY_LIMIT,
      config: { action: 'area.import' },
      schema: {
        ...secured,
        summary: 'Import administrative boundaries (all or nothing); areas with a known pcode are replaced',
        headers: IdempotencyHeaders,
        querystring: ImportQuery,
        body: ImportBody,
        response: { 200: ImportResult, ...problemResponses(400, 401, 403, 409, 413, 415, 422) },
      },
    },
    async (req, reply) => {
      const counts = await idempotentWrite(deps, req, reply, 200, async (repos) => {
        const source = req.query.source ?? 'api upload'
        const counts = await importAreas(repos, req.body, { level: req.query.level as Area['level'] | undefined, source, fieldBase: '/body' })
        req.auditExtra = { detail: { source, ...counts } }
        return counts
      })
      // Incidents already placed follow the new boundaries, in the background.
      await ctx.jobs.enqueue('register.relocate-incidents', { afterId: null })
      return counts
    },
  )
}
