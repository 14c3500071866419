import { type Actor } from '../access/actor.ts'
import { authorize } from '../access/policy.ts'
import { ValidationError } from '../errors.ts'
import { uuidv7 } from '../ids.ts'
import { decodeCursor, type Page, toPage } from '../pagination.ts'
import type { Repositories } from '../ports/repositories.ts'
import type { BBox, NewObservation, Observation } from './observation.ts'

export async function createObservation(repos: Repositories, actor: Actor, input: NewObservation): Promise<Observation> {
  authorize(actor, 'observation.create')
  if (actor.kind !== 'user') throw new ValidationError([{ field: 'actor', message: 'observations are recorded by a person' }])
  const now = Date.now()
  const observation: Observation = { id: uuidv7(now), ...input, createdBy: actor.userId, createdAt: now, updatedAt: now }
  await repos.observations.insert(observation)
  return observation
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
