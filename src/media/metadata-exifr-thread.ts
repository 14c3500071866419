/**
 * Runs exifr on one file inside a worker thread (src/media/metadata-exifr.ts starts it): a parser stuck in a
 * loop on hostile EXIF cannot be interrupted inside the thread that runs it, but a thread can be terminated.
 */
import { parentPort, workerData } from 'node:worker_threads'
import exifr from 'exifr'

const OPTIONS = {
  tiff: true,
  exif: true,
  gps: true,
  xmp: true,
  iptc: true,
  icc: false,
  jfif: false,
  ihdr: true,
  // The embedded thumbnail's own tags (IFD1) and maker notes add nothing a court needs and much a parser can choke on.
  ifd1: false,
  interop: false,
  makerNote: false,
  userComment: true,
  mergeOutput: true,
  sanitize: true,
  reviveValues: true,
  translateValues: false,
  multiSegment: true,
}

/** JSON values only: dates as RFC 3339, bytes as base64, nothing nested deeper than a few levels. */
function jsonSafe(value: unknown, depth = 0): unknown {
  if (depth > 8) return null
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value
  if (typeof value === 'number') return Number.isFinite(value) ? value : null
  if (typeof value === 'bigint') return value.toString()
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString()
  if (value instanceof Uint8Array) return { base64: Buffer.from(value.subarray(0, 65_536)).toString('base64') }
  if (Array.isArray(value)) return value.slice(0, 10_000).map((v) => jsonSafe(v, depth + 1))
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      const safe = jsonSafe(v, depth + 1)
      if (safe !== undefined) out[k] = safe
    }
    return out
  }
  return undefined
}

const { path } = workerData as { path: string }
try {
  const parsed: unknown = await exifr.parse(path, OPTIONS)
  parentPort!.postMessage({ ok: true, metadata: parsed ? jsonSafe(parsed) : null })
} catch (err) {
  parentPort!.postMessage({ ok: false, error: err instanceof Error ? err.message : String(err) })
}
