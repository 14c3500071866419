/** Image metadata (EXIF, GPS, XMP, IPTC) through exifr, in a worker thread with a time and memory limit. */
import { Worker } from 'node:worker_threads'
import { MediaError } from '../core/matching/media-error.ts'

export const EXIFR_TIMEOUT_MS = 15_000

export function readImageMetadata(path: string, timeoutMs = EXIFR_TIMEOUT_MS): Promise<Record<string, unknown> | null> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./metadata-exifr-thread.ts', import.meta.url), { workerData: { path }, resourceLimits: { maxOldGenerationSizeMb: 256 } })
    let settled = false
    const settle = (fn: () => void) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      void worker.terminate()
      fn()
    }
    const timer = setTimeout(() => settle(() => reject(new MediaError('timeout', `exifr ran past ${timeoutMs} ms and was stopped`))), timeoutMs)
    worker.once('message', (m: { ok: boolean; metadata?: Record<string, unknown> | null; error?: string }) =>
      settle(() => (m.ok ? resolve(m.metadata ?? null) : reject(new MediaError('corrupt', `exifr could not read the metadata (${(m.error ?? '').slice(0, 200)})`)))),
    )
    worker.once('error', (err) => settle(() => reject(new MediaError('corrupt', `exifr failed (${err.message.slice(0, 200)})`))))
    worker.once('exit', (code) => settle(() => reject(new MediaError('corrupt', `exifr stopped with code ${code}`))))
  })
}
