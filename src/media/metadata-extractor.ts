/** The MetadataExtractor the locker's job uses: exifr and sharp's header for images, ExifTool for video. */
import type { ExtractedMetadata, MetadataExtractor } from '../core/evidence/media-processing.ts'
import { readImageMetadata } from './metadata-exifr.ts'
import { readVideoMetadata } from './metadata-exiftool.ts'
import { readImageHeader } from './sharp-image.ts'

export function makeMetadataExtractor(opts: { timeoutMs?: number } = {}): MetadataExtractor {
  return {
    async extract(path, mediaType): Promise<ExtractedMetadata> {
      if (mediaType.startsWith('video/')) {
        const metadata = await readVideoMetadata(path, opts.timeoutMs)
        const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null)
        const duration = num(metadata.Duration)
        return { metadata, pixelWidth: num(metadata.ImageWidth), pixelHeight: num(metadata.ImageHeight), durationMs: duration === null ? null : Math.round(duration * 1000) }
      }
      // The header first: a decompression bomb is refused here, before exifr or anything else looks further.
      const header = await readImageHeader(path)
      const metadata = await readImageMetadata(path, opts.timeoutMs)
      return { metadata: metadata ?? {}, pixelWidth: header.width, pixelHeight: header.height, durationMs: null }
    },
  }
}
