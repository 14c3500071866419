import { type Actor } from '../access/actor.ts'
import { authorize } from '../access/policy.ts'
import { auditEntry, type AuditOrigin } from '../audit/audit.ts'
import { ForbiddenError, NotFoundError, RuleError, throwNotFound, ValidationError } from '../errors.ts'
import { uuidv7 } from '../ids.ts'
import { EVENT_TYPE_NAMES, isEventType } from '../register/acled.ts'
import { type Page, timelinePage, timelinePosition } from '../pagination.ts'
import type { Repositories } from '../ports/repositories.ts'
import type { Sealer } from '../ports/sealer.ts'
import { type BBox, type Consent, type NewObservation, type Observation, type RestrictedContent, summariseConsent } from './observation.ts'

/** How the restricted part is sealed inside the write's transaction: with a data key reserved before it. */
export interface RestrictedSealing {
  sealer: Sealer
  dataKeyId: string
}

/** The context a restricted part is sealed under: it opens only as this observation's. */
export const restrictedContext = (id: string) => `observations.restricted:${id}`

/** True when the input carries anything to seal (so a data key must be reserved before the transaction). */
export function hasRestrictedInput(input: NewObservation): boolean {
  const r = input.restricted
  return !!r && ((r.notes !== undefined && r.notes !== null && r.notes !== '') || (r.witnesses?.length ?? 0) > 0)
}

/**
 * Records an observation. Its restricted part (notes, witnesses, their consent) is sealed as one value with
 * a data key of its own, reserved by the caller before the transaction (`sealing`); consent is stamped with
 * who recorded it and when.
 */
export async function createObservation(repos: Repositories, actor: Actor, input: NewObservation, sealing: RestrictedSealing | null = null): Promise<Observation> {
  authorize(actor, 'observation.create')
  if (actor.kind !== 'user') throw new ValidationError([{ field: 'actor', message: 'observations are recorded by a person' }])
  if (input.eventType != null && !isEventType(input.eventType)) throw new ValidationError([{ field: 'eventType', message: `must be one of ACLED's event types: ${EVENT_TYPE_NAMES.join(', ')}` }])
  const now = Date.now()
  const id = uuidv7(now)
  let sealed: Observation['sealed'] = null
  let consentSummary = summariseConsent([])
  if (hasRestrictedInput(input)) {
    if (!sealing) throw new Error('createObservation: restricted content needs a data key reserved before the transaction')
    const content: RestrictedContent = {
      notes: input.restricted?.notes || null,
      witnesses: (input.restricted?.witnesses ?? []).map((w) => ({
        name: w.name,
        contact: w.contact ?? null,
        role: w.role,
        consent: w.consent ? { publication: w.consent.publication, partners: w.consent.partners, court: w.consent.court, recordedAt: now, recordedBy: actor.userId } : null,
      })),
    }
    const value = await sealing.sealer.seal(JSON.stringify(content), restrictedContext(id), { dataKeyId: sealing.dataKeyId })
    sealed = { value, dataKeyId: sealing.dataKeyId }
    consentSummary = summariseConsent(content.witnesses)
  }
  const observation: Observation = {
    id,
    narrative: input.narrative,
    occurredAt: input.occurredAt,
    location: input.location,
    createdBy: actor.userId,
    createdAt: now,
    updatedAt: now,
    sources: input.sources ?? [],
    urgent: input.urgent ?? false,
    language: input.language ?? null,
    media: input.media ?? [],
    sealed,
    consentSummary,
    title: input.title ?? null,
    eventType: input.eventType ?? null,
    parties: input.parties ?? [],
  }
  await repos.observations.insert(observation)
  return observation
}

/**
 * Who reads an observation's restricted part: legal, whose work it is, and the researcher who recorded it,
 * who collected these identities and must be able to go back to the people named. Nobody else: editors
 * review and publish without identities, admins run the platform, partners see only what is shared. The
 * policy lets both roles take the action; the author rule is checked here, with the record in hand.
 */
export function mayReadRestricted(actor: Actor, observation: Observation): boolean {
  if (actor.kind !== 'user') return false
  return actor.roles.includes('legal') || (actor.roles.includes('researcher') && observation.createdBy === actor.userId)
}

/**
 * Opens an observation's restricted part for someone allowed to read it, after recording the read (with
 * the reason given) in the audit log: no record, no plaintext. Refusals are recorded by the HTTP layer's
 * audit hook, as every refused call is.
 */
export async function readRestricted(repos: Repositories, sealer: Sealer, actor: Actor, id: string, origin: AuditOrigin): Promise<RestrictedContent> {
  authorize(actor, 'observation.restricted.read')
  const observation = (await repos.observations.byId(id)) ?? throwNotFound('observation', id)
  if (!mayReadRestricted(actor, observation)) throw new ForbiddenError('read the restricted part of an observation someone else recorded')
  await repos.audit.append(
    auditEntry(actor, 'observation.restricted.read', 'ok', origin, {
      status: 200,
      resourceType: 'observation',
      resourceId: id,
      detail: { present: !!observation.sealed },
    }),
  )
  if (!observation.sealed) return { notes: null, witnesses: [] }
  return JSON.parse((await sealer.open(observation.sealed.value, restrictedContext(id))).toString('utf8')) as RestrictedContent
}

export type ConsentUse = 'publication' | 'partners' | 'court'
export const CONSENT_USES = ['publication', 'partners', 'court'] as const satisfies readonly ConsentUse[]
export type ConsentChange = Partial<Record<ConsentUse, boolean>>

/** The observation whose restricted part `actor` may change, or the reason why not (404, 403, 409). */
async function consentTarget(repos: Repositories, actor: Actor, id: string): Promise<Observation & { sealed: NonNullable<Observation['sealed']> }> {
  authorize(actor, 'observation.consent.update')
  const observation = (await repos.observations.byId(id)) ?? throwNotFound('observation', id)
  if (!mayReadRestricted(actor, observation)) throw new ForbiddenError('change consent on an observation someone else recorded')
  if (!observation.sealed) throw new RuleError('no_restricted_part', 'This observation has no restricted part, so no witness consent to change.')
  return observation as Observation & { sealed: NonNullable<Observation['sealed']> }
}

/**
 * Before the transaction: checks who may change consent on this observation, and opens its restricted part
 * once, which loads its data key into the sealer's cache, so that the re-seal inside the transaction needs
 * no database access of its own (on SQLite the transaction holds the only connection).
 */
export async function prepareConsentUpdate(repos: Repositories, sealer: Sealer, actor: Actor, id: string): Promise<void> {
  const observation = await consentTarget(repos, actor, id)
  await sealer.open(observation.sealed.value, restrictedContext(id))
}

/**
 * Records a change to the uses one witness agreed to (by position in the witness list), stamped with who
 * recorded it and when, and re-seals the restricted part with the observation's own data key. Returns the
 * uses that changed (never names), for the audit record. Authorship is checked again with the row in hand.
 */
export async function updateWitnessConsent(
  repos: Repositories,
  sealer: Sealer,
  actor: Actor,
  id: string,
  index: number,
  change: ConsentChange,
): Promise<{ consent: Consent; changed: ConsentUse[] }> {
  const given = CONSENT_USES.filter((u) => change[u] !== undefined)
  if (given.length === 0) throw new ValidationError([{ field: '/body', message: 'name at least one of publication, partners, court' }])
  const observation = await consentTarget(repos, actor, id)
  if (actor.kind !== 'user') throw new ForbiddenError('change consent')
  const content = JSON.parse((await sealer.open(observation.sealed.value, restrictedContext(id))).toString('utf8')) as RestrictedContent
  const witness = content.witnesses[index]
  if (!witness) throw new NotFoundError('witness', `${index} on observation ${id}`)
  // No consent on record means none given: every use starts refused.
  const before = witness.consent ?? { publication: false, partners: false, court: false }
  const now = Date.now()
  const consent: Consent = {
    publication: change.publication ?? before.publication,
    partners: change.partners ?? before.partners,
    court: change.court ?? before.court,
    recordedAt: now,
    recordedBy: actor.userId,
  }
  const changed = CONSENT_USES.filter((u) => witness.consent === null || consent[u] !== before[u])
  witness.consent = consent
  const dataKeyId = observation.sealed.dataKeyId
  const value = await sealer.seal(JSON.stringify(content), restrictedContext(id), { dataKeyId })
  if (!(await repos.observations.updateSealed(id, { value, dataKeyId }, summariseConsent(content.witnesses), now))) throwNotFound('observation', id)
  return { consent, changed }
}

export interface ObservationFilter {
  bbox?: BBox
  from?: number
  to?: number
  limit: number
  cursor?: string
}

export async function listObservations(repos: Repositories, actor: Actor, filter: ObservationFilter): Promise<Page<Observation>> {
  authorize(actor, 'observation.list')
  const after = timelinePosition(filter)
  const rows = await repos.observations.list({ bbox: filter.bbox, from: filter.from, to: filter.to, limit: filter.limit, after })
  return timelinePage(rows, filter.limit)
}
