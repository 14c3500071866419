/** Shared by the locker's tests: the field photos, a worker that drains the queue, and byte helpers. */
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { AppContext } from '../../src/app-context.ts'
import { Worker } from '../../src/jobs/worker.ts'
import { jobHandlers } from '../../src/worker-handlers.ts'

export const FIELD_PHOTOS = join(import.meta.dirname, '..', 'fixtures', 'field-photos')

/** The media files of test/fixtures/field-photos (copied from ../shared/testdata/field-photos; see its README). */
export function fieldPhotos(): { name: string; path: string; bytes: Buffer; sha256: string }[] {
  return readdirSync(FIELD_PHOTOS)
    .filter((n) => !n.endsWith('.md'))
    .sort()
    .map((name) => {
      const path = join(FIELD_PHOTOS, name)
      const bytes = readFileSync(path)
      return { name, path, bytes, sha256: sha256(bytes) }
    })
}

export const CANARY = 'CANARY-SHARED-'

export const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')

/** Runs every queued job to the end, as `louder worker` would. */
export async function drainJobs(ctx: AppContext): Promise<number> {
  return new Worker(ctx.jobs, jobHandlers(ctx)).drain()
}

export async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes
}

/** Yields bytes in uneven pieces, as a socket would. */
export async function* pieces(bytes: Uint8Array, size = 50_000): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size)
}
