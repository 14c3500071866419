import type { Incident, IncidentRestricted } from './incident.ts'

/** The fields of an incident a reviewer compares between versions, as plain JSON values. */
const TRACKED = [
  'status',
  'statusReason',
  'eventType',
  'subEventType',
  'actors',
  'civilianTargeting',
  'occurredAt',
  'timePrecision',
  'location',
  'placeName',
  'admin1',
  'admin2',
  'geoPrecision',
  'sensitive',
  'counts',
  'narrative',
  'languages',
  'sources',
  'observationIds',
] as const satisfies readonly (keyof Incident)[]

/** What a history entry shows for a restricted value: that it changed, never what it was or became. */
export const HIDDEN = '(restricted)'

/**
 * The changes between two versions, field by field: [before, after] for open fields; for the restricted
 * part (notes, victims, a sensitive incident's exact point) only which of them changed, with both values
 * hidden, so that the history never becomes a clear copy of what is sealed.
 */
export function diffIncidents(before: Incident | null, after: Incident, restrictedBefore: IncidentRestricted | null, restrictedAfter: IncidentRestricted | null): Record<string, [unknown, unknown]> {
  const changes: Record<string, [unknown, unknown]> = {}
  for (const field of TRACKED) {
    const a = before ? before[field] : null
    const b = after[field]
    if (JSON.stringify(a) !== JSON.stringify(b)) changes[field] = [a ?? null, b ?? null]
  }
  const ra = restrictedBefore ?? { notes: null, victims: [], exactLocation: null }
  const rb = restrictedAfter ?? { notes: null, victims: [], exactLocation: null }
  for (const field of ['notes', 'victims', 'exactLocation'] as const)
    if (JSON.stringify(ra[field]) !== JSON.stringify(rb[field])) changes[`restricted.${field}`] = [HIDDEN, HIDDEN]
  return changes
}
