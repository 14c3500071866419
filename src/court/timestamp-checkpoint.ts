import type { LogSigner } from '../core/custody/checkpoint.ts'
import type { StoredCheckpoint } from '../core/custody/custody-log-repository.ts'
import { signCheckpoint } from '../core/custody/sign-checkpoint.ts'
import type { Store } from '../core/ports/repositories.ts'
import { requestTimestamps, type TimestampAuthority } from './timestamp-client.ts'
import { saveTimestamps } from './timestamp-store.ts'

/**
 * Signs a checkpoint of the log as it stands and has it timestamped by every authority at once (`louder
 * timestamp`, run from cron). Later court bags carry each timestamped checkpoint with consistency proofs to the
 * export's own, so an event's existence is dated by independent authorities, not only by Louder's word.
 */
export async function timestampCheckpoint(deps: { store: Store; signer: LogSigner }, authorities: readonly TimestampAuthority[]): Promise<{ checkpoint: StoredCheckpoint; replies: number; failures: string[] }> {
  const checkpoint = await signCheckpoint(deps.store.repos, deps.signer)
  const { replies, failures } = await requestTimestamps(checkpoint.note, authorities)
  await saveTimestamps(deps.store.repos, checkpoint.size, replies)
  return { checkpoint, replies: replies.length, failures }
}
