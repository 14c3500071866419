import { type Actor } from '../access/actor.ts'
import { authorize } from '../access/policy.ts'
import { auditEntry, type AuditOrigin } from '../audit/audit.ts'
import { ForbiddenError, throwNotFound, ValidationError } from '../errors.ts'
import { uuidv7 } from '../ids.ts'
import { decodeCursor, type Page, toPage } from '../pagination.ts'
import type { Repositories } from '../ports/repositories.ts'
import type { Sealer } from '../ports/sealer.ts'
import type { BBox, NewObservation, Observation, RestrictedContent } from './observation.ts'

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
  const now = Date.now()
  const id = uuidv7(now)
  let sealed: Observation['sealed'] = null
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

export interface ObservationFilter {
  bbox?: BBox
  from?: number
  to?: number
  limit: number
  cursor?: string
}

export async function listObservations(repos: Repositories, actor: Actor, filter: ObservationFilter): Promise<Page<Observation>> {
  authorize(actor, 'observation.list')
  if (filter.from !== undefined && filter.to !== undefined && filter.from > filter.to)
    throw new ValidationError([{ field: '/querystring/from', message: 'must not be after `to`' }])
  const after = filter.cursor ? decodeCursor(filter.cursor, ['number', 'string']) : undefined
  const rows = await repos.observations.list({
    bbox: filter.bbox,
    from: filter.from,
    to: filter.to,
    limit: filter.limit,
    after: after ? { occurredAt: after[0] as number, id: after[1] as string } : undefined,
  })
  return toPage(rows, filter.limit, (o) => [o.occurredAt, o.id])
}
