import type { BBox, ObservationSource, SealedRestricted } from '../observations/observation.ts'

/**
 * An incident: what happened, coded in ACLED's language (event type and sub-type, actors as parties with
 * no implied direction, precisions), backed by the observations that report it, and carried through review
 * to publication. Exact coordinates of a sensitive incident, victims' identities and restricted notes are
 * sealed (`sealed`), never stored in clear.
 */
export interface Incident {
  id: string
  /** Bumped by every change of content or status; an edit names the version it was made on (409 otherwise). */
  version: number
  status: IncidentStatus
  /** Why it was rejected or retracted; null otherwise. */
  statusReason: string | null
  eventType: string
  subEventType: string
  actors: IncidentActor[]
  civilianTargeting: boolean
  occurredAt: number
  timePrecision: TimePrecision
  /** The exact point, in clear only when the incident is not sensitive; null for a sensitive one (sealed instead). */
  location: LatLon | null
  /** The point lists search by: the exact one, or for a sensitive incident its generalised one (or none). */
  searchPoint: LatLon | null
  /** The generalised point every public and partner output shows (generaliseLocation), or null: place name only. */
  publicPoint: (LatLon & { areaPcode: string }) | null
  placeName: string
  admin1: AreaRef | null
  admin2: AreaRef | null
  geoPrecision: GeoPrecision
  sensitive: boolean
  counts: Counts
  narrative: string
  languages: string[]
  sources: ObservationSource[]
  observationIds: string[]
  sealed: SealedRestricted | null
  createdBy: string
  createdAt: number
  updatedBy: string
  updatedAt: number
  verifiedBy: string | null
  verifiedAt: number | null
  publishedBy: string | null
  publishedAt: number | null
  lock: EditLock | null
}

export interface LatLon {
  lat: number
  lon: number
}

export interface AreaRef {
  pcode: string
  name: string
}

export interface EditLock {
  holder: string
  expiresAt: number
}

/** One party acting in the incident, with the groups acting alongside it (ACLED's associated actors). */
export interface IncidentActor {
  partyId: string
  associated: string[]
}

export const INCIDENT_STATUSES = ['received', 'in_review', 'verified', 'unverifiable', 'rejected', 'published', 'retracted'] as const
export type IncidentStatus = (typeof INCIDENT_STATUSES)[number]

/** ACLED's time precision: 1 the day is known, 2 the week, 3 only the month. */
export const TIME_PRECISIONS = [1, 2, 3] as const
export type TimePrecision = (typeof TIME_PRECISIONS)[number]
/** ACLED's geo precision: 1 the place itself, 2 near it or part of a region, 3 only the province or wider. */
export const GEO_PRECISIONS = [1, 2, 3] as const
export type GeoPrecision = (typeof GEO_PRECISIONS)[number]

export const COUNT_KINDS = ['killed', 'injured', 'missing', 'abducted', 'arrested', 'displaced'] as const
export type CountKind = (typeof COUNT_KINDS)[number]
/** A count as sources give it: at least `min`, at most `max` (null: no upper bound known). An exact count has min = max. */
export interface CountRange {
  min: number
  max: number | null
}
export type Counts = Partial<Record<CountKind, CountRange>>

/** A victim named in the restricted part: identity and contact never leave it. */
export interface Victim {
  name: string
  contact: string | null
  description: string | null
}

/** What is sealed: restricted notes, victims, and the exact point of a sensitive incident. */
export interface IncidentRestricted {
  notes: string | null
  victims: Victim[]
  exactLocation: LatLon | null
}

/** An editor's input for a new incident; what is left out takes its default. */
export interface IncidentInput {
  eventType: string
  subEventType: string
  actors: IncidentActor[]
  civilianTargeting?: boolean
  occurredAt: number
  timePrecision?: number
  location?: LatLon | null
  placeName: string
  geoPrecision?: number
  sensitive?: boolean
  counts?: Counts
  narrative: string
  languages?: string[]
  sources?: ObservationSource[]
  observationIds?: string[]
  restricted?: { notes?: string | null; victims?: Partial<Victim>[] } | null
}

/** A change: the fields given replace the stored ones (`restricted` subfields one by one). */
export type IncidentPatch = Partial<Omit<IncidentInput, 'observationIds'>>

export interface IncidentComment {
  id: string
  incidentId: string
  authorId: string
  body: string
  createdAt: number
}

/** One entry of an incident's history: who did what to which fields, with the values before and after. */
export interface IncidentVersion {
  incidentId: string
  version: number
  action: 'created' | 'updated' | 'transition' | 'linked'
  changedBy: string
  changedAt: number
  /** Field → [before, after]; restricted fields appear with the value hidden (`"(restricted)"`). */
  changes: Record<string, [unknown, unknown]>
}

export interface IncidentQuery {
  bbox?: BBox
  from?: number
  to?: number
  eventType?: string
  partyId?: string
  statuses?: IncidentStatus[]
  timePrecision?: TimePrecision
  geoPrecision?: GeoPrecision
  /** Full text over narrative and place name: every word must occur. */
  text?: string
  limit: number
  /** Keyset position: rows strictly before (occurredAt, id), newest first. */
  after?: { occurredAt: number; id: string }
}

/** What a public or partner output needs of the observations behind an incident. */
export interface BackingObservation {
  id: string
  media: string[]
  /** Whether every person named in it agreed to each use (true when nobody is named). */
  consent: { publication: boolean; partners: boolean; court: boolean }
}
