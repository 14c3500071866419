import type { EventType } from '../register/acled.ts'

/**
 * What one researcher saw or heard. The fields added by the incident register (sources, urgency, language,
 * media, the sealed restricted part) are optional on the type so that records built elsewhere (seeds,
 * benchmarks, fixtures) need not spell them out; the repository always fills them when it reads.
 */
export interface Observation {
  id: string
  narrative: string
  occurredAt: number
  location: { lat: number; lon: number } | null
  createdBy: string
  createdAt: number
  updatedAt: number
  sources?: ObservationSource[]
  urgent?: boolean
  /** BCP 47 tag (`fr`, `ar-SD`), or null when not given. */
  language?: string | null
  /** SHA-256 hex digests of media in the locker (filled by later issues). */
  media?: string[]
  /** The restricted part, sealed; null when there is none. Never presented as it is: see readRestricted. */
  sealed?: SealedRestricted | null
  /**
   * Whether everyone named in the restricted part agreed to each use (true when nobody is named), kept in
   * clear beside the sealed part so public and partner outputs can honour consent without opening it. It
   * says nothing about who: only whether this observation's material may be used.
   */
  consentSummary?: ConsentSummary
  /** The report's title, when it came with one (field folders). */
  title?: string | null
  /** The ACLED event type the researcher named, or null: the desk codes the incident's own. */
  eventType?: EventType | null
  /** Parties as the report names them: free text, not thesaurus entries (those are coded on incidents). */
  parties?: string[]
}

export interface ConsentSummary {
  publication: boolean
  partners: boolean
  court: boolean
}

/** Every use is allowed only if every witness agreed to it; no consent on record counts as refusal. */
export function summariseConsent(witnesses: readonly Witness[]): ConsentSummary {
  const all = (use: keyof ConsentSummary) => witnesses.every((w) => w.consent?.[use] === true)
  return { publication: all('publication'), partners: all('partners'), court: all('court') }
}

export interface SealedRestricted {
  /** Envelope-sealed JSON of a RestrictedContent, context `observations.restricted:<id>`. */
  value: string
  /** The record's own data key: destroying it shreds this restricted part and nothing else. */
  dataKeyId: string
}

export const SOURCE_TYPES = ['witness', 'victim', 'media', 'official', 'ngo', 'social_media', 'researcher', 'other'] as const
export type SourceType = (typeof SOURCE_TYPES)[number]
/** Admiralty code source reliability: A completely reliable … E unreliable, F cannot be judged. */
export const RELIABILITIES = ['A', 'B', 'C', 'D', 'E', 'F'] as const
export type Reliability = (typeof RELIABILITIES)[number]

export interface ObservationSource {
  type: SourceType
  reliability: Reliability
  description?: string
}

export const WITNESS_ROLES = ['witness', 'victim', 'other'] as const
export type WitnessRole = (typeof WITNESS_ROLES)[number]

/** The uses one person agreed to, when, and who recorded it. */
export interface Consent {
  publication: boolean
  partners: boolean
  court: boolean
  recordedAt: number
  recordedBy: string
}

export interface Witness {
  name: string
  contact: string | null
  role: WitnessRole
  /** Null when no consent was recorded: treat as none given. */
  consent: Consent | null
}

/** What is sealed: notes, witness and victim identities and contacts, their consent. */
export interface RestrictedContent {
  notes: string | null
  witnesses: Witness[]
}

export interface NewWitness {
  name: string
  contact?: string | null
  role: WitnessRole
  consent?: { publication: boolean; partners: boolean; court: boolean } | null
}

export interface NewObservation {
  narrative: string
  occurredAt: number
  location: { lat: number; lon: number } | null
  sources?: ObservationSource[]
  urgent?: boolean
  language?: string | null
  media?: string[]
  restricted?: { notes?: string | null; witnesses?: NewWitness[] } | null
  title?: string | null
  eventType?: EventType | null
  parties?: string[]
}

/** Limits on a report's own fields, shared by the API's schema and field folders. */
export const OBSERVATION_TITLE_MAX = 300
export const OBSERVATION_PARTIES_MAX = 20
export const OBSERVATION_PARTY_NAME_MAX = 200

/** A bounding box in degrees: west, south, east, north (GeoJSON order). */
export type BBox = readonly [west: number, south: number, east: number, north: number]

export interface ObservationQuery {
  bbox?: BBox
  from?: number
  to?: number
  limit: number
  /** Keyset position: list rows strictly before (occurredAt, id), newest first. */
  after?: { occurredAt: number; id: string }
}
