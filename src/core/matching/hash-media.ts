/**
 * The use case the evidence locker's hashing job will call: the PDQ hashes of one image, or of the frames
 * sampled from one video, ready to store (MediaHashRepository) and to index (HammingIndex).
 */
import { distanceAt, hexToWords } from './hash256.ts'
import type { MediaDecoder, MediaInput, MediaKind } from './media-decoder.ts'
import { pdqDihedral, type PdqDihedralResult, pdqHash } from './pdq.ts'

/**
 * Consecutive sampled frames this close to the last kept one are the same shot: dropped. Well below PDQ's
 * match threshold (31), so a frame that matches something differently from its predecessor is kept.
 */
export const NEAR_IDENTICAL_FRAME_DISTANCE = 10

export interface HashedFrame {
  /** null for a still image; the frame's time in the video otherwise. */
  frameMs: number | null
  hash: string
  quality: number
}

export interface MediaHashes {
  kind: MediaKind
  frames: HashedFrame[]
  /** Images only: the eight rotations and flips, for queries that should find those too. */
  dihedral?: PdqDihedralResult['dihedral']
}

/**
 * `mediaType` is a MIME type when the caller knows it (the locker sniffed it): `image/*` and `video/*` are
 * taken at their word; anything else (or 'auto') is decided by probing the content.
 */
export async function hashMedia(deps: { decoder: MediaDecoder }, input: MediaInput, mediaType = 'auto'): Promise<MediaHashes> {
  const kind: MediaKind = mediaType.startsWith('image/') ? 'image' : mediaType.startsWith('video/') ? 'video' : await deps.decoder.probe(input)
  if (kind === 'image') {
    const result = pdqDihedral(await deps.decoder.decodeImage(input))
    return { kind, frames: [{ frameMs: null, hash: result.hash, quality: result.quality }], dihedral: result.dihedral }
  }
  const frames: HashedFrame[] = []
  let last: Uint32Array | null = null
  for await (const frame of deps.decoder.videoFrames(input)) {
    const { hash, quality } = pdqHash(frame.pixels)
    const words = hexToWords(hash)
    if (last && distanceAt(words, 0, last, 0) <= NEAR_IDENTICAL_FRAME_DISTANCE) continue
    last = words
    frames.push({ frameMs: frame.frameMs, hash, quality })
  }
  return { kind, frames }
}
