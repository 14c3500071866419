/**
 * Images for PDQ, decoded by sharp (libvips): the only place sharp is imported. Hostile images are refused
 * with a MediaError before anything large is decoded.
 */
import sharp, { type Metadata } from 'sharp'
import { MediaError } from '../core/matching/media-error.ts'
import type { Pixels } from '../core/matching/pdq.ts'

/**
 * The most pixels we agree to decode: 100 megapixels is above any phone or press camera in use (≈ 50–60 MP
 * sensors) and far below what a decompression bomb declares. sharp checks it from the header, before decoding.
 */
export const MAX_INPUT_PIXELS = 100_000_000

/**
 * The reference hasher (pdq/cpp/io/pdqio.cpp) first resizes any image larger than this on either side to
 * exactly this × this, ignoring the aspect ratio, because its box filters are slow on large images. We do the
 * same so our hashes sit where the reference's do.
 */
export const PDQ_DOWNSAMPLE_DIMENSION = 512

// failOn 'truncated': a cut-off file is refused, while the minor warnings cameras' JPEGs often raise (odd
// EXIF, extra bytes) are not; evidence should not be unhashable for a harmless quirk.
const OPTIONS = { limitInputPixels: MAX_INPUT_PIXELS, failOn: 'truncated', sequentialRead: true } as const

type Source = Uint8Array | string

/** The image's size from its header alone, or a MediaError; no pixel is decoded. */
export async function readImageHeader(source: Source): Promise<{ width: number; height: number; format: string }> {
  let meta: Metadata
  try {
    meta = await sharp(source, OPTIONS).metadata()
  } catch (err) {
    throw mediaErrorFrom(err)
  }
  const { width, height, format } = meta
  if (!width || !height) throw new MediaError('corrupt', 'the image header gives no size')
  if (width * height > MAX_INPUT_PIXELS)
    throw new MediaError('too_large', `the image declares ${width}×${height} pixels, more than the ${MAX_INPUT_PIXELS / 1e6} megapixels we decode`)
  return { width, height, format }
}

/** RGB pixels for PDQ: EXIF orientation applied, alpha dropped (as the reference reads only R, G, B), ≤ 512 on a side. */
export async function decodeImageForPdq(source: Source): Promise<Pixels> {
  const { width, height } = await readImageHeader(source)
  let pipeline = sharp(source, OPTIONS).rotate()
  if (width > PDQ_DOWNSAMPLE_DIMENSION || height > PDQ_DOWNSAMPLE_DIMENSION)
    pipeline = pipeline.resize(PDQ_DOWNSAMPLE_DIMENSION, PDQ_DOWNSAMPLE_DIMENSION, { fit: 'fill' })
  try {
    const { data, info } = await pipeline.removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true })
    if (info.channels !== 3) throw new MediaError('unsupported', `decoded to ${info.channels} channels, expected RGB`)
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height, channels: 3 }
  } catch (err) {
    throw mediaErrorFrom(err)
  }
}

/** sharp's (libvips') messages are the only signal it gives; sort them into our codes. */
function mediaErrorFrom(err: unknown): MediaError {
  if (err instanceof MediaError) return err
  const message = err instanceof Error ? err.message : String(err)
  if (/pixel limit/i.test(message)) return new MediaError('too_large', `the image has more than the ${MAX_INPUT_PIXELS / 1e6} megapixels we decode`, { cause: err })
  if (/unsupported image format|bad seek|Input buffer contains unsupported/i.test(message))
    return new MediaError('unsupported', 'not an image format we can read', { cause: err })
  if (/empty|zero length|Input Buffer is empty/i.test(message)) return new MediaError('empty', 'the file is empty', { cause: err })
  return new MediaError('corrupt', `the image is damaged or truncated (${firstLine(message)})`, { cause: err })
}

function firstLine(text: string): string {
  return text.split('\n')[0]!.slice(0, 200)
}
