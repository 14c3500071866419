/**
 * PDQ against the reference: facebook/ThreatExchange's own test images and the C++ hasher's hashes
 * (test/fixtures/pdq/README.md), at the reference's tolerances.
 */
import { describe, expect, it } from 'vitest'
import { DIHEDRAL_TRANSFORMS } from '../../src/core/matching/dihedral.ts'
import { hammingDistance } from '../../src/core/matching/hash256.ts'
import { MAX_UNMATCHABLE_QUALITY, pdqDihedral, pdqHash } from '../../src/core/matching/pdq.ts'
import sharp from 'sharp'
import { hashMedia } from '../../src/core/matching/hash-media.ts'
import { decoder, expectedHashes, fixture, hashImageFile } from './fixtures.ts'

/** The reference's tolerance between implementations (decoders differ slightly). */
const BETWEEN_IMPLEMENTATIONS = 16
/** PDQ's usual match threshold. */
const MATCH = 31

describe('PDQ hashes of the reference images', () => {
  for (const [file, hash] of Object.entries(expectedHashes()))
    it(`${file} is within ${BETWEEN_IMPLEMENTATIONS} of the C++ reference`, async () => {
      const ours = await hashImageFile(file)
      expect(ours.hash).toMatch(/^[0-9a-f]{64}$/)
      expect(hammingDistance(ours.hash, hash)).toBeLessThanOrEqual(BETWEEN_IMPLEMENTATIONS)
    })

  it('flags the low-quality images (≤ 49) and not the photographs', async () => {
    for (const file of ['q0003.jpg', 'q0004.jpg', 'small.jpg']) expect((await hashImageFile(file)).quality).toBeLessThanOrEqual(MAX_UNMATCHABLE_QUALITY)
    for (const file of ['q0122.jpg', 'bridge-1-original.jpg']) expect((await hashImageFile(file)).quality).toBeGreaterThan(MAX_UNMATCHABLE_QUALITY)
  })
})

describe('PDQ matching', () => {
  it('matches the edited bridges to the original within 31', async () => {
    const original = await hashImageFile('bridge-1-original.jpg')
    for (const file of ['shrink-a-lot.jpg', 'square-256x256.jpg', 'blur-a-lot.jpg'])
      expect(hammingDistance((await hashImageFile(file)).hash, original.hash), file).toBeLessThanOrEqual(MATCH)
  })

  it('keeps unrelated images far apart', async () => {
    const bridge = await hashImageFile('bridge-1-original.jpg')
    for (const file of ['q0003.jpg', 'q0004.jpg', 'q0122.jpg'])
      expect(hammingDistance((await hashImageFile(file)).hash, bridge.hash), file).toBeGreaterThan(MATCH)
  })

  // The transforms carry the reference's names (pdqhashing.cpp): its flipX mirrors about the horizontal axis.
  for (const [file, transform] of [
    ['bridge-2-rotate-90.jpg', 'rotate90'],
    ['bridge-5-flipx.jpg', 'flipX'],
  ] as const)
    it(`finds ${file} through the original's ${transform} hash, and through no other`, async () => {
      const original = await hashImageFile('bridge-1-original.jpg')
      const turned = await hashImageFile(file)
      const distances = DIHEDRAL_TRANSFORMS.map((t) => [t, hammingDistance(turned.hash, original.dihedral[t])] as const).sort((a, b) => a[1] - b[1])
      expect(distances[0]![0]).toBe(transform)
      expect(distances[0]![1]).toBeLessThanOrEqual(MATCH)
      expect(distances[1]![1]).toBeGreaterThan(MATCH)
      expect(hammingDistance(turned.hash, original.hash)).toBeGreaterThan(MATCH)
    })
})

describe('EXIF orientation', () => {
  it('hashes the image as displayed: stored turned a quarter, tagged orientation 6, it matches the original', async () => {
    const stored = await sharp(fixture('bridge-1-original.jpg')).rotate(-90).withMetadata({ orientation: 6 }).jpeg().toBuffer()
    const original = await hashImageFile('bridge-1-original.jpg')
    const tagged = await hashMedia({ decoder }, stored, 'image/jpeg')
    expect(hammingDistance(tagged.frames[0]!.hash, original.hash)).toBeLessThanOrEqual(MATCH)
  })
})

describe('PDQ on synthetic pixels', () => {
  function gradient(width: number, height: number): Uint8Array {
    const data = new Uint8Array(width * height * 3)
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++) {
        const p = (y * width + x) * 3
        data[p] = (x * 255) / width
        data[p + 1] = (y * 255) / height
        data[p + 2] = ((x ^ y) & 0x20) * 4
      }
    return data
  }

  it('gives the same hash for grey pixels as for the same grey in RGB', () => {
    const grey = new Uint8Array(40 * 30).map((_, k) => (k * 37) % 251)
    const rgb = new Uint8Array(grey.length * 3).map((_, k) => grey[Math.floor(k / 3)]!)
    expect(pdqHash({ data: grey, width: 40, height: 30, channels: 1 })).toEqual(pdqHash({ data: rgb, width: 40, height: 30, channels: 3 }))
  })

  it('computes the dihedral hashes the reference way: the original hash of a mirrored image equals the flipY hash of the image', () => {
    const w = 64
    const h = 64
    const data = gradient(w, h)
    const mirrored = new Uint8Array(data.length)
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) mirrored.set(data.subarray((y * w + x) * 3, (y * w + x) * 3 + 3), (y * w + (w - 1 - x)) * 3)
    const a = pdqDihedral({ data, width: w, height: h, channels: 3 })
    const b = pdqHash({ data: mirrored, width: w, height: h, channels: 3 })
    // Exact on a 64×64 input: no filter, so mirroring commutes with everything but float rounding near the median.
    expect(hammingDistance(a.dihedral.flipY, b.hash)).toBeLessThanOrEqual(2)
  })

  it('refuses images under 5×5 with a typed error', () => {
    expect(() => pdqHash({ data: new Uint8Array(3), width: 1, height: 1, channels: 3 })).toThrow(expect.objectContaining({ code: 'too_small' }))
  })
})
