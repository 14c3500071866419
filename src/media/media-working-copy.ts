/** Working copies for editors: an original re-encoded by sharp, its metadata left behind, with the decoder's limits. */
import sharp from 'sharp'
import type { WorkingCopyMaker } from '../core/evidence/media-derivative.ts'
import { MediaError } from '../core/matching/media-error.ts'
import { MAX_INPUT_PIXELS } from './sharp-image.ts'

/** Big enough to work on, small enough that a working copy is never a stand-in for the original. */
const MAX_SIDE = 4096

export function makeWorkingCopyMaker(): WorkingCopyMaker {
  return {
    async reencode(path) {
      try {
        // sharp writes no EXIF/XMP/IPTC unless asked (withMetadata): names, places and serials stay in the original.
        const bytes = await sharp(path, { limitInputPixels: MAX_INPUT_PIXELS, failOn: 'truncated' })
          .rotate()
          .resize(MAX_SIDE, MAX_SIDE, { fit: 'inside', withoutEnlargement: true })
          .jpeg({ quality: 90 })
          .toBuffer()
        return { bytes, operations: ['orient', `fit:${MAX_SIDE}`, 'encode:jpeg:q90', 'strip-metadata'] }
      } catch (err) {
        throw new MediaError('corrupt', `no working copy could be made (${(err as Error).message.split('\n')[0]!.slice(0, 200)})`)
      }
    },
  }
}
