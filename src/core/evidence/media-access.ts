/**
 * Reading from the locker. Originals and their metadata are restricted: every read of an original is a
 * custody event (who, when, why) as well as an audit record, written before the first byte goes out.
 */
import { type Actor, actorKey } from '../access/actor.ts'
import { authorize } from '../access/policy.ts'
import { auditEntry, type AuditOrigin } from '../audit/audit.ts'
import type { StoredCheckpoint } from '../custody/custody-log-repository.ts'
import { inclusionProof } from '../custody/custody-log.ts'
import { NotFoundError } from '../errors.ts'
import type { BlobStore } from '../ports/blob-store.ts'
import type { Repositories, Store } from '../ports/repositories.ts'
import { toRfc3339 } from '../time.ts'
import { logAbout } from './ingest.ts'
import { type MediaItem, metadataContext, type Sha256, type StreamSealer } from './media-item.ts'

export interface MediaReadDeps {
  store: Store
  blobs: BlobStore
  sealer: StreamSealer
}

export async function mediaItemOrThrow(repos: Repositories, sha256: Sha256): Promise<MediaItem> {
  const item = await repos.mediaItems.bySha256(sha256)
  if (!item) throw new NotFoundError('media item', sha256)
  return item
}

/** The original's decrypted bytes, after its `access` event and audit record have committed. */
export async function readOriginal(deps: MediaReadDeps, actor: Actor, sha256: Sha256, origin: AuditOrigin, now = Date.now()): Promise<{ item: MediaItem; body: AsyncIterable<Uint8Array> }> {
  authorize(actor, 'media.content.read')
  const item = await mediaItemOrThrow(deps.store.repos, sha256)
  await deps.store.transaction(async (repos) => {
    await logAbout(repos, sha256, { v: 1, type: 'access', at: toRfc3339(now), actor: actorKey(actor), sha256, purpose: origin.reason }, now)
    await repos.audit.append(auditEntry(actor, 'media.content.read', 'ok', origin, { status: 200, resourceType: 'media', resourceId: sha256 }, now))
  })
  return { item, body: deps.sealer.decryptStream(item.dataKeyId, await deps.blobs.get(item.blobKey)) }
}

/** The decrypted original for Louder's own work on it (metadata, hashing, working copies): no person reads it. */
export async function openOriginalForWork(deps: MediaReadDeps, item: MediaItem): Promise<AsyncIterable<Uint8Array>> {
  return deps.sealer.decryptStream(item.dataKeyId, await deps.blobs.get(item.blobKey))
}

/** The extracted metadata (restricted): audited, with the reason given, before it is opened. */
export async function readMediaMetadata(deps: MediaReadDeps, actor: Actor, sha256: Sha256, origin: AuditOrigin): Promise<{ item: MediaItem; metadata: Record<string, unknown> | null }> {
  authorize(actor, 'media.metadata.read')
  const item = await mediaItemOrThrow(deps.store.repos, sha256)
  await deps.store.repos.audit.append(auditEntry(actor, 'media.metadata.read', 'ok', origin, { status: 200, resourceType: 'media', resourceId: sha256 }))
  if (!item.sealedMetadata) return { item, metadata: null }
  return { item, metadata: JSON.parse((await deps.sealer.open(item.sealedMetadata, metadataContext(sha256))).toString('utf8')) as Record<string, unknown> }
}

export interface CustodyTrailEntry {
  index: number
  leafHash: string
  event: Record<string, unknown>
  /** Inclusion proof against `checkpoint`, for events it covers. */
  inclusion: string[] | null
}

/**
 * An item's custody events with their leaf hashes, and inclusion proofs against the latest checkpoint (each
 * O(log n) stored hashes); events logged after it carry none until the next checkpoint.
 */
export async function custodyTrail(repos: Repositories, actor: Actor, sha256: Sha256): Promise<{ item: MediaItem; checkpoint: StoredCheckpoint | null; entries: CustodyTrailEntry[] }> {
  authorize(actor, 'media.custody.read')
  const item = await mediaItemOrThrow(repos, sha256)
  const checkpoint = await repos.custodyLog.latestCheckpoint()
  const entries: CustodyTrailEntry[] = []
  for (const index of await repos.mediaItems.custodyEvents(sha256)) {
    const entry = await repos.custodyLog.entry(index)
    if (!entry) continue
    const covered = checkpoint !== null && index < checkpoint.size
    const proof = covered ? await inclusionProof(repos, index, checkpoint.size) : null
    entries.push({ index, leafHash: entry.leafHash.toString('hex'), event: JSON.parse(entry.body) as Record<string, unknown>, inclusion: proof ? proof.hashes.map((h) => h.toString('hex')) : null })
  }
  return { item, checkpoint, entries }
}
