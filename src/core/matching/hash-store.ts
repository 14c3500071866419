/**
 * Keeping the in-memory index and the media_hashes table in step: the database is the truth, the index is
 * rebuilt from it at start-up and updated as media items are hashed or removed.
 */
import type { MediaHashRepository } from '../ports/repositories.ts'
import { createHammingIndex, type HammingIndex } from './hamming-index.ts'
import type { HashedFrame } from './hash-media.ts'

/** Rows per page when reading the table back: bounded memory whatever the collection's size. */
export const REBUILD_PAGE = 5000

/** A new index holding every stored hash, read page by page in primary-key order. */
export async function rebuildHashIndex(repo: MediaHashRepository, pageSize = REBUILD_PAGE, index: HammingIndex = createHammingIndex()): Promise<HammingIndex> {
  let after: { mediaSha256: string; frameIndex: number } | undefined
  const resume = index.pauseRebuilds()
  try {
    for (;;) {
      const rows = await repo.page(pageSize, after)
      for (const r of rows) index.add({ mediaSha256: r.mediaSha256, frameMs: r.frameMs, hash: r.hash, quality: r.quality })
      if (rows.length < pageSize) return index
      const last = rows[rows.length - 1]!
      after = { mediaSha256: last.mediaSha256, frameIndex: last.frameIndex }
    }
  } finally {
    resume()
  }
}

/**
 * Stores a media item's hashes (replacing any earlier ones) and then indexes them. The caller commits the
 * write before the index sees it (pass the repository of a committed store, or call after the transaction),
 * so a rolled-back write never leaves a hash in the index.
 */
export async function storeMediaHashes(deps: { repo: MediaHashRepository; index: HammingIndex }, mediaSha256: string, frames: HashedFrame[], at: number): Promise<void> {
  await deps.repo.replace(mediaSha256, frames, at)
  deps.index.remove(mediaSha256)
  for (const f of frames) deps.index.add({ mediaSha256, frameMs: f.frameMs, hash: f.hash, quality: f.quality })
}

export async function removeMediaHashes(deps: { repo: MediaHashRepository; index: HammingIndex }, mediaSha256: string): Promise<number> {
  const n = await deps.repo.remove(mediaSha256)
  deps.index.remove(mediaSha256)
  return n
}
