import type { LogSigner } from './checkpoint.ts'
import { checkpointBody, signNote } from './checkpoint.ts'
import type { StoredCheckpoint } from './custody-log-repository.ts'
import { type CustodyRepos, rootAt } from './custody-log.ts'

/**
 * Signs a checkpoint for the log as it stands and keeps it. Entries are committed in index order (appends
 * hold the log's lock until commit), so the committed size always names a complete prefix of the log.
 */
export async function signCheckpoint(repos: CustodyRepos, signer: LogSigner, now = Date.now()): Promise<StoredCheckpoint> {
  const log = repos.custodyLog
  const size = await log.size()
  const existing = await log.checkpointAt(size)
  if (existing) return existing
  const root = await rootAt(repos, size)
  const note = signNote(checkpointBody(signer.name, size, root), signer)
  await log.saveCheckpoint({ size, root, note, createdAt: now })
  // Another process may have stored its own for this size first; theirs is the one published.
  return (await log.checkpointAt(size)) ?? { size, root, note, createdAt: now }
}

/**
 * The checkpoint to publish: the latest, unless the log has grown since and it is older than `maxAgeMs`.
 * Bounds how often anonymous readers can make the server sign (and store) a new one.
 */
export async function currentCheckpoint(repos: CustodyRepos, signer: LogSigner, maxAgeMs: number, now = Date.now()): Promise<StoredCheckpoint> {
  const latest = await repos.custodyLog.latestCheckpoint()
  if (latest && (now - latest.createdAt < maxAgeMs || latest.size === (await repos.custodyLog.size()))) return latest
  return signCheckpoint(repos, signer, now)
}
