/**
 * PDQ, Meta's perceptual hash (facebook/ThreatExchange pdq; "The TMK+PDQF and PDQ hashing algorithms",
 * 2019), written from the published algorithm: luminance → Jarosz tent-filter downsample to 64×64 → the
 * 16×16 lowest non-DC frequencies of a 2-D DCT → one bit per coefficient, set when it exceeds the median.
 * Pure: pixels in, hashes out. Decoding (and the reference's resize of large images to 512×512 first) is
 * src/media's job.
 */
import { DIHEDRAL_TRANSFORMS, type DihedralTransform, transformDct } from './dihedral.ts'
import { decimate, jaroszFilter, jaroszWindowSize } from './jarosz.ts'
import { MediaError } from './media-error.ts'

/** Below this many pixels on a side the reference refuses to hash (it returns an all-zero hash, quality 0). */
export const MIN_HASHABLE_DIMENSION = 5
/** PDQ's guidance: hashes of quality at or below this are too featureless to match on. */
export const MAX_UNMATCHABLE_QUALITY = 49

export interface PdqResult {
  /** 64 hex digits, as the reference prints them. */
  hash: string
  /** 0–100: how much significant gradient the 64×64 downsample holds. */
  quality: number
}

export interface PdqDihedralResult extends PdqResult {
  /** The hash of each rotation and flip of the image; `original` equals `hash`. */
  dihedral: Record<DihedralTransform, string>
}

/** Pixels as PDQ takes them: 8-bit RGB (3 bytes a pixel, row-major) or 8-bit grey (1 byte a pixel). */
export interface Pixels {
  data: Uint8Array
  width: number
  height: number
  channels: 1 | 3
}


// ITU-R BT.601 luma, the reference's coefficients.
const LUMA_R = 0.299
const LUMA_G = 0.587
const LUMA_B = 0.114

export function luminance(pixels: Pixels): Float32Array {
  const { data, width, height, channels } = pixels
  const n = width * height
  if (data.length < n * channels) throw new RangeError(`expected ${n * channels} bytes of pixels, got ${data.length}`)
  const luma = new Float32Array(n)
  if (channels === 1) for (let k = 0; k < n; k++) luma[k] = data[k]!
  else for (let k = 0, p = 0; k < n; k++, p += 3) luma[k] = LUMA_R * data[p]! + LUMA_G * data[p + 1]! + LUMA_B * data[p + 2]!
  return luma
}

/** The DCT basis rows for frequencies 1…16 over 64 samples (row-major 16 × 64), scaled by √(2/64). */
const DCT_MATRIX = (() => {
  const m = new Float64Array(16 * 64)
  const scale = Math.sqrt(2 / 64)
  for (let i = 0; i < 16; i++) for (let j = 0; j < 64; j++) m[i * 64 + j] = scale * Math.cos((Math.PI / 2 / 64) * (i + 1) * (2 * j + 1))
  return m
})()

/** D · A · Dᵀ: only the 16×16 block PDQ keeps, computed directly (cheaper than a full fast DCT). */
function dct64To16(a: Float32Array): Float32Array {
  const t = new Float64Array(16 * 64)
  for (let i = 0; i < 16; i++)
    for (let j = 0; j < 64; j++) {
      let s = 0
      for (let k = 0; k < 64; k++) s += DCT_MATRIX[i * 64 + k]! * a[k * 64 + j]!
      t[i * 64 + j] = s
    }
  const b = new Float32Array(16 * 16)
  for (let i = 0; i < 16; i++)
    for (let j = 0; j < 16; j++) {
      let s = 0
      for (let k = 0; k < 64; k++) s += t[i * 64 + k]! * DCT_MATRIX[j * 64 + k]!
      b[i * 16 + j] = s
    }
  return b
}

/**
 * The reference's heuristic: the sum of significant gradients between neighbouring cells of the 64×64
 * downsample (each difference scaled to 0–100 and truncated, so faint noise counts for nothing), ÷ 90,
 * capped at 100.
 */
function qualityOf(a: Float32Array): number {
  let sum = 0
  for (let i = 0; i < 63; i++) for (let j = 0; j < 64; j++) sum += Math.abs(Math.trunc(((a[i * 64 + j]! - a[(i + 1) * 64 + j]!) * 100) / 255))
  for (let i = 0; i < 64; i++) for (let j = 0; j < 63; j++) sum += Math.abs(Math.trunc(((a[i * 64 + j]! - a[i * 64 + j + 1]!) * 100) / 255))
  return Math.min(100, Math.floor(sum / 90))
}

/** Bit i×16+j is set when coefficient (i, j) exceeds the median (the 128th smallest, as Torben's method picks). */
function bitsToHex(dct: Float32Array): string {
  const median = Float32Array.from(dct).sort()[127]!
  let hex = ''
  // Hex digit d (from the left) holds bits 255 − 4d … 252 − 4d.
  for (let d = 0; d < 64; d++) {
    const top = 255 - 4 * d
    let nibble = 0
    for (let b = 0; b < 4; b++) nibble = (nibble << 1) | (dct[top - b]! > median ? 1 : 0)
    hex += nibble.toString(16)
  }
  return hex
}

function dctAndQuality(pixels: Pixels): { dct: Float32Array; quality: number } {
  const { width, height } = pixels
  if (width < MIN_HASHABLE_DIMENSION || height < MIN_HASHABLE_DIMENSION) throw new MediaError('too_small', `the image is ${width}×${height} pixels; PDQ needs at least ${MIN_HASHABLE_DIMENSION}×${MIN_HASHABLE_DIMENSION}`)
  const luma = luminance(pixels)
  let cells: Float32Array
  if (width === 64 && height === 64) cells = luma
  else {
    jaroszFilter(luma, new Float32Array(luma.length), height, width, jaroszWindowSize(width, 64), jaroszWindowSize(height, 64))
    cells = decimate(luma, height, width, 64, 64)
  }
  return { dct: dct64To16(cells), quality: qualityOf(cells) }
}

/** The PDQ hash and quality of an image. Throws MediaError('too_small') below 5×5 pixels. */
export function pdqHash(pixels: Pixels): PdqResult {
  const { dct, quality } = dctAndQuality(pixels)
  return { hash: bitsToHex(dct), quality }
}

/** The PDQ hash, quality, and the hashes of the image's eight rotations and flips (from one DCT). */
export function pdqDihedral(pixels: Pixels): PdqDihedralResult {
  const { dct, quality } = dctAndQuality(pixels)
  const dihedral = {} as Record<DihedralTransform, string>
  for (const t of DIHEDRAL_TRANSFORMS) dihedral[t] = bitsToHex(t === 'original' ? dct : transformDct(dct, t))
  return { hash: dihedral.original, quality, dihedral }
}
