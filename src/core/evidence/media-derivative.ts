/**
 * Derivatives (working copies, redacted or enhanced versions) are locker items of their own, never edits of an
 * original. Each carries a derivation record (parent hash, operations, operator, time) in RFC 8785 canonical
 * JSON, signed with the custody log's Ed25519 key, and is logged as `derivative.created` in the transaction
 * that stores it (ingest.ts).
 */
import { type Actor, actorKey } from '../access/actor.ts'
import type { LogSigner } from '../custody/checkpoint.ts'
import { toRfc3339 } from '../time.ts'
import { type DerivationRecord, signDerivation } from './derivation-record.ts'
import { ingestMedia, type IngestDeps, type IngestResult } from './ingest.ts'
import { mediaItemOrThrow, openOriginalForWork } from './media-access.ts'
import type { Sha256 } from './media-item.ts'
import type { PlainWorkspace } from './media-processing.ts'

/** Re-encodes an image into a working copy (src/media: sharp, metadata stripped, limits on input). */
export interface WorkingCopyMaker {
  reencode(path: string): Promise<{ bytes: Buffer; operations: string[] }>
}

export async function createDerivative(deps: IngestDeps & { signer: LogSigner }, operator: Actor, parentSha256: Sha256, body: AsyncIterable<Uint8Array>, operations: string[], now = Date.now()): Promise<IngestResult> {
  await mediaItemOrThrow(deps.store.repos, parentSha256)
  const record: DerivationRecord = { schema: 'louder.derivation', v: 1, parentSha256, operations, operator: actorKey(operator), at: toRfc3339(now) }
  return ingestMedia(deps, operator, { body, derivative: { parentSha256, operations, record: signDerivation(record, deps.signer) } }, { now: () => now })
}

/** The job behind `POST /media/{sha256}/working-copy`: a re-encoded copy of the original, made by Louder for `operator`. */
export async function makeWorkingCopy(deps: IngestDeps & { signer: LogSigner; workspace: PlainWorkspace; maker: WorkingCopyMaker }, operator: Actor, parentSha256: Sha256): Promise<IngestResult> {
  const parent = await mediaItemOrThrow(deps.store.repos, parentSha256)
  const made = await deps.workspace.withPlainCopy(await openOriginalForWork(deps, parent), (path) => deps.maker.reencode(path))
  return createDerivative(deps, operator, parentSha256, (async function* () { yield made.bytes })(), made.operations)
}
