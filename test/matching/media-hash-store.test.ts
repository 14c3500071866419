/** media_hashes on SQLite and PostgreSQL, and the index rebuilt from it page by page. */
import { expect, it } from 'vitest'
import { createHammingIndex } from '../../src/core/matching/hamming-index.ts'
import { rebuildHashIndex, removeMediaHashes, storeMediaHashes } from '../../src/core/matching/hash-store.ts'
import { makeStore } from '../../src/db/store.ts'
import { forEachDialect } from '../support/dialects.ts'

const T0 = Date.UTC(2025, 0, 1)
const sha = (n: number) => n.toString(16).padStart(64, '0')
const hash = (n: number) => (n.toString(16).padStart(8, '0')).repeat(8)

forEachDialect('media hashes', (dialect) => {
  it('stores an image and a video, replaces, reads back and removes', async () => {
    const store = makeStore(await dialect.open())
    const repo = store.repos.mediaHashes
    await repo.replace(sha(1), [{ frameMs: null, hash: hash(1), quality: 90 }], T0)
    await repo.replace(sha(2), [
      { frameMs: 0, hash: hash(2), quality: 80 },
      { frameMs: 3000, hash: hash(3), quality: 12 },
      // Beyond 2^31 ms (~25 days): frame_ms is a bigint.
      { frameMs: 2 ** 33, hash: hash(4), quality: 100 },
    ], T0)
    expect(await repo.forMedia(sha(1))).toEqual([{ mediaSha256: sha(1), frameIndex: 0, frameMs: null, hash: hash(1), quality: 90, createdAt: T0 }])
    expect((await repo.forMedia(sha(2))).map((r) => [r.frameIndex, r.frameMs, r.quality])).toEqual([
      [0, 0, 80],
      [1, 3000, 12],
      [2, 2 ** 33, 100],
    ])
    await store.transaction((repos) => repos.mediaHashes.replace(sha(2), [{ frameMs: 500, hash: hash(5), quality: 70 }], T0 + 1))
    expect((await repo.forMedia(sha(2))).map((r) => r.hash)).toEqual([hash(5)])
    expect(await repo.remove(sha(2))).toBe(1)
    expect(await repo.forMedia(sha(2))).toEqual([])
  })

  it('rebuilds the index from the table across pages, quality ≤ 49 kept but not matched', async () => {
    const store = makeStore(await dialect.open())
    const index = createHammingIndex()
    const deps = { repo: store.repos.mediaHashes, index }
    for (let m = 0; m < 7; m++)
      await storeMediaHashes(deps, sha(m), Array.from({ length: 3 }, (_, f) => ({ frameMs: f * 1000, hash: hash(m * 10 + f), quality: f === 2 ? 40 : 90 })), T0)
    await removeMediaHashes(deps, sha(3))
    const rebuilt = await rebuildHashIndex(store.repos.mediaHashes, 4)
    expect(rebuilt.size).toBe(18)
    expect(rebuilt.size).toBe(index.size)
    expect(rebuilt.query(hash(41), 0)).toEqual([{ mediaSha256: sha(4), frameMs: 1000, hash: hash(41), quality: 90, distance: 0, transform: 'original' }])
    expect(rebuilt.query(hash(42), 0)).toEqual([])
    expect(rebuilt.query(hash(31), 0)).toEqual([])
    expect(index.query(hash(41), 0)).toEqual(rebuilt.query(hash(41), 0))
  })
})
