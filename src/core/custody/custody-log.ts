import { NotFoundError, ValidationError } from '../errors.ts'
import type { CustodyEvent } from './custody-event.ts'
import { encodeCustodyEvent } from './custody-event.ts'
import type { CustodyEntry, CustodyLogRepository, StoredNode } from './custody-log-repository.ts'
import { leafHash, MAX_TREE_SIZE, nodeHash } from './merkle.ts'
import { completedBy, consistencyRanges, inclusionRanges, keysFor, type LeafRange, type NodeKey, nodeKeyId, rangeHash } from './subtrees.ts'

/** The custody log's use cases need only its repository; callers pass `Store.repos` or a transaction's repos. */
export interface CustodyRepos {
  custodyLog: CustodyLogRepository
}

/** A size or index beyond the tree as it stands: the tree of that size does not exist (yet). */
export class BeyondLogError extends NotFoundError {
  constructor(message: string) {
    super('log entry', '')
    this.message = message
  }
}

/** The log's storage is missing a hash it must have: damage, never a caller's mistake. */
export class CustodyLogDamagedError extends Error {
  readonly code = 'custody_log_damaged'
}

/**
 * Appends one event. Call it inside the write transaction that does what the event records (the locker's
 * ingest), so the event and the fact commit together or not at all; the append lock is then held to commit.
 */
export async function appendCustodyEvent(repos: CustodyRepos, event: CustodyEvent, now = Date.now()): Promise<{ index: number; leafHash: string }> {
  return (await appendCustodyEvents(repos, [event], now))[0]!
}

/**
 * Appends events in order under one lock: one read of the stored subtrees the new leaves combine with (at
 * most the log₂ n of the frontier), then every leaf and every subtree it completes written in batches. The bulk path.
 */
export async function appendCustodyEvents(repos: CustodyRepos, events: readonly CustodyEvent[], now = Date.now()): Promise<{ index: number; leafHash: string }[]> {
  if (events.length === 0) return []
  // Encoded and hashed before the lock: a bad event fails without waiting, and the lock is held only for the tree.
  const leaves = events.map((event) => {
    const bytes = encodeCustodyEvent(event)
    return { body: bytes.toString('utf8'), hash: leafHash(bytes) }
  })
  const log = repos.custodyLog
  const size = await log.lockForAppend()
  if (size + events.length > MAX_TREE_SIZE) throw new RangeError('the custody log is full')
  const known = await log.hashes(storedSiblings(size, events.length))
  const hashOf = (key: NodeKey): Buffer => known.get(nodeKeyId(key)) ?? damaged(key)
  const entries: CustodyEntry[] = []
  const nodes: StoredNode[] = []
  leaves.forEach(({ body, hash }, j) => {
    const index = size + j
    known.set(nodeKeyId({ level: 0, index }), hash)
    entries.push({ index, leafHash: hash, body, createdAt: now })
    for (const c of completedBy(index)) {
      const node = nodeHash(hashOf(c.left), hashOf(c.right))
      known.set(nodeKeyId(c.node), node)
      nodes.push({ ...c.node, hash: node })
    }
  })
  await log.insert(entries, nodes)
  return entries.map((e) => ({ index: e.index, leafHash: e.leafHash.toString('hex') }))
}

/**
 * The stored subtrees that appending `count` leaves after `size` combines with: left siblings lying wholly
 * before the batch (a subset of the ≤ log₂ n frontier). Half of all single appends need none, and read nothing.
 */
function storedSiblings(size: number, count: number): NodeKey[] {
  const keys = new Map<string, NodeKey>()
  for (let index = size; index < size + count; index++)
    for (const { left } of completedBy(index)) if ((left.index + 1) * 2 ** left.level <= size) keys.set(nodeKeyId(left), left)
  return [...keys.values()]
}

function damaged(key: NodeKey): never {
  throw new CustodyLogDamagedError(`custody log storage lacks the subtree at level ${key.level}, index ${key.index}`)
}

async function hashRanges(log: CustodyLogRepository, ranges: readonly LeafRange[], extra: NodeKey[] = []): Promise<{ hashes: Buffer[]; lookup: (k: NodeKey) => Buffer }> {
  const found = await log.hashes([...keysFor(ranges), ...extra])
  const lookup = (k: NodeKey) => found.get(nodeKeyId(k)) ?? damaged(k)
  return { hashes: ranges.map((r) => rangeHash(r, lookup)), lookup }
}

async function requireTree(log: CustodyLogRepository, size: number, field: string): Promise<void> {
  const current = await log.size()
  if (size > current) throw new BeyondLogError(`The log holds ${current} entries; there is no tree of size ${size} (${field}) yet.`)
}

/** The Merkle tree hash of the first `size` entries. */
export async function rootAt(repos: CustodyRepos, size: number): Promise<Buffer> {
  await requireTree(repos.custodyLog, size, 'size')
  return (await hashRanges(repos.custodyLog, [{ start: 0, end: size }])).hashes[0]!
}

/** RFC 9162 §2.1.3.1 inclusion proof of entry `index` in the tree of `size`, from O(log n) stored hashes. */
export async function inclusionProof(repos: CustodyRepos, index: number, size: number): Promise<{ index: number; size: number; leafHash: Buffer; hashes: Buffer[] }> {
  if (index >= size) throw new ValidationError([{ field: '/querystring/index', message: `must be less than size (${size}): a tree of ${size} entries holds indices 0 to ${size - 1}` }])
  await requireTree(repos.custodyLog, size, 'size')
  const leaf = { level: 0, index }
  const { hashes, lookup } = await hashRanges(repos.custodyLog, inclusionRanges(index, size), [leaf])
  return { index, size, leafHash: lookup(leaf), hashes }
}

/** RFC 9162 §2.1.4.1 consistency proof between the trees of `from` and `to` entries. */
export async function consistencyProof(repos: CustodyRepos, from: number, to: number): Promise<{ from: number; to: number; hashes: Buffer[] }> {
  if (from > to) throw new ValidationError([{ field: '/querystring/from', message: `must not be greater than to (${to}): a log only grows` }])
  await requireTree(repos.custodyLog, to, 'to')
  return { from, to, hashes: (await hashRanges(repos.custodyLog, consistencyRanges(from, to))).hashes }
}

/** One entry; its body is for callers allowed `log.event.read` only. */
export async function custodyEntry(repos: CustodyRepos, index: number): Promise<CustodyEntry> {
  const entry = await repos.custodyLog.entry(index)
  if (!entry) throw new BeyondLogError(`The log holds no entry ${index}; it holds ${await repos.custodyLog.size()} entries, from index 0.`)
  return entry
}
