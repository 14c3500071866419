import { createHash } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { canonicalJson } from '../core/canonical-json.ts'
import { ConflictError } from '../core/errors.ts'
import { actorKey } from '../core/access/actor.ts'
import type { Repositories, Store } from '../core/ports/repositories.ts'
import type { Sealer } from '../core/ports/sealer.ts'
import { auditWrite } from './audit.ts'
import { IdempotencyInFlightError, IdempotencyKeyReusedError } from './problem.ts'

/**
 * Use cases check uniqueness (an email, an organisation's name) before they insert, but on PostgreSQL two
 * concurrent requests can both pass the check; the database's unique index stops the second, which is a
 * conflict to retry, not a server error.
 */
function uniqueRace(): ConflictError {
  return new ConflictError('already_exists', 'Another request wrote the same thing at the same moment; reload and try again.')
}

/** Marks a stored response that was sealed because it carries a secret. */
const SEALED = 'sealed:'

/** Requests holding a key in this process right now; a second one with the same key gets 409. */
const inFlight = new Set<string>()

export interface IdempotencyDeps {
  store: Store
  isUniqueViolation(err: unknown): boolean
  /** Seals stored responses that carry a secret (a generated password, a new token). */
  sealer: Sealer
}

/**
 * Runs a write, and its audit record, in one transaction, with IETF Idempotency-Key semantics. The stored response is saved in the same transaction
 * as the write, so a crash leaves both or neither: a retry after an acknowledged write replays the first
 * answer instead of writing twice, and a retry after a lost one writes once.
 * Same key + same request → the stored response (header `Idempotent-Replayed: true`); same key + a
 * different request → 422; the same key while the first is still running → 409.
 * `write` returns the presented response body, which is what gets stored and replayed.
 * `secretResponse` seals the stored copy (generated passwords, new tokens): a database dump must not show them.
 * `secretRequest` (implied by `secretResponse`) seals the stored request fingerprint, for bodies that carry a password.
 * Without the header the write simply runs in a transaction.
 */
export async function idempotentWrite<T>(
  deps: IdempotencyDeps,
  req: FastifyRequest,
  reply: FastifyReply,
  status: number,
  write: (repos: Repositories) => Promise<T>,
  options: { secretResponse?: boolean; secretRequest?: boolean } = {},
): Promise<T> {
  const key = req.headers['idempotency-key']
  reply.code(status)
  if (typeof key !== 'string') {
    try {
      return await deps.store.transaction(async (repos) => {
        const result = await write(repos)
        await auditWrite(repos, req, status, result)
        return result
      })
    } catch (err) {
      if (deps.isUniqueViolation(err)) throw uniqueRace()
      throw err
    }
  }

  const scope = actorKey(req.actor)
  const requestHash = createHash('sha256')
    .update(`${req.method} ${req.routeOptions.url ?? req.url}\n${canonicalJson(req.params ?? {})}\n${canonicalJson(req.body ?? null)}`)
    .digest('hex')
  const slot = `${scope}\u0000${key}`
  const sealContext = `idempotency_keys:${scope}:${key}`

  const replay = async (): Promise<T | undefined> => {
    const stored = await deps.store.repos.idempotency.find(scope, key)
    if (!stored) return undefined
    const storedHash = stored.requestHash.startsWith(SEALED) ? (await deps.sealer.open(stored.requestHash.slice(SEALED.length), `${sealContext}:request`)).toString('utf8') : stored.requestHash
    if (storedHash !== requestHash) throw new IdempotencyKeyReusedError()
    reply.code(stored.statusCode).header('idempotent-replayed', 'true')
    req.auditExtra = { ...req.auditExtra, detail: { replayed: true } }
    const body = stored.body.startsWith(SEALED) ? (await deps.sealer.open(stored.body.slice(SEALED.length), sealContext)).toString('utf8') : stored.body
    return JSON.parse(body) as T
  }

  const earlier = await replay()
  if (earlier !== undefined) return earlier
  if (inFlight.has(slot)) throw new IdempotencyInFlightError()
  inFlight.add(slot)
  try {
    // A secret is stored sealed, with a data key made before the transaction takes the lock. That goes for the
    // request's fingerprint too: it is a fast hash of the body, whose other fields (email, name, roles) are
    // in the users table, so a password in it could be guessed from a dump at SHA-256 speed, past argon2.
    const dataKeyId = options.secretResponse || options.secretRequest ? await deps.sealer.reserveDataKey() : null
    return await deps.store.transaction(async (repos) => {
      const result = await write(repos)
      await auditWrite(repos, req, status, result)
      const json = JSON.stringify(result)
      const body = dataKeyId ? SEALED + (await deps.sealer.seal(json, sealContext, { dataKeyId })) : json
      const storedHash = dataKeyId ? SEALED + (await deps.sealer.seal(requestHash, `${sealContext}:request`, { dataKeyId })) : requestHash
      await repos.idempotency.save(scope, key, { requestHash: storedHash, statusCode: status, body }, Date.now())
      return result
    })
  } catch (err) {
    // Another process (PostgreSQL) committed the same key first: answer as it did.
    if (deps.isUniqueViolation(err)) {
      const first = await replay()
      if (first !== undefined) return first
      throw uniqueRace()
    }
    throw err
  } finally {
    inFlight.delete(slot)
  }
}
