import type { Actor } from '../access/actor.ts'
import { authorize } from '../access/policy.ts'
import { auditEntry, type AuditOrigin } from '../audit/audit.ts'
import { ConflictError, type FieldError, ForbiddenError, RuleError, throwNotFound, ValidationError } from '../errors.ts'
import { uuidv7 } from '../ids.ts'
import { toRfc3339 } from '../time.ts'
import { decodeCursor, type Page, timelinePage, timelinePosition, toPage } from '../pagination.ts'
import type { Repositories } from '../ports/repositories.ts'
import type { Sealer } from '../ports/sealer.ts'
import { locateAdminAreas } from '../register/areas.ts'
import { diffIncidents } from './history.ts'
import {
  type Incident,
  type IncidentInput,
  type IncidentPatch,
  type IncidentQuery,
  type IncidentRestricted,
  type IncidentStatus,
  type IncidentVersion,
  type LatLon,
  type GeoPrecision,
  type TimePrecision,
  type Victim,
} from './incident.ts'
import { checkActors, checkCounts, checkEventType, checkObservations, checkOccurredAt, throwIfErrors } from './incident-input.ts'
import { checkTransition, isEditable } from './workflow.ts'

/** How long an edit lock lasts unless renewed: long enough to code an incident, short enough that a forgotten one frees itself. */
export const LOCK_TTL_MS = 15 * 60_000

/** The context an incident's restricted part is sealed under: it opens only as this incident's. */
export const incidentRestrictedContext = (id: string) => `incidents.restricted:${id}`

/** The data key a write seals with: reserved (or, for an existing sealed part, loaded) before the transaction. */
export interface IncidentSealing {
  sealer: Sealer
  dataKeyId: string | null
}

/** Someone else's edit lock is current. */
export class LockedError extends ConflictError {
  readonly lock: { holder: string; expiresAt: number }
  constructor(lock: { holder: string; expiresAt: number }) {
    super('locked', `Another user (${lock.holder}) holds the edit lock on this incident until ${toRfc3339(lock.expiresAt)}; wait, or ask them to release it.`)
    this.lock = lock
    this.extensions = { lock: { holder: lock.holder, expiresAt: toRfc3339(lock.expiresAt) } }
  }
}

/** The edit was made on a version that is no longer current: `current` is what it is now. */
export class VersionConflictError extends ConflictError {
  readonly current: Incident
  constructor(given: number, current: Incident) {
    super('version_conflict', `The incident changed since version ${given}; it is now at version ${current.version}. Reload it (see \`current\`), reapply your change and send version ${current.version}.`)
    this.current = current
  }
}

/**
 * Before a write's transaction: reserves a data key when the write will seal something and the incident has
 * none yet, or opens the existing sealed part once so its key is cached for the re-seal inside the
 * transaction (on SQLite the transaction holds the only connection).
 */
export async function prepareIncidentSealing(repos: Repositories, sealer: Sealer, id: string | null, input: IncidentPatch): Promise<IncidentSealing> {
  const existing = id ? await repos.incidents.byId(id) : null
  if (existing?.sealed) {
    await sealer.open(existing.sealed.value, incidentRestrictedContext(existing.id))
    return { sealer, dataKeyId: existing.sealed.dataKeyId }
  }
  const sealsSomething = (input.sensitive ?? existing?.sensitive ?? false) || !!input.restricted?.notes || (input.restricted?.victims?.length ?? 0) > 0
  return { sealer, dataKeyId: sealsSomething ? await sealer.reserveDataKey() : null }
}

function cleanVictims(victims: Partial<Victim>[]): Victim[] {
  return victims.map((v) => ({ name: v.name ?? '', contact: v.contact ?? null, description: v.description ?? null }))
}

async function openRestricted(sealer: Sealer, incident: Incident): Promise<IncidentRestricted | null> {
  if (!incident.sealed) return null
  return JSON.parse((await sealer.open(incident.sealed.value, incidentRestrictedContext(incident.id))).toString('utf8')) as IncidentRestricted
}

/** Places the incident: exact point (sealed when sensitive), the point lists search by, admin areas, the public point. */
export async function place(repos: Repositories, exact: LatLon | null, sensitive: boolean): Promise<Pick<Incident, 'location' | 'searchPoint' | 'publicPoint' | 'admin1' | 'admin2'>> {
  if (!exact) return { location: null, searchPoint: null, publicPoint: null, admin1: null, admin2: null }
  const { admin1, admin2, generalised } = await locateAdminAreas(repos, exact)
  const publicPoint = generalised ? { lat: generalised.lat, lon: generalised.lon, areaPcode: generalised.areaPcode } : null
  return {
    location: sensitive ? null : exact,
    searchPoint: sensitive ? (publicPoint ? { lat: publicPoint.lat, lon: publicPoint.lon } : null) : exact,
    publicPoint,
    admin1: admin1 ? { pcode: admin1.pcode, name: admin1.name } : null,
    admin2: admin2 ? { pcode: admin2.pcode, name: admin2.name } : null,
  }
}

async function seal(sealing: IncidentSealing, id: string, content: IncidentRestricted): Promise<Incident['sealed']> {
  const empty = content.notes === null && content.victims.length === 0 && content.exactLocation === null
  if (empty && !sealing.dataKeyId) return null
  if (!sealing.dataKeyId) throw new Error('incident write: restricted content needs a data key prepared before the transaction')
  const value = await sealing.sealer.seal(JSON.stringify(content), incidentRestrictedContext(id), { dataKeyId: sealing.dataKeyId })
  return { value, dataKeyId: sealing.dataKeyId }
}

function userOf(actor: Actor): string {
  if (actor.kind !== 'user') throw new ValidationError([{ field: 'actor', message: 'incidents are coded by a person' }])
  return actor.userId
}

/** An editor codes a new incident, usually from one or more observations; it starts as `received`. */
export async function createIncident(repos: Repositories, actor: Actor, input: IncidentInput, sealing: IncidentSealing, now = Date.now()): Promise<Incident> {
  authorize(actor, 'incident.create')
  const userId = userOf(actor)
  const errors: FieldError[] = []
  checkEventType(input.eventType, input.subEventType, errors)
  checkOccurredAt(input.occurredAt, errors)
  checkCounts(input.counts ?? {}, errors)
  await checkActors(repos, input.actors, errors)
  const observationIds = [...new Set(input.observationIds ?? [])]
  await checkObservations(repos, observationIds, 'observationIds', errors)
  throwIfErrors(errors)
  const id = uuidv7(now)
  const sensitive = input.sensitive ?? false
  const exact = input.location ?? null
  const restricted: IncidentRestricted = {
    notes: input.restricted?.notes || null,
    victims: cleanVictims(input.restricted?.victims ?? []),
    exactLocation: sensitive ? exact : null,
  }
  const incident: Incident = {
    id,
    version: 1,
    status: 'received',
    statusReason: null,
    eventType: input.eventType,
    subEventType: input.subEventType,
    actors: input.actors,
    civilianTargeting: input.civilianTargeting ?? false,
    occurredAt: input.occurredAt,
    timePrecision: (input.timePrecision ?? 1) as TimePrecision,
    ...(await place(repos, exact, sensitive)),
    placeName: input.placeName,
    geoPrecision: (input.geoPrecision ?? 1) as GeoPrecision,
    sensitive,
    counts: input.counts ?? {},
    narrative: input.narrative,
    languages: input.languages ?? [],
    sources: input.sources ?? [],
    observationIds,
    sealed: await seal(sealing, id, restricted),
    createdBy: userId,
    createdAt: now,
    updatedBy: userId,
    updatedAt: now,
    verifiedBy: null,
    verifiedAt: null,
    publishedBy: null,
    publishedAt: null,
    lock: null,
  }
  await repos.incidents.insert(incident)
  await recordVersion(repos, 'created', null, incident, null, restricted, userId, now)
  return incident
}

async function recordVersion(
  repos: Repositories,
  action: IncidentVersion['action'],
  before: Incident | null,
  after: Incident,
  restrictedBefore: IncidentRestricted | null,
  restrictedAfter: IncidentRestricted | null,
  userId: string,
  now: number,
): Promise<void> {
  await repos.incidents.addVersion({ incidentId: after.id, version: after.version, action, changedBy: userId, changedAt: now, changes: diffIncidents(before, after, restrictedBefore, restrictedAfter) })
}

/** The incident `actor` may change now: it exists, nobody else holds a current lock, and `version` is current. */
async function editable(repos: Repositories, actor: Actor, id: string, version: number, now: number): Promise<Incident> {
  const incident = (await repos.incidents.byId(id)) ?? throwNotFound('incident', id)
  if (incident.lock && incident.lock.expiresAt > now && incident.lock.holder !== userOf(actor)) throw new LockedError(incident.lock)
  if (incident.version !== version) throw new VersionConflictError(version, incident)
  return incident
}

/** Writes the next version if nobody wrote in between (compare and set on the version), else 409 with what is current. */
async function save(repos: Repositories, next: Incident, expected: number): Promise<void> {
  if (!(await repos.incidents.update(next, expected))) throw new VersionConflictError(expected, (await repos.incidents.byId(next.id)) ?? throwNotFound('incident', next.id))
}

/**
 * Changes an incident's content. The edit names the version it was made on; a newer one means someone else
 * changed it meanwhile (409 with the current version). A published incident is retracted before it is
 * edited, and editing a verified one sends it back to review: what was verified is no longer what is there.
 */
export async function updateIncident(repos: Repositories, actor: Actor, id: string, version: number, patch: IncidentPatch, sealing: IncidentSealing, now = Date.now()): Promise<Incident> {
  authorize(actor, 'incident.update')
  const userId = userOf(actor)
  const before = await editable(repos, actor, id, version, now)
  if (!isEditable(before.status)) throw new RuleError('published_is_frozen', 'A published incident is not edited in place: retract it (with a reason), then edit it and publish it again.')
  const errors: FieldError[] = []
  const eventType = patch.eventType ?? before.eventType
  const subEventType = patch.subEventType ?? before.subEventType
  if (patch.eventType !== undefined || patch.subEventType !== undefined) checkEventType(eventType, subEventType, errors)
  if (patch.counts) checkCounts(patch.counts, errors)
  if (patch.occurredAt !== undefined) checkOccurredAt(patch.occurredAt, errors)
  if (patch.actors) await checkActors(repos, patch.actors, errors)
  throwIfErrors(errors)

  const restrictedBefore = await openRestricted(sealing.sealer, before)
  const sensitive = patch.sensitive ?? before.sensitive
  const exactBefore = before.sensitive ? (restrictedBefore?.exactLocation ?? null) : before.location
  const exact = patch.location !== undefined ? patch.location : exactBefore
  const restrictedAfter: IncidentRestricted = {
    notes: patch.restricted?.notes !== undefined ? patch.restricted.notes || null : (restrictedBefore?.notes ?? null),
    victims: patch.restricted?.victims !== undefined ? cleanVictims(patch.restricted.victims) : (restrictedBefore?.victims ?? []),
    exactLocation: sensitive ? exact : null,
  }
  const placed = patch.location !== undefined || patch.sensitive !== undefined ? await place(repos, exact, sensitive) : {}
  const reopened = before.status === 'verified'
  const next: Incident = {
    ...before,
    ...placed,
    version: before.version + 1,
    eventType,
    subEventType,
    actors: patch.actors ?? before.actors,
    civilianTargeting: patch.civilianTargeting ?? before.civilianTargeting,
    occurredAt: patch.occurredAt ?? before.occurredAt,
    timePrecision: (patch.timePrecision ?? before.timePrecision) as TimePrecision,
    placeName: patch.placeName ?? before.placeName,
    geoPrecision: (patch.geoPrecision ?? before.geoPrecision) as GeoPrecision,
    sensitive,
    counts: patch.counts ?? before.counts,
    narrative: patch.narrative ?? before.narrative,
    languages: patch.languages ?? before.languages,
    sources: patch.sources ?? before.sources,
    sealed: await seal(sealing, id, restrictedAfter),
    updatedBy: userId,
    updatedAt: now,
    ...(reopened ? { status: 'in_review' as const, verifiedBy: null, verifiedAt: null } : {}),
  }
  await save(repos, next, version)
  await recordVersion(repos, 'updated', before, next, restrictedBefore, restrictedAfter, userId, now)
  return next
}

export interface TransitionInput {
  to: IncidentStatus
  version: number
  reason?: string | null
}

/**
 * Moves an incident through review. Publishing takes a second person: whoever verified it cannot also
 * publish it. Rejection and retraction say why.
 */
export async function transitionIncident(repos: Repositories, actor: Actor, id: string, input: TransitionInput, now = Date.now()): Promise<Incident> {
  authorize(actor, input.to === 'published' || input.to === 'retracted' ? 'incident.publish' : 'incident.review')
  const userId = userOf(actor)
  const before = await editable(repos, actor, id, input.version, now)
  const reason = input.reason?.trim() || null
  checkTransition(before.status, input.to, reason)
  if (input.to === 'published' && before.verifiedBy === userId)
    throw new ForbiddenError('publish an incident you verified yourself', 'two_person_rule', 'Publishing takes a second person: another editor must publish it.')
  const next: Incident = {
    ...before,
    version: before.version + 1,
    status: input.to,
    statusReason: input.to === 'rejected' || input.to === 'retracted' ? reason : null,
    updatedBy: userId,
    updatedAt: now,
    ...(input.to === 'verified' ? { verifiedBy: userId, verifiedAt: now } : {}),
    ...(input.to === 'in_review' ? { verifiedBy: null, verifiedAt: null } : {}),
    ...(input.to === 'published' ? { publishedBy: userId, publishedAt: now } : {}),
  }
  await save(repos, next, input.version)
  await recordVersion(repos, 'transition', before, next, null, null, userId, now)
  return next
}

/** Links more observations to an incident (those already linked are kept); no version needed, links only add. */
export async function linkObservations(repos: Repositories, actor: Actor, id: string, observationIds: string[], now = Date.now()): Promise<Incident> {
  authorize(actor, 'incident.update')
  const userId = userOf(actor)
  const current = (await repos.incidents.byId(id)) ?? throwNotFound('incident', id)
  const before = await editable(repos, actor, id, current.version, now)
  if (!isEditable(before.status)) throw new RuleError('published_is_frozen', 'A published incident is not changed in place: retract it first.')
  const errors: FieldError[] = []
  await checkObservations(repos, observationIds, 'observationIds', errors)
  throwIfErrors(errors)
  const added = [...new Set(observationIds)].filter((o) => !before.observationIds.includes(o))
  if (added.length === 0) return before
  const next: Incident = { ...before, version: before.version + 1, observationIds: [...before.observationIds, ...added], updatedBy: userId, updatedAt: now }
  await save(repos, next, before.version)
  await repos.incidents.linkObservations(id, added)
  await recordVersion(repos, 'linked', before, next, null, null, userId, now)
  return next
}

/** Takes (or renews) the edit lock for LOCK_TTL_MS. Someone else's current lock: 409 saying whose and until when. */
export async function acquireLock(repos: Repositories, actor: Actor, id: string, now = Date.now()): Promise<{ holder: string; expiresAt: number }> {
  authorize(actor, 'incident.update')
  const userId = userOf(actor)
  const incident = (await repos.incidents.byId(id)) ?? throwNotFound('incident', id)
  if (incident.lock && incident.lock.expiresAt > now && incident.lock.holder !== userId) throw new LockedError(incident.lock)
  const lock = { holder: userId, expiresAt: now + LOCK_TTL_MS }
  // Compare and set on the lock seen, so two editors taking a free lock at once cannot both get it.
  if (!(await repos.incidents.setLock(id, lock, incident.lock))) {
    const now2 = (await repos.incidents.byId(id))?.lock
    throw new LockedError(now2 ?? lock)
  }
  return lock
}

/** Releases the lock: its holder, or an admin breaking a forgotten one. */
export async function releaseLock(repos: Repositories, actor: Actor, id: string, now = Date.now()): Promise<void> {
  authorize(actor, 'incident.update')
  const userId = userOf(actor)
  const incident = (await repos.incidents.byId(id)) ?? throwNotFound('incident', id)
  if (!incident.lock) return
  const isAdmin = actor.kind === 'user' && actor.roles.includes('admin')
  if (incident.lock.holder !== userId && incident.lock.expiresAt > now && !isAdmin)
    throw new ForbiddenError("release someone else's edit lock", 'forbidden', 'Only its holder or an admin can; it also expires by itself.')
  await repos.incidents.setLock(id, null, incident.lock)
}

export const MAX_COMMENT = 20_000

export async function addComment(repos: Repositories, actor: Actor, id: string, body: string, now = Date.now()) {
  authorize(actor, 'incident.comment')
  const userId = userOf(actor)
  ;(await repos.incidents.byId(id)) ?? throwNotFound('incident', id)
  if (!body.trim()) throw new ValidationError([{ field: 'body', message: 'must not be empty' }])
  const comment = { id: uuidv7(now), incidentId: id, authorId: userId, body, createdAt: now }
  await repos.incidents.addComment(comment)
  return comment
}

export async function listComments(repos: Repositories, actor: Actor, id: string, limit: number, cursor?: string) {
  authorize(actor, 'incident.list')
  ;(await repos.incidents.byId(id)) ?? throwNotFound('incident', id)
  const after = cursor ? (decodeCursor(cursor, ['string'])[0] as string) : undefined
  return toPage(await repos.incidents.comments(id, { limit, after }), limit, (c) => [c.id])
}

export async function listHistory(repos: Repositories, actor: Actor, id: string, limit: number, cursor?: string): Promise<Page<IncidentVersion>> {
  authorize(actor, 'incident.list')
  ;(await repos.incidents.byId(id)) ?? throwNotFound('incident', id)
  const before = cursor ? (decodeCursor(cursor, ['number'])[0] as number) : undefined
  return toPage(await repos.incidents.versions(id, { limit, before }), limit, (v) => [v.version])
}

/** Who reads an incident's restricted part: legal, and the editor who coded it. Every read is audited first. */
export async function readIncidentRestricted(repos: Repositories, sealer: Sealer, actor: Actor, id: string, origin: AuditOrigin): Promise<IncidentRestricted> {
  authorize(actor, 'incident.restricted.read')
  const incident = (await repos.incidents.byId(id)) ?? throwNotFound('incident', id)
  const allowed = actor.kind === 'user' && (actor.roles.includes('legal') || incident.createdBy === actor.userId)
  if (!allowed) throw new ForbiddenError('read the restricted part of an incident someone else coded')
  await repos.audit.append(auditEntry(actor, 'incident.restricted.read', 'ok', origin, { status: 200, resourceType: 'incident', resourceId: id, detail: { present: !!incident.sealed } }))
  return (await openRestricted(sealer, incident)) ?? { notes: null, victims: [], exactLocation: null }
}

/** The register's filters as the edge gives them: a query, with a cursor instead of a keyset position. */
export type IncidentFilter = Omit<IncidentQuery, 'after'> & { cursor?: string }

export const MAX_SEARCH_TEXT = 200

/** The register's list: newest first, by place, time, event type, party, status, precision and words. */
export async function listIncidents(repos: Repositories, actor: Actor, filter: IncidentFilter): Promise<Page<Incident>> {
  authorize(actor, 'incident.list')
  return searchIncidents(repos, filter)
}

/** The search itself, for the register and the public view (which forces `statuses: ['published']`). */
export async function searchIncidents(repos: Repositories, filter: IncidentFilter): Promise<Page<Incident>> {
  const after = timelinePosition(filter)
  const { cursor: _cursor, ...query } = filter
  const text = filter.text?.trim()
  if (text !== undefined && text.length > MAX_SEARCH_TEXT) throw new ValidationError([{ field: '/querystring/q', message: `search at most ${MAX_SEARCH_TEXT} characters` }])
  return timelinePage(await repos.incidents.list({ ...query, text: text || undefined, after }), filter.limit)
}

export async function getIncident(repos: Repositories, actor: Actor, id: string): Promise<Incident> {
  authorize(actor, 'incident.list')
  return (await repos.incidents.byId(id)) ?? throwNotFound('incident', id)
}
