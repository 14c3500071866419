import { createHash } from 'node:crypto'
import { actorKey, type Actor } from '../access/actor.ts'
import { type Action, authorize } from '../access/policy.ts'
import { auditEntry, type AuditOrigin } from '../audit/audit.ts'
import { canonicalJson } from '../canonical-json.ts'
import { ConflictError, LouderError } from '../errors.ts'
import type { Repositories, Store } from '../ports/repositories.ts'
import type { Sealer } from '../ports/sealer.ts'

/**
 * `POST /sync/batch`: the small things a field device sends over a thin, expensive link (observations, signed
 * capture records, device registration requests), many to a request. Each item is its own write, in its own
 * transaction, with its own idempotency key, and gets its own answer: a link that drops mid-batch leaves every
 * item written or not, never half, and the retry replays what was acknowledged instead of writing it twice.
 */
export const SYNC_KINDS = ['observation', 'capture', 'device'] as const
export type SyncKind = (typeof SYNC_KINDS)[number]
export const MAX_SYNC_ITEMS = 200

/** The policy action each kind is the batch form of: a caller may batch only what it may do one by one. */
export const SYNC_ACTIONS: Record<SyncKind, Action> = { observation: 'observation.create', capture: 'capture.register', device: 'device.request' }

export interface SyncItem {
  kind: string
  idempotencyKey: string
  body: unknown
}

/** One item checked and made ready outside any transaction (data keys reserved, the answer's status decided). */
export interface PreparedItem {
  status: number
  /** The body carries secrets (witness names): the stored fingerprint of the request is sealed. */
  secretRequest: boolean
  write(repos: Repositories): Promise<{ body: unknown; resourceId: string | null }>
}

/** How each kind is checked and written; the edge supplies it (it owns the schemas and the presentation). */
export type SyncHandlers = Record<SyncKind, (body: unknown, index: number) => Promise<PreparedItem>>

export type SyncItemResult =
  | { index: number; kind: string; idempotencyKey: string; status: number; body: unknown; replayed: boolean }
  | { index: number; kind: string; idempotencyKey: string; error: unknown }

export interface SyncBatchDeps {
  store: Store
  sealer: Sealer
  isUniqueViolation(err: unknown): boolean
}

export class UnknownSyncKindError extends LouderError {
  constructor(kind: string) {
    super('unknown_kind', `Unknown item kind ${JSON.stringify(kind.slice(0, 50))}; this server takes ${SYNC_KINDS.join(', ')}.`)
  }
}

/** The same key (for this caller and kind) came back with a different body. */
export class SyncKeyReusedError extends LouderError {
  constructor() {
    super('idempotency_key_reused', 'This idempotency key was already used for a different item of this kind; use a new key for a new item.')
  }
}

/** An item with the same key is being written by another request in this process right now. */
export class SyncItemInFlightError extends ConflictError {
  constructor() {
    super('idempotency_in_flight', 'An item with this idempotency key is still being processed; retry in a moment.')
  }
}

const SEALED = 'sealed:'
const inFlight = new Set<string>()

const isSyncKind = (kind: string): kind is SyncKind => (SYNC_KINDS as readonly string[]).includes(kind)

/**
 * Runs the items one after the other, in order. Nothing an item does can fail another: its error becomes its
 * result. Each written item appends its audit record (action `sync.batch`, the item's kind, key and status in
 * `detail`) in its own transaction; `requestStatus` is the status the whole answer will carry.
 */
export async function runSyncBatch(
  deps: SyncBatchDeps,
  actor: Actor,
  items: readonly SyncItem[],
  handlers: SyncHandlers,
  origin: AuditOrigin,
  requestStatus: number,
): Promise<SyncItemResult[]> {
  const results: SyncItemResult[] = []
  for (const [index, item] of items.entries()) {
    try {
      results.push({ index, kind: item.kind, idempotencyKey: item.idempotencyKey, ...(await runItem(deps, actor, item, index, handlers, origin, requestStatus)) })
    } catch (error) {
      results.push({ index, kind: item.kind, idempotencyKey: item.idempotencyKey, error })
    }
  }
  return results
}

async function runItem(
  deps: SyncBatchDeps,
  actor: Actor,
  item: SyncItem,
  index: number,
  handlers: SyncHandlers,
  origin: AuditOrigin,
  requestStatus: number,
): Promise<{ status: number; body: unknown; replayed: boolean }> {
  if (!isSyncKind(item.kind)) throw new UnknownSyncKindError(item.kind)
  const kind = item.kind
  authorize(actor, SYNC_ACTIONS[kind])

  // Scoped to the caller and the kind: the same key on an observation and on a capture are two items.
  const scope = actorKey(actor)
  const key = `sync:${kind}:${item.idempotencyKey}`
  const requestHash = createHash('sha256').update(`SYNC ${kind}\n${canonicalJson(item.body ?? null)}`).digest('hex')
  const sealContext = `idempotency_keys:${scope}:${key}`

  const replay = async () => {
    const stored = await deps.store.repos.idempotency.find(scope, key)
    if (!stored) return undefined
    const storedHash = stored.requestHash.startsWith(SEALED) ? (await deps.sealer.open(stored.requestHash.slice(SEALED.length), `${sealContext}:request`)).toString('utf8') : stored.requestHash
    if (storedHash !== requestHash) throw new SyncKeyReusedError()
    return { status: stored.statusCode, body: JSON.parse(stored.body) as unknown, replayed: true }
  }

  const earlier = await replay()
  if (earlier) return earlier
  const slot = `${scope}\u0000${key}`
  if (inFlight.has(slot)) throw new SyncItemInFlightError()
  inFlight.add(slot)
  try {
    const prepared = await handlers[kind](item.body, index)
    const dataKeyId = prepared.secretRequest ? await deps.sealer.reserveDataKey() : null
    const body = await deps.store.transaction(async (repos) => {
      const written = await prepared.write(repos)
      await repos.audit.append(
        auditEntry(actor, 'sync.batch', 'ok', origin, {
          status: requestStatus,
          resourceType: kind,
          resourceId: written.resourceId,
          detail: { item: index, kind, action: SYNC_ACTIONS[kind], idempotencyKey: item.idempotencyKey, status: prepared.status },
        }),
      )
      const storedHash = dataKeyId ? SEALED + (await deps.sealer.seal(requestHash, `${sealContext}:request`, { dataKeyId })) : requestHash
      await repos.idempotency.save(scope, key, { requestHash: storedHash, statusCode: prepared.status, body: JSON.stringify(written.body) }, Date.now())
      return written.body
    })
    return { status: prepared.status, body, replayed: false }
  } catch (err) {
    // Another process (PostgreSQL) wrote the same key first: answer as it did.
    if (deps.isUniqueViolation(err)) {
      const first = await replay()
      if (first) return first
      throw new ConflictError('already_exists', 'Another request wrote the same thing at the same moment; send the item again.')
    }
    throw err
  } finally {
    inFlight.delete(slot)
  }
}
