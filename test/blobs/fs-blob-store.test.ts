import { randomBytes, createHash } from 'node:crypto'
import { readdirSync, statSync, utimesSync, writeFileSync, mkdirSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'
import { makeFsBlobStore } from '../../src/blobs/fs-blob-store.ts'
import { blobStoreContract } from '../contracts/blob-store.contract.ts'
import { tmpDir } from '../support/tmp.ts'

/** Every file under `dir` (not directories), relative to it. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => !e.isDirectory())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort()
}

blobStoreContract('filesystem', async () => {
  const parent = tmpDir('louder-blobs-')
  const root = join(parent, 'blobs')
  const store = await makeFsBlobStore(root)
  return {
    store,
    reopen: () => makeFsBlobStore(root),
    async leaveCrashDebris(key, bytes) {
      // What put() writes before its fsync and rename: ROOT/tmp/<key>.<random>.
      // Dated two days back: opening sweeps only temp files too old to be another process's put in flight.
      const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000)
      for (const name of [`${key}.deadbeef0000`, 'unrelated-partial']) {
        writeFileSync(join(root, 'tmp', name), bytes)
        utimesSync(join(root, 'tmp', name), twoDaysAgo, twoDaysAgo)
      }
    },
    // Blobs themselves are kept, so only files that are not a blob at its place count as residue; the parent
    // is listed too, so a path that escaped the root shows up.
    residue: async () =>
      filesUnder(parent).filter((f) => {
        const m = /^blobs\/([0-9a-f]{2})\/([0-9a-f]{2})\/([0-9a-f]{64})$/.exec(f)
        return !(m && m[3]!.startsWith(m[1]! + m[2]!))
      }),
  }
})

describe('filesystem blob store', () => {
  it('lays blobs out by key prefix, readable only by their owner', async () => {
    const root = join(tmpDir('louder-blobs-'), 'blobs')
    const store = await makeFsBlobStore(root)
    const bytes = randomBytes(1_000)
    const key = createHash('sha256').update(bytes).digest('hex')
    await store.put(key, [bytes].values() as unknown as AsyncIterable<Uint8Array>)
    const path = join(root, key.slice(0, 2), key.slice(2, 4), key)
    expect(filesUnder(root)).toEqual([relative(root, path)])
    expect(statSync(path).mode & 0o077).toBe(0)
  })

  it('creates its root when it does not exist, and opens one that does', async () => {
    const root = join(tmpDir('louder-blobs-'), 'a', 'b', 'blobs')
    await makeFsBlobStore(root)
    mkdirSync(join(root, 'ff'), { recursive: true })
    const again = await makeFsBlobStore(root)
    for await (const key of again.list()) throw new Error(`unexpected blob ${key}`)
  })
})

describe('temp files of another process', () => {
  it('are left alone when a second process opens the store', async () => {
    const root = join(tmpDir('louder-blobs-'), 'blobs')
    await makeFsBlobStore(root)
    const inFlight = join(root, 'tmp', `${'a'.repeat(64)}.0123456789ab`)
    writeFileSync(inFlight, 'half of an upload')
    await makeFsBlobStore(root)
    expect(readdirSync(join(root, 'tmp'))).toEqual([inFlight.split('/').pop()])
  })
})
