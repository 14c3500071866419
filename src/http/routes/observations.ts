import { type Static, Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import type { AppContext } from '../../app-context.ts'
import { ValidationError } from '../../core/errors.ts'
import { type BBox, type NewObservation, type Observation, OBSERVATION_PARTIES_MAX, OBSERVATION_PARTY_NAME_MAX, OBSERVATION_TITLE_MAX, RELIABILITIES, type RestrictedContent, SOURCE_TYPES, WITNESS_ROLES } from '../../core/observations/observation.ts'
import { createObservation, hasRestrictedInput, listObservations, prepareConsentUpdate, readRestricted, updateWitnessConsent } from '../../core/observations/observation.service.ts'
import { EVENT_TYPE_NAMES } from '../../core/register/acled.ts'
import { auditOrigin } from '../audit.ts'
import { throwNotFound } from '../../core/errors.ts'
import { authorize } from '../../core/access/policy.ts'
import { toRfc3339 } from '../../core/time.ts'
import { idempotentWrite } from '../idempotency.ts'
import { IdempotencyHeaders, PageOf, PageQuery, parseTimestamp, problemResponses, Restricted, Strict, Timestamp, Uuid } from '../schemas/common.ts'

const Location = Strict({ lat: Type.Number({ minimum: -90, maximum: 90 }), lon: Type.Number({ minimum: -180, maximum: 180 }) })

const Source = Strict({
  type: Type.Union(SOURCE_TYPES.map((t) => Type.Literal(t))),
  reliability: Type.Union(RELIABILITIES.map((r) => Type.Literal(r)), { description: 'Admiralty code: A completely reliable … E unreliable, F cannot be judged' }),
  description: Type.Optional(Type.String({ maxLength: 2_000 })),
})
const Language = Type.String({ pattern: '^[a-z]{2,3}(-[A-Z][a-z]{3})?(-([A-Z]{2}|[0-9]{3}))?$', description: 'BCP 47 tag: language, optional script and region (fr, ar-SD, zh-Hant-TW)' })
const Sha256 = Type.String({ pattern: '^[0-9a-f]{64}$', description: 'SHA-256 hex digest of a locker item' })
const WitnessRole = Type.Union(WITNESS_ROLES.map((r) => Type.Literal(r)))
const ConsentInput = Strict({ publication: Type.Boolean(), partners: Type.Boolean(), court: Type.Boolean() }, { description: 'The uses this person agreed to; who recorded it and when are set by the server' })

const Title = Type.String({ minLength: 1, maxLength: OBSERVATION_TITLE_MAX })
const EventTypeInput = Type.Union(EVENT_TYPE_NAMES.map((t) => Type.Literal(t)), { description: "ACLED event type, as the researcher named it" })
const PartyName = Type.String({ minLength: 1, maxLength: OBSERVATION_PARTY_NAME_MAX })

const RestrictedInput = Restricted(
  Strict(
    {
      notes: Type.Optional(Restricted(Type.Union([Type.String({ maxLength: 20_000 }), Type.Null()]))),
      witnesses: Type.Optional(
        Type.Array(
          Strict({
            name: Restricted(Type.String({ minLength: 1, maxLength: 500 })),
            contact: Type.Optional(Restricted(Type.Union([Type.String({ maxLength: 1_000 }), Type.Null()]))),
            role: WitnessRole,
            consent: Type.Optional(Type.Union([ConsentInput, Type.Null()])),
          }),
          { maxItems: 200 },
        ),
      ),
    },
    { description: 'Sealed at rest; read back only through GET /api/v1/observations/{id}/restricted' },
  ),
)

export const ObservationBody = Strict({
  narrative: Type.String({ minLength: 1, maxLength: 20_000 }),
  occurredAt: Timestamp,
  location: Type.Optional(Type.Union([Location, Type.Null()])),
  sources: Type.Optional(Type.Array(Source, { maxItems: 100 })),
  urgent: Type.Optional(Type.Boolean()),
  language: Type.Optional(Type.Union([Language, Type.Null()])),
  media: Type.Optional(Type.Array(Sha256, { maxItems: 1_000, uniqueItems: true })),
  restricted: Type.Optional(Type.Union([RestrictedInput, Type.Null()])),
  title: Type.Optional(Type.Union([Title, Type.Null()])),
  eventType: Type.Optional(Type.Union([EventTypeInput, Type.Null()])),
  parties: Type.Optional(Type.Array(PartyName, { maxItems: OBSERVATION_PARTIES_MAX, description: 'Parties as the report names them (free text; incidents code them to the thesaurus)' })),
})

const SourceSchema = Type.Object({ type: Type.String(), reliability: Type.String(), description: Type.Optional(Type.String()) })

export const ObservationSchema = Type.Object(
  {
    id: Uuid,
    narrative: Type.String(),
    occurredAt: Timestamp,
    location: Type.Union([Location, Type.Null()]),
    sources: Type.Array(SourceSchema),
    urgent: Type.Boolean(),
    language: Type.Union([Type.String(), Type.Null()]),
    media: Type.Array(Type.String()),
    hasRestricted: Type.Boolean({ description: 'Whether a restricted part (notes, witnesses) is on record; those allowed read it at /restricted' }),
    title: Type.Union([Type.String(), Type.Null()]),
    eventType: Type.Union([Type.String(), Type.Null()]),
    parties: Type.Array(Type.String()),
    createdBy: Uuid,
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { title: 'Observation' },
)

const ConsentSchema = Type.Object({ publication: Type.Boolean(), partners: Type.Boolean(), court: Type.Boolean(), recordedAt: Timestamp, recordedBy: Uuid })

export const RestrictedSchema = Type.Object(
  {
    notes: Restricted(Type.Union([Type.String(), Type.Null()])),
    witnesses: Type.Array(
      Type.Object({
        name: Restricted(Type.String()),
        contact: Restricted(Type.Union([Type.String(), Type.Null()])),
        role: Type.String(),
        consent: Type.Union([ConsentSchema, Type.Null()]),
      }),
    ),
  },
  { title: 'ObservationRestricted' },
)

const ConsentPatch = Type.Object(
  { publication: Type.Optional(Type.Boolean()), partners: Type.Optional(Type.Boolean()), court: Type.Optional(Type.Boolean()) },
  { additionalProperties: false, minProperties: 1, description: 'The uses that change; those left out stay as recorded (none recorded: refused)' },
)
const ConsentParams = Strict({ id: Uuid, index: Type.Integer({ minimum: 0, maximum: 199, description: "The witness's position in the restricted part's list, from 0" }) })

const ListQuery = Strict({
  bbox: Type.Optional(Type.String({ pattern: '^-?[0-9.]+,-?[0-9.]+,-?[0-9.]+,-?[0-9.]+$', description: 'west,south,east,north in degrees (WGS 84)' })),
  from: Type.Optional(Timestamp),
  to: Type.Optional(Timestamp),
  ...PageQuery,
})

/** A validated body as the use case takes it; `at` is where the body sits in the request, for error pointers. */
export function observationInput(b: Static<typeof ObservationBody>, at: string): NewObservation {
  return {
    narrative: b.narrative,
    occurredAt: parseTimestamp(b.occurredAt, `${at}/occurredAt`),
    location: b.location ?? null,
    sources: b.sources,
    urgent: b.urgent,
    language: b.language,
    media: b.media,
    restricted: b.restricted,
    title: b.title ?? null,
    eventType: b.eventType ?? null,
    parties: b.parties ?? [],
  }
}

/** The observation as everyone who may list it sees it: the restricted part only as a flag. */
export function presentObservation(o: Observation): Static<typeof ObservationSchema> {
  return {
    id: o.id,
    narrative: o.narrative,
    occurredAt: toRfc3339(o.occurredAt),
    location: o.location,
    sources: (o.sources ?? []).map((s) => ({ type: s.type, reliability: s.reliability, ...(s.description === undefined ? {} : { description: s.description }) })),
    urgent: o.urgent ?? false,
    language: o.language ?? null,
    media: o.media ?? [],
    hasRestricted: !!o.sealed,
    title: o.title ?? null,
    eventType: o.eventType ?? null,
    parties: o.parties ?? [],
    createdBy: o.createdBy,
    createdAt: toRfc3339(o.createdAt),
    updatedAt: toRfc3339(o.updatedAt),
  }
}

function presentRestricted(r: RestrictedContent): Static<typeof RestrictedSchema> {
  return {
    notes: r.notes,
    witnesses: r.witnesses.map((w) => ({
      name: w.name,
      contact: w.contact,
      role: w.role,
      consent: w.consent ? { publication: w.consent.publication, partners: w.consent.partners, court: w.consent.court, recordedAt: toRfc3339(w.consent.recordedAt), recordedBy: w.consent.recordedBy } : null,
    })),
  }
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
      const input = observationInput(req.body, '/body')
      const restricted = hasRestrictedInput(input)
      // One data key per observation, made before the transaction (on SQLite it holds the only connection).
      const sealing = restricted ? { sealer: ctx.sealer, dataKeyId: await ctx.sealer.reserveDataKey() } : null
      // With witnesses in the body, the stored request fingerprint is sealed too: names could be guessed from it.
      return idempotentWrite(deps, req, reply, 201, async (repos) => presentObservation(await createObservation(repos, req.actor, input, sealing)), { secretRequest: restricted })
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

  app.get<{ Params: { id: string } }>(
    '/api/v1/observations/:id/restricted',
    {
      config: { action: 'observation.restricted.read' },
      schema: {
        tags: ['register'],
        summary: "An observation's restricted part: notes, witnesses, their consent (legal, or the researcher who recorded it; audited)",
        description: 'Send the reason for reading in the `Louder-Reason` header: it is recorded with the read.',
        security: [{ bearer: [] }],
        params: Strict({ id: Uuid }),
        response: { 200: RestrictedSchema, ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (req) => presentRestricted(await readRestricted(ctx.store.repos, ctx.sealer, req.actor, req.params.id, auditOrigin(req))),
  )

  app.patch<{ Params: Static<typeof ConsentParams>; Body: Static<typeof ConsentPatch> }>(
    '/api/v1/observations/:id/witnesses/:index/consent',
    {
      config: { action: 'observation.consent.update' },
      schema: {
        tags: ['register'],
        summary: "Change the uses a witness agreed to (legal, or the researcher who recorded the observation; audited)",
        description: 'Stamps who recorded the change and when; the restricted part is sealed again with the observation\'s own data key.',
        security: [{ bearer: [] }],
        headers: IdempotencyHeaders,
        params: ConsentParams,
        body: ConsentPatch,
        response: { 200: ConsentSchema, ...problemResponses(400, 401, 403, 404, 409, 413, 415, 422) },
      },
    },
    async (req, reply) => {
      const { id, index } = req.params
      // Outside the transaction: the checks, and the data key into the sealer's cache for the re-seal inside it.
      await prepareConsentUpdate(ctx.store.repos, ctx.sealer, req.actor, id)
      return idempotentWrite(deps, req, reply, 200, async (repos) => {
        const { consent, changed } = await updateWitnessConsent(repos, ctx.sealer, req.actor, id, index, req.body)
        req.auditExtra = { detail: { witness: index, changed } }
        return { publication: consent.publication, partners: consent.partners, court: consent.court, recordedAt: toRfc3339(consent.recordedAt), recordedBy: consent.recordedBy }
      })
    },
  )
}
