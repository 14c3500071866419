import { createHash } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { canonicalJson } from '../core/canonical-json.ts'
import { actorKey } from '../core/access/actor.ts'
import type { Repositories, Store } from '../core/ports/repositories.ts'
import { IdempotencyInFlightError, IdempotencyKeyReusedError } from './problem.ts'

/** Requests holding a key in this process right now; a second one with the same key gets 409. */
const inFlight = new Set<string>()

export interface IdempotencyDeps {
  store: Store
  isUniqueViolation(err: unknown): boolean
}

/**
 * Runs a write with IETF Idempotency-Key semantics. The stored response is saved in the same transaction
 * as the write, so a crash leaves both or neither: a retry after an acknowledged write replays the first
 * answer instead of writing twice, and a retry after a lost one writes once.
 * Same key + same request → the stored response (header `Idempotent-Replayed: true`); same key + a
 * different request → 422; the same key while the first is still running → 409.
 * `write` returns the presented response body, which is what gets stored and replayed.
 * Without the header the write simply runs in a transaction.
 */
export async function idempotentWrite<T>(
  deps: IdempotencyDeps,
  req: FastifyRequest,
  reply: FastifyReply,
  status: number,
  write: (repos: Repositories) => Promise<T>,
): Promise<T> {
  const key = req.headers['idempotency-key']
  reply.code(status)
  if (typeof key !== 'string') return deps.store.transaction(write)

  const scope = actorKey(req.actor)
  const requestHash = createHash('sha256')
    .update(`${req.method} ${req.routeOptions.url ?? req.url}\n${canonicalJson(req.params ?? {})}\n${canonicalJson(req.body ?? null)}`)
    .digest('hex')
  const slot = `${scope}\u0000${key}`

  const replay = async (): Promise<T | undefined> => {
    const stored = await deps.store.repos.idempotency.find(scope, key)
    if (!stored) return undefined
    if (stored.requestHash !== requestHash) throw new IdempotencyKeyReusedError()
    reply.code(stored.statusCode).header('idempotent-replayed', 'true')
    return JSON.parse(stored.body) as T
  }

  const earlier = await replay()
  if (earlier !== undefined) return earlier
  if (inFlight.has(slot)) throw new IdempotencyInFlightError()
  inFlight.add(slot)
  try {
    return await deps.store.transaction(async (repos) => {
      const result = await write(repos)
      await repos.idempotency.save(scope, key, { requestHash, statusCode: status, body: JSON.stringify(result) }, Date.now())
      return result
    })
  } catch (err) {
    // Another process (PostgreSQL) committed the same key first: answer as it did.
    if (deps.isUniqueViolation(err)) {
      const first = await replay()
      if (first !== undefined) return first
    }
    throw err
  } finally {
    inFlight.delete(slot)
  }
}
