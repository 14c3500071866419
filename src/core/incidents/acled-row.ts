import { interactionCode, type InterCode } from '../register/acled.ts'
import type { OutwardIncident } from './public-view.ts'

/** ACLED's public event-file columns, in its order (its codebook; test/fixtures/acled/README.md). */
export const ACLED_COLUMNS = [
  'event_id_cnty', 'event_date', 'year', 'time_precision', 'disorder_type', 'event_type', 'sub_event_type', 'actor1',
  'assoc_actor_1', 'inter1', 'actor2', 'assoc_actor_2', 'inter2', 'interaction', 'civilian_targeting', 'iso', 'region',
  'country', 'admin1', 'admin2', 'admin3', 'location', 'latitude', 'longitude', 'geo_precision', 'source', 'source_scale',
  'notes', 'fatalities', 'tags', 'timestamp',
] as const

/** ACLED's disorder type of an event: demonstrations, political violence (mob violence is both), or strategic developments. */
function disorderType(eventType: string, subEventType: string): string {
  if (eventType === 'Protests') return 'Demonstrations'
  if (eventType === 'Riots') return subEventType === 'Mob violence' ? 'Political violence; Demonstrations' : 'Demonstrations'
  if (eventType === 'Strategic developments') return 'Strategic developments'
  return 'Political violence'
}

/**
 * One incident as a row of ACLED's event file, from its outward form (so generalised coordinates and no
 * restricted field, whatever the caller). ACLED has two actor slots: the first actor and its associated groups
 * fill actor1; the second fills actor2, and any further actors join assoc_actor_2 so none is lost.
 * Fatalities are ACLED's conservative estimate: the lower bound of the killed range, 0 when unknown. Country
 * and region are not recorded per incident yet and stay empty.
 */
export function acledRow(i: OutwardIncident): (string | number)[] {
  const [first, second, ...more] = i.actors
  const names = (list: { name: string }[]) => list.map((p) => p.name).join('; ')
  const date = new Date(i.occurredAt).toISOString().slice(0, 10)
  const inter1 = first ? (first.interCode as InterCode) : null
  const inter2 = second ? (second.interCode as InterCode) : null
  const row: Record<(typeof ACLED_COLUMNS)[number], string | number> = {
    event_id_cnty: i.id,
    event_date: date,
    year: Number(date.slice(0, 4)),
    time_precision: i.timePrecision,
    disorder_type: disorderType(i.eventType, i.subEventType),
    event_type: i.eventType,
    sub_event_type: i.subEventType,
    actor1: first?.name ?? '',
    assoc_actor_1: first ? names(first.associated) : '',
    inter1: inter1 ?? '',
    actor2: second?.name ?? '',
    assoc_actor_2: [...(second ? second.associated : []), ...more, ...more.flatMap((a) => a.associated)].map((p) => p.name).join('; '),
    inter2: inter2 ?? '',
    interaction: inter1 === null ? '' : interactionCode(inter1, inter2),
    civilian_targeting: i.civilianTargeting ? 'Civilian targeting' : '',
    iso: '',
    region: '',
    country: '',
    admin1: i.admin1 ?? '',
    admin2: i.admin2 ?? '',
    admin3: '',
    location: i.placeName,
    latitude: i.location?.lat ?? '',
    longitude: i.location?.lon ?? '',
    geo_precision: i.geoPrecision,
    source: i.sourceTypes.join('; '),
    source_scale: '',
    notes: i.narrative,
    fatalities: i.counts.killed?.min ?? 0,
    tags: '',
    timestamp: Math.floor((i.publishedAt ?? i.occurredAt) / 1000),
  }
  return ACLED_COLUMNS.map((c) => row[c])
}
