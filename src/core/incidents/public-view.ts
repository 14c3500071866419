import type { Actor } from '../access/actor.ts'
import { authorize } from '../access/policy.ts'
import { throwNotFound } from '../errors.ts'
import type { Page } from '../pagination.ts'
import type { Party, Repositories } from '../ports/repositories.ts'
import type { ConsentUse } from '../observations/observation.service.ts'
import type { BackingObservation, Counts, GeoPrecision, Incident, TimePrecision } from './incident.ts'
import { type IncidentFilter, searchIncidents } from './incident.service.ts'

/**
 * An incident as the world may see it. Built field by field from what may go out (never by removing fields
 * from the whole record, so a field added later stays inside until someone decides it may leave):
 * - the point is the generalised one (the smallest known admin area's representative point), or none;
 * - no restricted part, no people, no source descriptions (they may name people), no internal workflow;
 * - media only from observations whose people all agreed to the use.
 */
export interface OutwardIncident {
  id: string
  eventType: string
  subEventType: string
  actors: { name: string; interCode: number; associated: { name: string; interCode: number }[] }[]
  civilianTargeting: boolean
  occurredAt: number
  timePrecision: TimePrecision
  placeName: string
  admin1: string | null
  admin2: string | null
  location: { lat: number; lon: number } | null
  geoPrecision: GeoPrecision
  counts: Counts
  narrative: string
  languages: string[]
  sourceTypes: string[]
  media: string[]
  publishedAt: number | null
}

/**
 * The one function that turns incidents into what leaves Louder (public view now; partner exports and posts
 * later, each naming its use). `use` picks which consent counts.
 */
export async function outwardIncidents(repos: Repositories, incidents: Incident[], use: ConsentUse): Promise<OutwardIncident[]> {
  const backing = await repos.incidents.backingObservations(incidents.map((i) => i.id))
  const parties = new Map<string, Party | null>()
  const party = async (id: string) => {
    if (!parties.has(id)) parties.set(id, await repos.parties.byId(id))
    const p = parties.get(id)
    return { name: p?.name ?? '(unknown party)', interCode: p?.interCode ?? 8 }
  }
  const out: OutwardIncident[] = []
  for (const i of incidents) {
    const actors = []
    for (const a of i.actors) actors.push({ ...(await party(a.partyId)), associated: await Promise.all(a.associated.map(party)) })
    out.push({
      id: i.id,
      eventType: i.eventType,
      subEventType: i.subEventType,
      actors,
      civilianTargeting: i.civilianTargeting,
      occurredAt: i.occurredAt,
      timePrecision: i.timePrecision,
      placeName: i.placeName,
      admin1: i.admin1?.name ?? null,
      admin2: i.admin2?.name ?? null,
      location: i.publicPoint ? { lat: roundDegrees(i.publicPoint.lat), lon: roundDegrees(i.publicPoint.lon) } : null,
      geoPrecision: i.geoPrecision,
      counts: i.counts,
      narrative: i.narrative,
      languages: i.languages,
      sourceTypes: [...new Set(i.sources.map((s) => s.type))],
      media: consentedMedia(backing.get(i.id) ?? [], use),
      publishedAt: i.publishedAt,
    })
  }
  return out
}

/** Five decimals (about a metre): an area's point needs no more, and float noise (12.950000000000076) goes. */
function roundDegrees(value: number): number {
  return Math.round(value * 1e5) / 1e5
}

/** The media of the observations whose people all agreed to `use`, each once, in linking order. */
export function consentedMedia(observations: readonly BackingObservation[], use: ConsentUse): string[] {
  return [...new Set(observations.filter((o) => o.consent[use]).flatMap((o) => o.media))]
}

export type PublicFilter = Omit<IncidentFilter, 'statuses' | 'partyId' | 'timePrecision' | 'geoPrecision'>

/** Published incidents, newest first, as the public may see them. */
export async function listPublicIncidents(repos: Repositories, actor: Actor, filter: PublicFilter): Promise<Page<OutwardIncident>> {
  authorize(actor, 'public.incident.list')
  const page = await searchIncidents(repos, { ...filter, statuses: ['published'] })
  return { items: await outwardIncidents(repos, page.items, 'publication'), next: page.next }
}

/** One published incident; anything else is "not found", so the public cannot tell a draft exists. */
export async function getPublicIncident(repos: Repositories, actor: Actor, id: string): Promise<OutwardIncident> {
  authorize(actor, 'public.incident.list')
  const incident = await repos.incidents.byId(id)
  if (!incident || incident.status !== 'published') throwNotFound('published incident', id)
  return (await outwardIncidents(repos, [incident], 'publication'))[0]!
}
