/**
 * The locker's background work on an item, run by a worker, never by the web process: metadata extraction and
 * PDQ hashing on a decrypted temporary copy. Hostile media end in a recorded error (`metadata_status`
 * 'failed' with the reason), never in a crash, a hang or a job that retries for ever; the sealed bytes stay.
 */
import type { MediaDecoder } from '../matching/media-decoder.ts'
import { hashMedia } from '../matching/hash-media.ts'
import type { BlobStore } from '../ports/blob-store.ts'
import type { Store } from '../ports/repositories.ts'
import { canonicalJson } from '../canonical-json.ts'
import { openOriginalForWork } from './media-access.ts'
import { metadataContext, type Sha256, type StreamSealer } from './media-item.ts'

export interface ExtractedMetadata {
  /** Tags as the extractor names them; JSON values only. */
  metadata: Record<string, unknown> | null
  pixelWidth: number | null
  pixelHeight: number | null
  durationMs: number | null
}

/** Reads a file's metadata (src/media: exifr for images, ExifTool for video), with limits; throws with a clear message. */
export interface MetadataExtractor {
  extract(path: string, mediaType: string): Promise<ExtractedMetadata>
}

/** Gives work a private temporary plaintext copy, removed when `fn` ends however it ends. */
export interface PlainWorkspace {
  withPlainCopy<T>(body: AsyncIterable<Uint8Array>, fn: (path: string) => Promise<T>): Promise<T>
}

export interface ProcessingDeps {
  store: Store
  blobs: BlobStore
  sealer: StreamSealer
  extractor: MetadataExtractor
  workspace: PlainWorkspace
  decoder: MediaDecoder
  /** Where hashes go besides the table (the in-memory index, when the process has one). */
  onHashes?: (sha256: Sha256, frames: Awaited<ReturnType<typeof hashMedia>>['frames']) => Promise<void>
}

const isVisual = (mediaType: string) => mediaType.startsWith('image/') && mediaType !== 'image/svg+xml' || mediaType.startsWith('video/')

export async function processMediaItem(deps: ProcessingDeps, sha256: Sha256, now = Date.now()): Promise<void> {
  const item = await deps.store.repos.mediaItems.bySha256(sha256)
  // Done already (a retried job whose first run finished): the work is not repeated.
  if (!item || item.metadataStatus !== 'pending') return
  if (!isVisual(item.mediaType)) {
    await deps.store.repos.mediaItems.setMetadata(sha256, { sealedMetadata: null, status: 'failed', error: `unsupported: ${item.mediaType} is kept sealed, but no metadata is read from it`, pixelWidth: null, pixelHeight: null, durationMs: null })
    return
  }
  const errors: string[] = []
  let extracted: ExtractedMetadata | null = null
  let frames: Awaited<ReturnType<typeof hashMedia>>['frames'] | null = null
  await deps.workspace.withPlainCopy(await openOriginalForWork(deps, item), async (path) => {
    try {
      extracted = await deps.extractor.extract(path, item.mediaType)
    } catch (err) {
      errors.push(`metadata: ${reasonOf(err)}`)
    }
    try {
      frames = (await hashMedia({ decoder: deps.decoder }, { path }, item.mediaType)).frames
    } catch (err) {
      errors.push(`pdq: ${reasonOf(err)}`)
    }
  })
  const found = extracted as ExtractedMetadata | null
  const sealedMetadata = found?.metadata ? await deps.sealer.seal(canonicalJson(found.metadata), metadataContext(sha256), { dataKeyId: item.dataKeyId }) : null
  if (frames) {
    await deps.store.repos.mediaHashes.replace(sha256, frames, now)
    await deps.onHashes?.(sha256, frames)
  }
  await deps.store.repos.mediaItems.setMetadata(sha256, {
    sealedMetadata,
    status: found ? 'done' : 'failed',
    error: errors.length ? errors.join('; ').slice(0, 2000) : null,
    pixelWidth: found?.pixelWidth ?? null,
    pixelHeight: found?.pixelHeight ?? null,
    durationMs: found?.durationMs ?? null,
  })
}

function reasonOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code
  const message = (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 500)
  return typeof code === 'string' ? `${code}: ${message}` : message
}
