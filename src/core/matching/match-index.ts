import type { MediaHashRepository, StoredMediaHash } from '../ports/repositories.ts'
import type { HammingIndex } from './hamming-index.ts'
import { rebuildHashIndex } from './hash-store.ts'

/**
 * How far back each catch-up reads: a hash written by another process (`louder worker`) becomes visible when
 * its transaction commits, which may be a little after the time it was stamped with. Rows seen again are
 * simply indexed again.
 */
export const CATCH_UP_OVERLAP_MS = 60_000

/**
 * A server's index of every stored hash: built from the table on first use (or at start-up, in the
 * background), then brought up to date before each query from the hashes stored since the last one, so
 * items hashed by any process are found without a restart.
 */
export interface MatchIndex {
  current(): Promise<HammingIndex>
}

export function makeMatchIndex(repo: () => MediaHashRepository, now: () => number = Date.now): MatchIndex {
  let built: Promise<HammingIndex> | null = null
  let syncedFrom = 0
  let catchingUp: Promise<void> | null = null

  async function catchUp(index: HammingIndex): Promise<void> {
    const from = syncedFrom - CATCH_UP_OVERLAP_MS
    const started = now()
    const rows = await repo().createdSince(from)
    const byMedia = new Map<string, StoredMediaHash[]>()
    for (const r of rows) byMedia.set(r.mediaSha256, [...(byMedia.get(r.mediaSha256) ?? []), r])
    for (const [sha, frames] of byMedia) {
      index.remove(sha)
      for (const f of frames) index.add({ mediaSha256: sha, frameMs: f.frameMs, hash: f.hash, quality: f.quality })
    }
    syncedFrom = started
  }

  return {
    async current() {
      if (!built) {
        syncedFrom = now()
        built = rebuildHashIndex(repo())
      }
      const index = await built
      // One catch-up at a time; queries arriving meanwhile wait for it rather than starting their own.
      catchingUp ??= catchUp(index).finally(() => {
        catchingUp = null
      })
      await catchingUp
      return index
    },
  }
}
