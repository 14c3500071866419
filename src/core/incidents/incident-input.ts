import { type FieldError, ValidationError } from '../errors.ts'
import type { Repositories } from '../ports/repositories.ts'
import { isEventType, isSubEventOf, EVENT_TYPES } from '../register/acled.ts'
import { COUNT_KINDS, type Counts, type IncidentActor } from './incident.ts'

export const MAX_ACTORS = 20
export const MAX_ASSOCIATED = 20
export const MAX_LINKED_OBSERVATIONS = 500

/** ACLED's event type and sub-type, as a pair that belongs together. */
export function checkEventType(eventType: string, subEventType: string, errors: FieldError[]): void {
  if (!isEventType(eventType)) errors.push({ field: 'eventType', message: `must be one of ACLED's event types: ${Object.keys(EVENT_TYPES).join(', ')}` })
  else if (!isSubEventOf(eventType, subEventType))
    errors.push({ field: 'subEventType', message: `is not a sub-event type of ${eventType}; it has: ${EVENT_TYPES[eventType].join(', ')}` })
}

export const EARLIEST_INCIDENT = Date.UTC(1900, 0, 1)
export const LATEST_INCIDENT = Date.UTC(2200, 0, 1)

/** The register holds incidents from 1900 to 2200: wide for any archive, and what its time-ordered search keys cover. */
export function checkOccurredAt(occurredAt: number, errors: FieldError[]): void {
  if (!(occurredAt >= EARLIEST_INCIDENT && occurredAt < LATEST_INCIDENT)) errors.push({ field: 'occurredAt', message: 'must be between 1900-01-01 and 2199-12-31' })
}

/** Ranges must hold: min ≤ max where max is known. */
export function checkCounts(counts: Counts, errors: FieldError[]): void {
  for (const kind of COUNT_KINDS) {
    const range = counts[kind]
    if (range && range.max !== null && range.max < range.min) errors.push({ field: `counts/${kind}`, message: `max (${range.max}) is below min (${range.min})` })
  }
}

/**
 * Actors are parties of the thesaurus, never free text: each must exist and be in use (not archived), and a
 * party acts once per incident, either as an actor or as a group associated with one.
 */
export async function checkActors(repos: Repositories, actors: IncidentActor[], errors: FieldError[]): Promise<void> {
  if (actors.length === 0) errors.push({ field: 'actors', message: 'name at least one party' })
  const seen = new Set<string>()
  const ids: { id: string; field: string }[] = []
  actors.forEach((a, i) => {
    ids.push({ id: a.partyId, field: `actors/${i}/partyId` })
    a.associated.forEach((id, j) => ids.push({ id, field: `actors/${i}/associated/${j}` }))
  })
  for (const { id, field } of ids) {
    if (seen.has(id)) {
      errors.push({ field, message: 'this party is already named in the incident' })
      continue
    }
    seen.add(id)
    const party = await repos.parties.byId(id)
    if (!party) errors.push({ field, message: `no party with id ${id}; add it to the parties first` })
    else if (party.archivedAt !== null) errors.push({ field, message: `party "${party.name}" is archived` })
  }
}

/** Observations linked to an incident must exist. */
export async function checkObservations(repos: Repositories, ids: string[], field: string, errors: FieldError[]): Promise<void> {
  if (ids.length > MAX_LINKED_OBSERVATIONS) {
    errors.push({ field, message: `link at most ${MAX_LINKED_OBSERVATIONS} observations at once` })
    return
  }
  for (const [i, id] of ids.entries()) if (!(await repos.observations.byId(id))) errors.push({ field: `${field}/${i}`, message: `no observation with id ${id}` })
}

export function throwIfErrors(errors: FieldError[]): void {
  if (errors.length) throw new ValidationError(errors)
}
