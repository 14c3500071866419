/**
 * The sync's HTTP transport (src/sync/http-transport.ts) against the real server through the link emulator:
 * an upload whose whole body already sits in socket buffers, draining over a link slower than the stall
 * timeout allows, is not taken for a dead one: the transport asks HEAD /media whether the server's offset still
 * grows and keeps waiting. A link that carries nothing is still given up after the stall timeout.
 */
import { createHash, randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CAPTURE_REFUSED, SyncTransportError } from '../../src/core/sync/outbox.ts'
import { createHttpTransport } from '../../src/sync/http-transport.ts'
import { newDevice, signedCapture } from '../evidence/device-fixture.ts'
import { startTestApi, type TestApi } from '../http/harness.ts'
import { startLinkEmulator } from '../support/link-emulator.ts'
import { tmpDir } from '../support/tmp.ts'

describe('sync HTTP transport', () => {
  let api: TestApi
  let port: number
  beforeAll(async () => {
    api = await startTestApi('sqlite')
    await api.app.listen({ port: 0, host: '127.0.0.1' })
    port = (api.app.server.address() as { port: number }).port
  })
  afterAll(async () => {
    // The refused 24 MB creation can leave its server side open behind the emulator (half-open, its body never
    // finished); nothing of the product waits on it, so it is cut here rather than holding the close for ever.
    api?.app.server.closeAllConnections()
    await api?.close()
  })

  const file = (bytes: number) => {
    const data = randomBytes(bytes)
    const path = join(tmpDir(), 'body.bin')
    writeFileSync(path, data)
    return { path, length: data.length, sha256: createHash('sha256').update(data).digest('hex') }
  }

  it('keeps waiting for an upload that drains slowly after its last byte was written, while the server offset grows', { timeout: 90_000 }, async () => {
    // 700 KB at 40 KB/s: ~17 s on the link, the body handed to the sockets long before; a stall timeout of 7 s.
    const link = await startLinkEmulator({ targetPort: port, rate: 40_000, delay: 50 })
    const transport = createHttpTransport({ server: `http://${link.host}:${link.port}`, token: api.token.researcher, stallMs: 7_000 })
    try {
      const f = file(700_000)
      const signal = new AbortController().signal
      const created = await transport.createUpload({ sha256: f.sha256, length: f.length, filename: 'body.bin', source: f.path, withBody: false, onBytes: () => {}, signal })
      let written = 0
      const done = await transport.patchUpload({ url: created.url, sha256: f.sha256, offset: 0, length: f.length, source: f.path, onBytes: (n) => (written += n), signal })
      expect(done).toEqual({ offset: f.length, sha256: f.sha256 })
      expect(written).toBe(f.length)
      expect(await transport.headMedia(f.sha256, signal)).toEqual({ held: true })
    } finally {
      transport.close()
      await link.close()
    }
  })

  it('gives up on a link that carries nothing for the stall timeout', { timeout: 60_000 }, async () => {
    const link = await startLinkEmulator({ targetPort: port, rate: 40_000, delay: 50 })
    const transport = createHttpTransport({ server: `http://${link.host}:${link.port}`, token: api.token.researcher, stallMs: 2_000 })
    try {
      const f = file(200_000)
      const signal = new AbortController().signal
      const created = await transport.createUpload({ sha256: f.sha256, length: f.length, filename: 'body.bin', source: f.path, withBody: false, onBytes: () => {}, signal })
      void link.blackout(20_000)
      const err = await transport.patchUpload({ url: created.url, sha256: f.sha256, offset: 0, length: f.length, source: f.path, onBytes: () => {}, signal }).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(SyncTransportError)
      expect((err as SyncTransportError).code).toBe('stalled')
    } finally {
      transport.close()
      await link.close()
    }
  })

  it('stops sending a body the server refused on its headers, and names a refusal of the record riding with it', { timeout: 60_000 }, async () => {
    // 24 MB at 100 KB/s would take four minutes; a device the server was never told of is refused on the headers.
    const link = await startLinkEmulator({ targetPort: port, rate: 100_000, delay: 50 })
    const transport = createHttpTransport({ server: `http://${link.host}:${link.port}`, token: api.token.researcher, stallMs: 20_000 })
    try {
      const f = file(24_000_000)
      const device = newDevice()
      const capture = signedCapture(device, { sha256: f.sha256, byteLength: f.length, mediaType: 'application/octet-stream', pixelWidth: null, pixelHeight: null })
      let written = 0
      const refused = await transport
        .createUpload({ sha256: f.sha256, length: f.length, filename: 'body.bin', source: f.path, withBody: true, capture, onBytes: (n) => (written += n), signal: new AbortController().signal })
        .then(() => null, (err: unknown) => err)
      expect(refused).toBeInstanceOf(SyncTransportError)
      expect(refused).toMatchObject({ transient: false, status: 409, code: CAPTURE_REFUSED })
      expect((refused as Error).message).toMatch(/device_unknown/)
      // The file stopped being read when the refusal came: what the socket buffers had taken, and no more while
      // the link drains them (without the stop, the rest would follow at the link's rate for minutes).
      const atRefusal = written
      expect(atRefusal).toBeLessThan(f.length / 2)
      await new Promise((r) => setTimeout(r, 2_000))
      expect(written).toBe(atRefusal)
    } finally {
      transport.close()
      await link.close()
    }
  })
})
