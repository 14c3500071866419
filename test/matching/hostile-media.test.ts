/**
 * Hostile and broken media end in a typed MediaError with a clear message: never a crash, never a decode of
 * a decompression bomb.
 */
import { readFileSync } from 'node:fs'
import sharp from 'sharp'
import { describe, expect, it } from 'vitest'
import { hashMedia } from '../../src/core/matching/hash-media.ts'
import { MediaError } from '../../src/core/matching/media-error.ts'
import { decoder, fixture } from './fixtures.ts'
import { pngBomb } from '../support/hostile-media.ts'

async function refusal(input: Uint8Array, mediaType?: string): Promise<MediaError> {
  try {
    await hashMedia({ decoder }, input, mediaType)
  } catch (err) {
    expect(err).toBeInstanceOf(MediaError)
    return err as MediaError
  }
  throw new Error('expected hashMedia to refuse the input')
}


describe('hostile media', () => {
  const jpeg = readFileSync(fixture('bridge-1-original.jpg'))

  it('refuses zero bytes', async () => {
    expect((await refusal(new Uint8Array(0))).code).toBe('empty')
    expect((await refusal(new Uint8Array(0), 'image/jpeg')).code).toBe('empty')
  })

  it('refuses a truncated JPEG', async () => {
    const err = await refusal(jpeg.subarray(0, Math.floor(jpeg.length / 3)), 'image/jpeg')
    expect(err.code).toBe('corrupt')
    expect(err.message).toMatch(/damaged or truncated/)
  })

  it('refuses a JPEG whose header is overwritten', async () => {
    const broken = Buffer.from(jpeg)
    for (let i = 200; i < 2000; i++) broken[i] = (i * 7) & 0xff
    expect((await refusal(broken, 'image/jpeg')).code).toBe('corrupt')
  })

  it('refuses text that is neither image nor video', async () => {
    expect((await refusal(Buffer.from('not an image, not a video\n'))).code).toBe('unsupported')
  })

  it('refuses a 1×1 image', async () => {
    const one = await sharp({ create: { width: 1, height: 1, channels: 3, background: '#f00' } }).png().toBuffer()
    const err = await refusal(one)
    expect(err.code).toBe('too_small')
    expect(err.message).toMatch(/1×1/)
  })

  it('refuses a decompression bomb from its header, before decoding', async () => {
    const bomb = await pngBomb()
    const before = process.memoryUsage().rss
    const err = await refusal(bomb)
    expect(err.code).toBe('too_large')
    expect(err.message).toMatch(/more than the 100 megapixels/)
    // Decoding 10 gigapixels would take 30 GB; refusing from the header takes next to nothing.
    expect(process.memoryUsage().rss - before).toBeLessThan(200 * 1024 * 1024)
    expect((await refusal(bomb, 'image/png')).code).toBe('too_large')
  })
})
