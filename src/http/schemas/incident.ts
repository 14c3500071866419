import { type Static, Type } from '@sinclair/typebox'
import { COUNT_KINDS, GEO_PRECISIONS, INCIDENT_STATUSES, type Incident, type IncidentRestricted, type IncidentVersion, TIME_PRECISIONS } from '../../core/incidents/incident.ts'
import type { OutwardIncident } from '../../core/incidents/public-view.ts'
import { MAX_ACTORS, MAX_ASSOCIATED } from '../../core/incidents/incident-input.ts'
import { EVENT_TYPES } from '../../core/register/acled.ts'
import { RELIABILITIES, SOURCE_TYPES } from '../../core/observations/observation.ts'
import { toRfc3339 } from '../../core/time.ts'
import { Restricted, Strict, Timestamp, Uuid } from './common.ts'

const LatLon = Strict({ lat: Type.Number({ minimum: -90, maximum: 90 }), lon: Type.Number({ minimum: -180, maximum: 180 }) })
const Language = Type.String({ pattern: '^[a-z]{2,3}(-[A-Z][a-z]{3})?(-([A-Z]{2}|[0-9]{3}))?$', description: 'BCP 47 tag' })
export const EventTypeName = Type.String({ maxLength: 100, description: `ACLED event type: ${Object.keys(EVENT_TYPES).join(', ')}` })
const SubEventTypeName = Type.String({ maxLength: 100, description: 'ACLED sub-event type of the event type' })
const Source = Strict({
  type: Type.Union(SOURCE_TYPES.map((t) => Type.Literal(t))),
  reliability: Type.Union(RELIABILITIES.map((r) => Type.Literal(r)), { description: 'Admiralty code A–F' }),
  description: Type.Optional(Type.String({ maxLength: 2_000 })),
})
const MAX_COUNT = 100_000_000
const CountRange = Strict({
  min: Type.Integer({ minimum: 0, maximum: MAX_COUNT }),
  max: Type.Union([Type.Integer({ minimum: 0, maximum: MAX_COUNT }), Type.Null()], { description: 'null: no upper bound known; equal to min for an exact count' }),
})
const Counts = Strict(Object.fromEntries(COUNT_KINDS.map((k) => [k, Type.Optional(CountRange)])), { description: 'people affected, as ranges' })
const Actor = Strict({
  partyId: Uuid,
  associated: Type.Optional(Type.Array(Uuid, { maxItems: MAX_ASSOCIATED, description: "groups acting alongside this party (ACLED's associated actors)" })),
})
const Victim = Strict({
  name: Restricted(Type.String({ minLength: 1, maxLength: 500 })),
  contact: Type.Optional(Restricted(Type.Union([Type.String({ maxLength: 1_000 }), Type.Null()]))),
  description: Type.Optional(Restricted(Type.Union([Type.String({ maxLength: 2_000 }), Type.Null()]))),
})
const RestrictedInput = Restricted(
  Strict(
    {
      notes: Type.Optional(Restricted(Type.Union([Type.String({ maxLength: 20_000 }), Type.Null()]))),
      victims: Type.Optional(Type.Array(Victim, { maxItems: 500 })),
    },
    { description: 'Sealed at rest; read back only through GET /api/v1/incidents/{id}/restricted' },
  ),
)
const TimePrecision = Type.Union(TIME_PRECISIONS.map((p) => Type.Literal(p)), { description: 'ACLED: 1 the day is known, 2 the week, 3 the month' })
const GeoPrecision = Type.Union(GEO_PRECISIONS.map((p) => Type.Literal(p)), { description: 'ACLED: 1 the place itself, 2 near it or part of a region, 3 the province or wider' })

const content = {
  eventType: EventTypeName,
  subEventType: SubEventTypeName,
  actors: Type.Array(Actor, { minItems: 1, maxItems: MAX_ACTORS, description: 'parties, no direction implied' }),
  civilianTargeting: Type.Boolean(),
  occurredAt: Timestamp,
  timePrecision: TimePrecision,
  location: Type.Union([Restricted(LatLon), Type.Null()], { description: 'exact point; sealed when the incident is sensitive' }),
  placeName: Type.String({ minLength: 1, maxLength: 500 }),
  geoPrecision: GeoPrecision,
  sensitive: Type.Boolean({ description: 'the exact point is sealed and never shown; lists and outputs use the generalised one' }),
  counts: Counts,
  narrative: Type.String({ minLength: 1, maxLength: 20_000 }),
  languages: Type.Array(Language, { maxItems: 20, uniqueItems: true }),
  sources: Type.Array(Source, { maxItems: 100 }),
  restricted: Type.Union([RestrictedInput, Type.Null()]),
}

export const CreateIncidentBody = Strict({
  eventType: content.eventType,
  subEventType: content.subEventType,
  actors: content.actors,
  civilianTargeting: Type.Optional(content.civilianTargeting),
  occurredAt: content.occurredAt,
  timePrecision: Type.Optional(content.timePrecision),
  location: Type.Optional(content.location),
  placeName: content.placeName,
  geoPrecision: Type.Optional(content.geoPrecision),
  sensitive: Type.Optional(content.sensitive),
  counts: Type.Optional(content.counts),
  narrative: content.narrative,
  languages: Type.Optional(content.languages),
  sources: Type.Optional(content.sources),
  restricted: Type.Optional(content.restricted),
  observationIds: Type.Optional(Type.Array(Uuid, { maxItems: 500, description: 'the observations this incident is coded from' })),
})

export const Version = Type.Integer({ minimum: 1, description: 'the version this change was made on; a newer one gives 409 with `current`' })

export const PatchIncidentBody = Strict({
  version: Version,
  eventType: Type.Optional(content.eventType),
  subEventType: Type.Optional(content.subEventType),
  actors: Type.Optional(content.actors),
  civilianTargeting: Type.Optional(content.civilianTargeting),
  occurredAt: Type.Optional(content.occurredAt),
  timePrecision: Type.Optional(content.timePrecision),
  location: Type.Optional(content.location),
  placeName: Type.Optional(content.placeName),
  geoPrecision: Type.Optional(content.geoPrecision),
  sensitive: Type.Optional(content.sensitive),
  counts: Type.Optional(content.counts),
  narrative: Type.Optional(content.narrative),
  languages: Type.Optional(content.languages),
  sources: Type.Optional(content.sources),
  restricted: Type.Optional(content.restricted),
})

export const TransitionBody = Strict({
  to: Type.Union(INCIDENT_STATUSES.map((s) => Type.Literal(s))),
  version: Version,
  reason: Type.Optional(Type.Union([Type.String({ maxLength: 2_000 }), Type.Null()], { description: 'required to reject or retract' })),
})

const AreaRef = Type.Object({ pcode: Type.String(), name: Type.String() })
const PointOut = Type.Object({ lat: Type.Number(), lon: Type.Number() })
const CountRangeOut = Type.Object({ min: Type.Integer(), max: Type.Union([Type.Integer(), Type.Null()]) })
const CountsOut = Type.Object(Object.fromEntries(COUNT_KINDS.map((k) => [k, Type.Optional(CountRangeOut)])))
const SourceOut = Type.Object({ type: Type.String(), reliability: Type.String(), description: Type.Optional(Type.String()) })

export const IncidentSchema = Type.Object(
  {
    id: Uuid,
    version: Type.Integer(),
    status: Type.String(),
    statusReason: Type.Union([Type.String(), Type.Null()]),
    eventType: Type.String(),
    subEventType: Type.String(),
    actors: Type.Array(Type.Object({ partyId: Uuid, associated: Type.Array(Uuid) })),
    civilianTargeting: Type.Boolean(),
    occurredAt: Timestamp,
    timePrecision: Type.Integer(),
    location: Type.Union([PointOut, Type.Null()], { description: 'the exact point; null when sensitive (then it is in the restricted part)' }),
    generalisedLocation: Type.Union([Type.Object({ lat: Type.Number(), lon: Type.Number(), areaPcode: Type.String() }), Type.Null()], {
      description: 'what public and partner outputs show: the smallest known admin area’s point',
    }),
    placeName: Type.String(),
    admin1: Type.Union([AreaRef, Type.Null()]),
    admin2: Type.Union([AreaRef, Type.Null()]),
    geoPrecision: Type.Integer(),
    sensitive: Type.Boolean(),
    counts: CountsOut,
    narrative: Type.String(),
    languages: Type.Array(Type.String()),
    sources: Type.Array(SourceOut),
    observationIds: Type.Array(Uuid),
    hasRestricted: Type.Boolean(),
    createdBy: Uuid,
    createdAt: Timestamp,
    updatedBy: Uuid,
    updatedAt: Timestamp,
    verifiedBy: Type.Union([Uuid, Type.Null()]),
    verifiedAt: Type.Union([Timestamp, Type.Null()]),
    publishedBy: Type.Union([Uuid, Type.Null()]),
    publishedAt: Type.Union([Timestamp, Type.Null()]),
    lock: Type.Union([Type.Object({ holder: Uuid, expiresAt: Timestamp }), Type.Null()], { description: 'a current edit lock: who holds it, until when' }),
  },
  { title: 'Incident' },
)

const orNull = (ms: number | null) => (ms === null ? null : toRfc3339(ms))

export function presentIncident(i: Incident, now = Date.now()): Static<typeof IncidentSchema> {
  return {
    id: i.id,
    version: i.version,
    status: i.status,
    statusReason: i.statusReason,
    eventType: i.eventType,
    subEventType: i.subEventType,
    actors: i.actors.map((a) => ({ partyId: a.partyId, associated: a.associated })),
    civilianTargeting: i.civilianTargeting,
    occurredAt: toRfc3339(i.occurredAt),
    timePrecision: i.timePrecision,
    location: i.location,
    generalisedLocation: i.publicPoint,
    placeName: i.placeName,
    admin1: i.admin1,
    admin2: i.admin2,
    geoPrecision: i.geoPrecision,
    sensitive: i.sensitive,
    counts: i.counts,
    narrative: i.narrative,
    languages: i.languages,
    sources: i.sources.map((s) => ({ type: s.type, reliability: s.reliability, ...(s.description === undefined ? {} : { description: s.description }) })),
    observationIds: i.observationIds,
    hasRestricted: !!i.sealed,
    createdBy: i.createdBy,
    createdAt: toRfc3339(i.createdAt),
    updatedBy: i.updatedBy,
    updatedAt: toRfc3339(i.updatedAt),
    verifiedBy: i.verifiedBy,
    verifiedAt: orNull(i.verifiedAt),
    publishedBy: i.publishedBy,
    publishedAt: orNull(i.publishedAt),
    lock: i.lock && i.lock.expiresAt > now ? { holder: i.lock.holder, expiresAt: toRfc3339(i.lock.expiresAt) } : null,
  }
}

export const IncidentRestrictedSchema = Type.Object(
  {
    notes: Restricted(Type.Union([Type.String(), Type.Null()])),
    victims: Type.Array(
      Type.Object({
        name: Restricted(Type.String()),
        contact: Restricted(Type.Union([Type.String(), Type.Null()])),
        description: Restricted(Type.Union([Type.String(), Type.Null()])),
      }),
    ),
    exactLocation: Restricted(Type.Union([PointOut, Type.Null()])),
  },
  { title: 'IncidentRestricted' },
)

export function presentRestricted(r: IncidentRestricted): Static<typeof IncidentRestrictedSchema> {
  return { notes: r.notes, victims: r.victims.map((v) => ({ name: v.name, contact: v.contact, description: v.description })), exactLocation: r.exactLocation }
}

export const VersionSchema = Type.Object(
  {
    version: Type.Integer(),
    action: Type.String(),
    changedBy: Uuid,
    changedAt: Timestamp,
    changes: Type.Record(Type.String(), Type.Array(Type.Unknown(), { minItems: 2, maxItems: 2 }), { description: 'field → [before, after]; restricted fields show "(restricted)"' }),
  },
  { title: 'IncidentVersion' },
)

export function presentVersion(v: IncidentVersion): Static<typeof VersionSchema> {
  return { version: v.version, action: v.action, changedBy: v.changedBy, changedAt: toRfc3339(v.changedAt), changes: v.changes }
}

const PartyOut = Type.Object({ name: Type.String(), interCode: Type.Integer() })

export const PublicIncidentSchema = Type.Object(
  {
    id: Uuid,
    eventType: Type.String(),
    subEventType: Type.String(),
    actors: Type.Array(Type.Object({ name: Type.String(), interCode: Type.Integer(), associated: Type.Array(PartyOut) })),
    civilianTargeting: Type.Boolean(),
    occurredAt: Timestamp,
    timePrecision: Type.Integer(),
    placeName: Type.String(),
    admin1: Type.Union([Type.String(), Type.Null()]),
    admin2: Type.Union([Type.String(), Type.Null()]),
    location: Type.Union([PointOut, Type.Null()], { description: 'generalised: the point of the smallest known admin area, never the exact one; null when no area is known' }),
    geoPrecision: Type.Integer(),
    counts: CountsOut,
    narrative: Type.String(),
    languages: Type.Array(Type.String()),
    sourceTypes: Type.Array(Type.String()),
    media: Type.Array(Type.String(), { description: 'SHA-256 of media whose people agreed to publication' }),
    publishedAt: Type.Union([Timestamp, Type.Null()]),
  },
  { title: 'PublicIncident' },
)

export function presentPublic(i: OutwardIncident): Static<typeof PublicIncidentSchema> {
  return { ...i, occurredAt: toRfc3339(i.occurredAt), publishedAt: orNull(i.publishedAt) }
}
