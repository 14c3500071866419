/**
 * Field folders for the sync tests and the `sync` bench: reports with photos that are real JPEGs (so the sync
 * makes real thumbnails and publication images), sized like a phone's, from a fixed seed, and optionally big
 * non-image originals (video-like bytes) that only need hashing. Built with the same writer `louder field add` uses.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import sharp from 'sharp'
import { prng } from '../../bench/api-dataset.ts'
import { addFieldReport, createFieldFolder } from '../../src/field/field-writer.ts'

export interface FieldFixtureOptions {
  reports: number
  /** JPEG photos spread over the reports, in order (report i gets photos while they last). */
  photos: number
  /** About this many bytes per photo (noise JPEGs compress poorly, so the size is steerable). */
  photoBytes?: number
  /** Non-image originals (random bytes, `.mp4`), one per report from the first, each this big. */
  videos?: { count: number; bytes: number }
  /** Reports marked urgent: these indices. */
  urgent?: number[]
  seed?: number
}

export interface FieldFixture {
  dir: string
  /** Every media file's bytes, by its path inside the folder's media/ as written. */
  files: { report: number; path: string; bytes: number }[]
  totalMediaBytes: number
}

/** A photo of about `bytes` bytes: seeded noise over a gradient, as a baseline JPEG with EXIF (GPS, a canary). */
export async function noisePhoto(bytes: number, seed: number): Promise<Buffer> {
  const random = prng(seed)
  // Noise JPEG at quality 90 costs ~0.83 bytes a pixel; a 4:3 frame of that many pixels.
  const pixels = Math.max(64 * 48, Math.round(bytes / 0.83))
  const width = Math.max(64, Math.round(Math.sqrt((pixels * 4) / 3)))
  const height = Math.max(48, Math.round((width * 3) / 4))
  const raw = Buffer.allocUnsafe(width * height * 3)
  for (let i = 0; i < raw.length; i++) raw[i] = (random() * 256) | 0
  return sharp(raw, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 90 })
    .withExif({ IFD0: { Make: 'FieldCam', Model: 'CANARY-SHARED-FIXTURE', Copyright: 'CANARY-SHARED-FIXTURE' } })
    .toBuffer()
}

export async function makeFieldFolder(dir: string, options: FieldFixtureOptions): Promise<FieldFixture> {
  await createFieldFolder(dir)
  const staging = join(dir, '..', `${dir.split('/').pop()}-staging`)
  mkdirSync(staging, { recursive: true })
  const random = prng(options.seed ?? 7)
  const files: FieldFixture['files'] = []
  let photo = 0
  const perReport = Math.ceil(options.photos / Math.max(1, options.reports))
  for (let r = 0; r < options.reports; r++) {
    const media: { file: string; caption: string }[] = []
    for (let k = 0; k < perReport && photo < options.photos; k++, photo++) {
      const file = join(staging, `photo-${String(photo).padStart(3, '0')}.jpg`)
      const bytes = await noisePhoto(options.photoBytes ?? 2_000_000, (options.seed ?? 7) * 1000 + photo)
      writeFileSync(file, bytes)
      media.push({ file, caption: `photo ${photo}` })
      files.push({ report: r, path: file, bytes: bytes.length })
    }
    if (options.videos && r < options.videos.count) {
      const file = join(staging, `video-${String(r).padStart(3, '0')}.mp4`)
      const bytes = Buffer.allocUnsafe(options.videos.bytes)
      for (let i = 0; i < bytes.length; i += 4) bytes.writeUInt32LE((random() * 2 ** 32) >>> 0, Math.min(i, bytes.length - 4))
      writeFileSync(file, bytes)
      media.push({ file, caption: `video ${r}` })
      files.push({ report: r, path: file, bytes: bytes.length })
    }
    // Seconds apart, newest last, so "newest first" has an order to keep.
    const at = new Date(Date.UTC(2026, 10, 28, 6, 0, 0) + r * 60_000).toISOString().replace('.000Z', 'Z')
    await addFieldReport(dir, {
      title: `Report ${r}: shelling reported near the market`,
      narrative: `Report ${r}. Witnesses describe shelling near the central market in the morning; ${'details '.repeat(20)}`,
      occurredAt: at,
      eventType: 'Explosions/Remote violence',
      parties: ['Armed group X'],
      location: { lat: 15.6 + r / 1000, lon: 32.5, accuracy: 30 },
      urgent: options.urgent?.includes(r) ?? false,
      media,
    })
  }
  return { dir, files, totalMediaBytes: files.reduce((n, f) => n + f.bytes, 0) }
}
