/**
 * What `louder sync` makes from a field photo before sending anything (issue 7): a thumbnail (WebP, long
 * side 320, about 15 KB: P1) and a publication image (JPEG, long side 1600, about 150–250 KB: P2). Both are
 * rotated by the EXIF orientation first and carry no metadata at all (sharp drops EXIF, XMP, IPTC and ICC
 * unless asked to keep them): a published picture must not say where, when or on what it was taken.
 */
import { open, rename } from 'node:fs/promises'
import sharp from 'sharp'
import { MediaError } from '../core/matching/media-error.ts'
import { MAX_INPUT_PIXELS, readImageHeader } from './sharp-image.ts'

export const THUMBNAIL_LONG_SIDE = 320
export const PUBLICATION_LONG_SIDE = 1600

export interface DerivativeFile {
  path: string
  mediaType: string
  width: number
  height: number
  byteLength: number
}

/** Formats sharp reads that phones and cameras produce; anything else (video, PDF) gets no derivatives. */
const IMAGE_FORMATS = new Set(['jpeg', 'png', 'webp', 'heif', 'avif', 'tiff', 'gif'])

/** The image's format and oriented size, or null when it is not an image we make derivatives of. */
export async function probeImage(path: string): Promise<{ mediaType: string; width: number; height: number } | null> {
  try {
    const header = await readImageHeader(path)
    if (!IMAGE_FORMATS.has(header.format)) return null
    const meta = await sharp(path, { limitInputPixels: MAX_INPUT_PIXELS }).metadata()
    // EXIF orientations 5–8 turn the picture a quarter: the size people see is the other way round.
    const turned = (meta.orientation ?? 1) >= 5
    const mediaType = header.format === 'heif' ? 'image/heic' : `image/${header.format}`
    return { mediaType, width: turned ? header.height : header.width, height: turned ? header.width : header.height }
  } catch (err) {
    if (err instanceof MediaError) return null
    throw err
  }
}

/** Writes the thumbnail and the publication image beside each other (temp → fsync → rename), or throws a MediaError. */
export async function makeFieldDerivatives(source: string, thumbPath: string, publicationPath: string): Promise<{ thumbnail: DerivativeFile; publication: DerivativeFile }> {
  await readImageHeader(source)
  const base = () => sharp(source, { limitInputPixels: MAX_INPUT_PIXELS, failOn: 'truncated' }).rotate()
  try {
    const thumb = await base().resize(THUMBNAIL_LONG_SIDE, THUMBNAIL_LONG_SIDE, { fit: 'inside', withoutEnlargement: true }).webp({ quality: 75, effort: 4 }).toBuffer({ resolveWithObject: true })
    const pub = await base().resize(PUBLICATION_LONG_SIDE, PUBLICATION_LONG_SIDE, { fit: 'inside', withoutEnlargement: true }).jpeg({ quality: 78, mozjpeg: true }).toBuffer({ resolveWithObject: true })
    await writeDurably(thumbPath, thumb.data)
    await writeDurably(publicationPath, pub.data)
    return {
      thumbnail: { path: thumbPath, mediaType: 'image/webp', width: thumb.info.width, height: thumb.info.height, byteLength: thumb.data.length },
      publication: { path: publicationPath, mediaType: 'image/jpeg', width: pub.info.width, height: pub.info.height, byteLength: pub.data.length },
    }
  } catch (err) {
    if (err instanceof MediaError) throw err
    throw new MediaError('corrupt', `could not make derivatives (${(err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 200)})`, { cause: err })
  }
}

async function writeDurably(path: string, bytes: Buffer): Promise<void> {
  const temp = `${path}.${process.pid}.tmp`
  const file = await open(temp, 'w', 0o600)
  try {
    await file.writeFile(bytes)
    await file.sync()
  } finally {
    await file.close()
  }
  await rename(temp, path)
}
