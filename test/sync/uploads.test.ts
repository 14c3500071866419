/**
 * Resumable uploads (tus 1.0, issue 7, docs/field-sync.md) on a real server and database: creation, creation
 * with upload, resuming after a cut and after a restart, completion sealed exactly once, refused hashes and
 * sizes, other people's uploads, expiry, and the partial bytes never in clear under the data directory.
 * On SQLite and on PostgreSQL.
 */
import { createHash, randomBytes, verify } from 'node:crypto'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import type { LightMyRequestResponse } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ctrAt } from '../../src/blobs/partial-uploads.ts'
import { canonicalJson } from '../../src/core/canonical-json.ts'
import { captureRecordBytes } from '../../src/core/evidence/capture-record.ts'
import { publicKeyFromRaw } from '../../src/core/evidence/device-key.ts'
import { expireUploads, sealAwaitingUploads } from '../../src/core/sync/uploads.ts'
import { jobHandlers } from '../../src/worker-handlers.ts'
import { newDevice, registeredDevice, requestDeviceOver, signedCapture } from '../evidence/device-fixture.ts'
import { bearer, expectProblem, startTestApi, type TestApi } from '../http/harness.ts'
import { filesUnder } from '../support/canary.ts'

const LIMIT = 1024 * 1024
const TUS = { 'tus-resumable': '1.0.0' }
const OCTETS = { 'content-type': 'application/offset+octet-stream' }
const CANARY = 'CANARY-UPLOAD-7Q3Z'

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex')
const metadata = (fields: Record<string, string>) =>
  Object.entries(fields)
    .map(([k, v]) => `${k} ${Buffer.from(v).toString('base64')}`)
    .join(',')

/** Random bytes with a canary in the middle (and so in any piece that holds the middle). */
function fileWithCanary(size = 200_000): Buffer {
  const bytes = randomBytes(size)
  Buffer.from(CANARY).copy(bytes, Math.floor(size / 2) - 5)
  return bytes
}

describe('AES-CTR positioned by offset', () => {
  it('continues the keystream at any offset, aligned or not', () => {
    const key = randomBytes(32)
    const plain = randomBytes(1000)
    const whole = ctrAt(key, 0).update(plain)
    for (const cut of [1, 15, 16, 17, 333, 999]) {
      const joined = Buffer.concat([ctrAt(key, 0).update(plain.subarray(0, cut)), ctrAt(key, cut).update(plain.subarray(cut))])
      expect(joined.equals(whole), `cut at ${cut}`).toBe(true)
    }
    expect(ctrAt(key, 0, true).update(whole).equals(plain)).toBe(true)
  })
})

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`tus uploads [${dialect}]`, () => {
    let api: TestApi
    beforeAll(async () => {
      api = await startTestApi(dialect, { uploadMaxBytes: String(LIMIT) })
    })
    afterAll(async () => {
      await api?.close()
    })

    const db = () => api.ctx.db.kysely
    const uploadsDir = () => join(api.ctx.config.dataDir, 'uploads')

    function create(token: string, file: Buffer, options: { declared?: string; body?: Buffer; meta?: Record<string, string>; length?: number } = {}) {
      const meta = options.meta ?? { sha256: options.declared ?? sha256(file), filename: 'clip.mp4' }
      return api.app.inject({
        method: 'POST',
        url: '/api/v1/uploads/',
        headers: { ...bearer(token), ...TUS, 'upload-length': String(options.length ?? file.length), 'upload-metadata': metadata(meta), ...(options.body ? OCTETS : {}) },
        ...(options.body ? { payload: options.body } : {}),
      })
    }
    const patch = (token: string, location: string, offset: number, body: Buffer) =>
      api.app.inject({ method: 'PATCH', url: location, headers: { ...bearer(token), ...TUS, ...OCTETS, 'upload-offset': String(offset) }, payload: body })
    const head = (token: string, location: string) => api.app.inject({ method: 'HEAD', url: location, headers: { ...bearer(token), ...TUS } })
    const locationOf = (res: LightMyRequestResponse) => {
      expect(res.statusCode, res.body).toBe(201)
      const location = String(res.headers.location)
      expect(location).toMatch(/^\/api\/v1\/uploads\/[0-9a-f-]{36}$/)
      return location
    }
    const idOf = (location: string) => location.split('/').pop()!
    const itemsWith = (sha: string) => db().selectFrom('media_items').selectAll().where('sha256', '=', sha).execute()
    const receivedEvents = async (sha: string) =>
      (await db().selectFrom('custody_events').select('body').execute()).filter((e) => e.body.includes('"media.received"') && e.body.includes(sha)).length
    const blobCount = () => filesUnder(join(api.ctx.config.dataDir, 'blobs')).length

    it('creates, resumes in pieces at unaligned offsets, and seals on the last byte before answering', async () => {
      const file = fileWithCanary()
      const created = await create(api.token.researcher, file)
      const location = locationOf(created)
      expect(created.headers['tus-resumable']).toBe('1.0.0')
      expect(created.headers['upload-expires']).toBeDefined()

      const first = await patch(api.token.researcher, location, 0, file.subarray(0, 70_001))
      expect(first.statusCode, first.body).toBe(204)
      expect(first.headers['upload-offset']).toBe('70001')
      expect(first.headers['louder-media-sha256']).toBeUndefined()

      const state = await head(api.token.researcher, location)
      expect(state.statusCode).toBe(200)
      expect(state.headers['upload-offset']).toBe('70001')
      expect(state.headers['upload-length']).toBe(String(file.length))
      expect(state.headers['cache-control']).toBe('no-store')

      // While partial: the bytes are under the data directory, but never in clear.
      for (const f of filesUnder(api.ctx.config.dataDir)) expect(f.bytes.includes(CANARY), f.path).toBe(false)
      expect(statSync(join(uploadsDir(), idOf(location))).size).toBe(70_001)

      const last = await patch(api.token.researcher, location, 70_001, file.subarray(70_001))
      expect(last.statusCode, last.body).toBe(204)
      expect(last.headers['upload-offset']).toBe(String(file.length))
      expect(last.headers['louder-media-sha256']).toBe(sha256(file))
      // Sealed before the answer: the item and its event are there as soon as it arrived.
      const [item] = await itemsWith(sha256(file))
      expect(item?.kind).toBe('original')
      expect(Number(item?.byte_length)).toBe(file.length)
      expect(await receivedEvents(sha256(file))).toBe(1)
      expect(existsSync(join(uploadsDir(), idOf(location)))).toBe(false)
      for (const f of filesUnder(api.ctx.config.dataDir)) expect(f.bytes.includes(CANARY), f.path).toBe(false)

      // HEAD after: complete, and names the item. The locker holds it for anyone who asks.
      const after = await head(api.token.researcher, location)
      expect(after.headers['upload-offset']).toBe(String(file.length))
      expect(after.headers['louder-media-sha256']).toBe(sha256(file))
      expect((await api.app.inject({ method: 'HEAD', url: `/api/v1/media/${sha256(file)}`, headers: bearer(api.token.editor) })).statusCode).toBe(200)
    })

    it('answers a retried completion the same way, with one item and one media.received event', async () => {
      const file = randomBytes(50_000)
      const location = locationOf(await create(api.token.researcher, file))
      const [a, b] = await Promise.all([patch(api.token.researcher, location, 0, file), head(api.token.researcher, location)])
      expect(a.statusCode, a.body).toBe(204)
      expect(b.statusCode).toBe(200)
      for (let i = 0; i < 3; i++) {
        const again = await patch(api.token.researcher, location, file.length, Buffer.alloc(0))
        expect(again.statusCode, again.body).toBe(204)
        expect(again.headers['louder-media-sha256']).toBe(sha256(file))
      }
      expect(await itemsWith(sha256(file))).toHaveLength(1)
      expect(await receivedEvents(sha256(file))).toBe(1)
    })

    it('takes the whole file with the creation request (creation-with-upload), or its first part', async () => {
      const file = randomBytes(30_000)
      const whole = await create(api.token.researcher, file, { body: file })
      locationOf(whole)
      expect(whole.headers['upload-offset']).toBe(String(file.length))
      expect(whole.headers['louder-media-sha256']).toBe(sha256(file))
      expect(await itemsWith(sha256(file))).toHaveLength(1)

      const other = randomBytes(30_000)
      const part = await create(api.token.researcher, other, { body: other.subarray(0, 12_345) })
      const location = locationOf(part)
      expect(part.headers['upload-offset']).toBe('12345')
      const rest = await patch(api.token.researcher, location, 12_345, other.subarray(12_345))
      expect(rest.headers['louder-media-sha256']).toBe(sha256(other))
    })

    it('refuses bytes that do not hash to the declared SHA-256 (422) and keeps nothing of them', async () => {
      const file = randomBytes(40_000)
      const blobsBefore = blobCount()
      const location = locationOf(await create(api.token.researcher, file, { declared: sha256(Buffer.from('something else')) }))
      expect((await patch(api.token.researcher, location, 0, file.subarray(0, 10_000))).statusCode).toBe(204)
      const refused = await patch(api.token.researcher, location, 10_000, file.subarray(10_000))
      expectProblem(refused, 422, 'hash_mismatch')
      expect(existsSync(join(uploadsDir(), idOf(location)))).toBe(false)
      expect(blobCount()).toBe(blobsBefore)
      expect(await itemsWith(sha256(file))).toHaveLength(0)
      expect(await db().selectFrom('uploads').select('id').where('id', '=', idOf(location)).execute()).toHaveLength(0)
      expect((await head(api.token.researcher, location)).statusCode).toBe(404)
    })

    it('refuses a declared length over the limit (413), and missing or malformed metadata (400)', async () => {
      expectProblem(await create(api.token.researcher, Buffer.alloc(0), { length: LIMIT + 1 }), 413, 'upload_too_large')
      const noHash = await create(api.token.researcher, Buffer.alloc(10), { meta: { filename: 'a.jpg' } })
      expect(expectProblem(noHash, 400).errors!.map((e) => e.field)).toContain('/headers/upload-metadata/sha256')
      expectProblem(await create(api.token.researcher, Buffer.alloc(10), { meta: { sha256: 'ABC' } }), 400)
      expectProblem(await create(api.token.researcher, Buffer.alloc(10), { meta: { sha256: sha256(Buffer.alloc(10)), incidentId: '../etc' } }), 400)
      expectProblem(await create(api.token.researcher, Buffer.alloc(10), { meta: { sha256: sha256(Buffer.alloc(10)), filename: 'a\u0000b' } }), 400)
      // Without Tus-Resumable, and with no metadata at all.
      expectProblem(await api.app.inject({ method: 'POST', url: '/api/v1/uploads', headers: { ...bearer(api.token.researcher), 'upload-length': '10' } }), 412)
      expectProblem(await api.app.inject({ method: 'POST', url: '/api/v1/uploads', headers: { ...bearer(api.token.researcher), ...TUS, 'upload-length': '10' } }), 400)
      expect(readdirSync(uploadsDir()).length).toBe(await countUnfinished())
    })

    const countUnfinished = async () => (await db().selectFrom('uploads').select('id').where('status', '=', 'receiving').execute()).length

    it('refuses a PATCH at another offset (409), unknown uploads (404), and keeps each upload to its creator', async () => {
      const file = randomBytes(20_000)
      const location = locationOf(await create(api.token.researcher, file))
      expect((await patch(api.token.researcher, location, 0, file.subarray(0, 5000))).statusCode).toBe(204)
      expectProblem(await patch(api.token.researcher, location, 4000, file.subarray(4000)), 409, 'upload_offset_mismatch')
      expectProblem(await patch(api.token.researcher, '/api/v1/uploads/0190f5d6-6f2a-7cc1-8000-000000000000', 0, file), 404)
      expectProblem(await patch(api.token.researcher, '/api/v1/uploads/not-an-id', 0, file), 400)

      // Another researcher (and an editor) see nothing of it: not its state, not its bytes, cannot end it.
      const other = await api.user(['researcher'])
      for (const token of [other.token, api.token.editor]) {
        expect((await head(token, location)).statusCode).toBe(404)
        expectProblem(await patch(token, location, 5000, file.subarray(5000)), 404)
        expectProblem(await api.app.inject({ method: 'DELETE', url: location, headers: { ...bearer(token), ...TUS } }), 404)
        const miss = await api.app.inject({ method: 'HEAD', url: `/api/v1/media/${sha256(file)}`, headers: bearer(token) })
        expect(miss.headers['louder-upload-location']).toBeUndefined()
      }
      // The owner, after losing the upload's address, finds it by the hash.
      const lost = await api.app.inject({ method: 'HEAD', url: `/api/v1/media/${sha256(file)}`, headers: bearer(api.token.researcher) })
      expect(lost.statusCode).toBe(404)
      expect(lost.headers['louder-upload-location']).toBe(location)
      expect(lost.headers['upload-offset']).toBe('5000')

      // A readonly partner or no token: refused before anything is read; a revoked token: 401.
      expect((await head(api.token.partner, location)).statusCode).toBe(403)
      expect((await api.app.inject({ method: 'HEAD', url: location, headers: TUS })).statusCode).toBe(401)
      const revoked = await api.user(['researcher'])
      const mine = locationOf(await create(revoked.token, file))
      const tokenRow = await db().selectFrom('api_tokens').select('id').where('user_id', '=', revoked.id).executeTakeFirstOrThrow()
      await api.ctx.store.repos.tokens.revoke(tokenRow.id, Date.now())
      expectProblem(await patch(revoked.token, mine, 0, file), 401)

      // Termination: the owner ends it; its bytes go.
      const ended = await api.app.inject({ method: 'DELETE', url: location, headers: { ...bearer(api.token.researcher), ...TUS } })
      expect(ended.statusCode, ended.body).toBe(204)
      expect((await head(api.token.researcher, location)).statusCode).toBe(404)
      expect(existsSync(join(uploadsDir(), idOf(location)))).toBe(false)
    })

    it('keeps what arrived before a connection was cut mid-PATCH, and resumes from there', async () => {
      const file = fileWithCanary(300_000)
      const location = locationOf(await create(api.token.researcher, file))
      await api.app.listen({ port: 0, host: '127.0.0.1' })
      try {
        const { port } = api.app.server.address() as { port: number }
        const sent = 150_000
        const socket = connect(port, '127.0.0.1')
        await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
        socket.write(
          `PATCH ${location} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${api.token.researcher}\r\nTus-Resumable: 1.0.0\r\n` +
            `Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\nContent-Length: ${file.length}\r\n\r\n`,
        )
        socket.write(file.subarray(0, sent))
        // Wait until the server has them (the file grows as they arrive), then cut.
        const path = join(uploadsDir(), idOf(location))
        for (let i = 0; i < 400 && statSync(path).size < sent; i++) await new Promise((r) => setTimeout(r, 10))
        expect(statSync(path).size).toBe(sent)
        socket.resetAndDestroy()

        let offset = '0'
        for (let i = 0; i < 400 && offset !== String(sent); i++) {
          offset = String((await head(api.token.researcher, location)).headers['upload-offset'])
          if (offset !== String(sent)) await new Promise((r) => setTimeout(r, 10))
        }
        expect(offset).toBe(String(sent))
        for (const f of filesUnder(api.ctx.config.dataDir)) expect(f.bytes.includes(CANARY), f.path).toBe(false)

        const rest = await patch(api.token.researcher, location, sent, file.subarray(sent))
        expect(rest.statusCode, rest.body).toBe(204)
        expect(rest.headers['louder-media-sha256']).toBe(sha256(file))
      } finally {
        // Back to an app that is not listening: the next tests inject.
        await api.restart()
      }
    })

    it('resumes an upload after a server restart, and seals one whose last byte came just before the server stopped', async () => {
      const file = randomBytes(60_000)
      const location = locationOf(await create(api.token.researcher, file, { body: file.subarray(0, 20_000) }))
      await api.restart()
      expect((await head(api.token.researcher, location)).headers['upload-offset']).toBe('20000')
      const rest = await patch(api.token.researcher, location, 20_000, file.subarray(20_000))
      expect(rest.headers['louder-media-sha256']).toBe(sha256(file))

      // All bytes durable, no seal (the process died in between): written below the route, as the store does.
      const seals: { file: Buffer; id: string }[] = []
      for (let i = 0; i < 2; i++) {
        const orphan = randomBytes(25_000)
        const id = idOf(locationOf(await create(api.token.researcher, orphan)))
        const upload = (await api.ctx.store.repos.uploads.get(id))!
        await api.ctx.uploads.partials.write(upload, 0, [orphan], (at) => api.ctx.store.repos.uploads.advance(id, at, Date.now(), Date.now() + 3600_000))
        seals.push({ file: orphan, id })
      }
      await api.restart()
      // The next HEAD seals it …
      const sealed = await head(api.token.researcher, `/api/v1/uploads/${seals[0]!.id}`)
      expect(sealed.headers['louder-media-sha256']).toBe(sha256(seals[0]!.file))
      // … and so does start-up's job, for one nobody asked about.
      expect(await sealAwaitingUploads(api.ctx.uploads.deps)).toBe(1)
      expect(await itemsWith(sha256(seals[1]!.file))).toHaveLength(1)
      expect(await receivedEvents(sha256(seals[1]!.file))).toBe(1)
      const again = await patch(api.token.researcher, `/api/v1/uploads/${seals[1]!.id}`, 25_000, Buffer.alloc(0))
      expect(again.headers['louder-media-sha256']).toBe(sha256(seals[1]!.file))
    })

    it('answers 410 for an upload idle past its expiry, and the expiry job discards it', async () => {
      const file = randomBytes(30_000)
      const location = locationOf(await create(api.token.researcher, file, { body: file.subarray(0, 1000) }))
      const id = idOf(location)
      const expireAfter = api.ctx.config.uploads.expireAfterMs
      expect(expireAfter).toBe(72 * 3600_000)
      const idle = Date.now() - expireAfter - 60_000
      await db().updateTable('uploads').set({ updated_at: idle, expires_at: idle + expireAfter }).where('id', '=', id).execute()
      expect((await head(api.token.researcher, location)).statusCode).toBe(410)
      expectProblem(await patch(api.token.researcher, location, 1000, file.subarray(1000)), 410, 'upload_expired')
      expect((await api.app.inject({ method: 'HEAD', url: `/api/v1/media/${sha256(file)}`, headers: bearer(api.token.researcher) })).headers['louder-upload-location']).toBeUndefined()

      // A fresh upload is left alone by the job.
      const fresh = idOf(locationOf(await create(api.token.researcher, randomBytes(100))))
      await jobHandlers(api.ctx)['sync.expire-uploads']!({}, undefined as never, new AbortController().signal)
      expect(await api.ctx.store.repos.uploads.get(id)).toBeNull()
      expect(existsSync(join(uploadsDir(), id))).toBe(false)
      expect((await head(api.token.researcher, location)).statusCode).toBe(404)
      expect(await api.ctx.store.repos.uploads.get(fresh)).not.toBeNull()
      // Its turn comes when the clock passes its expiry.
      expect(await expireUploads({ ...api.ctx.uploads.deps, now: () => Date.now() + expireAfter + 1000 })).toBeGreaterThanOrEqual(1)
      expect(await api.ctx.store.repos.uploads.get(fresh)).toBeNull()
    })

    it("files a device's derivative (a capture naming its parent) as that parent's derivative", async () => {
      const device = await registeredDevice(api.app, api.token.researcher, api.token.editor)
      const parent = randomBytes(5000)
      const thumb = randomBytes(3000)
      const capture = signedCapture(device, { sha256: sha256(thumb), byteLength: thumb.length, mediaType: 'application/octet-stream', pixelWidth: null, pixelHeight: null, parentSha256: sha256(parent) })
      const logged = await api.app.inject({ method: 'POST', url: '/api/v1/captures', headers: { ...bearer(api.token.researcher), 'content-type': 'application/json' }, payload: JSON.stringify(capture) })
      expect(logged.statusCode, logged.body).toBe(201)
      const res = await create(api.token.researcher, thumb, { body: thumb })
      expect(res.headers['louder-media-sha256']).toBe(sha256(thumb))
      const [item] = await itemsWith(sha256(thumb))
      expect(item).toMatchObject({ kind: 'derivative', parent_sha256: sha256(parent) })
      // Louder signs its derivation record, naming the device's capture record, and logs it as any derivative.
      const derivation = JSON.parse(item!.derivation!) as { record: Record<string, unknown>; signature: string; keyName: string }
      expect(derivation.record).toMatchObject({ schema: 'louder.derivation', parentSha256: sha256(parent), capture: { deviceKeyId: device.keyId } })
      const signer = await api.ctx.logKey.signer()
      expect(derivation.keyName).toBe(signer.name)
      expect(verify(null, Buffer.from(canonicalJson(derivation.record)), publicKeyFromRaw(signer.publicKey), Buffer.from(derivation.signature, 'base64'))).toBe(true)
      const events = await Promise.all((await api.ctx.store.repos.mediaItems.custodyEvents(sha256(thumb))).map((i) => api.ctx.store.repos.custodyLog.entry(i)))
      expect(events.map((e) => JSON.parse(e!.body).type).sort()).toEqual(['derivative.created', 'media.received'])
    })

    it('logs a capture record sent in Upload-Metadata before the upload, so a derivative travels beside its record', async () => {
      const device = await registeredDevice(api.app, api.token.researcher, api.token.editor)
      const parent = randomBytes(4000)
      const thumb = randomBytes(2500)
      const capture = signedCapture(device, { sha256: sha256(thumb), byteLength: thumb.length, mediaType: 'application/octet-stream', pixelWidth: null, pixelHeight: null, parentSha256: sha256(parent) })
      const res = await create(api.token.researcher, thumb, { body: thumb, meta: { sha256: sha256(thumb), filename: 'p.thumb.webp', capture: JSON.stringify(capture) } })
      expect(res.statusCode, res.body).toBe(201)
      expect(res.headers['louder-media-sha256']).toBe(sha256(thumb))
      // The answer confirms the record is logged, so the device need not send it again.
      const recordSha256 = sha256(captureRecordBytes(capture.record))
      expect(res.headers['louder-capture-record']).toBe(recordSha256)
      const [item] = await itemsWith(sha256(thumb))
      expect(item).toMatchObject({ kind: 'derivative', parent_sha256: sha256(parent) })
      expect(JSON.parse(item!.derivation!).record).toMatchObject({ capture: { deviceKeyId: device.keyId } })
      const audit = await db().selectFrom('audit_log').selectAll().where('action', '=', 'capture.register').where('resource_id', '=', sha256(thumb)).execute()
      expect(audit).toHaveLength(1)
      expect(audit[0]).toMatchObject({ status: 201, outcome: 'ok' })
      // The same record in the batch afterwards is the same capture: answered, nothing logged twice.
      const again = await api.app.inject({ method: 'POST', url: '/api/v1/captures', headers: { ...bearer(api.token.researcher), 'content-type': 'application/json' }, payload: JSON.stringify(capture) })
      expect(again.statusCode, again.body).toBe(200)
      const registered = (await db().selectFrom('custody_events').select('body').execute()).filter((e) => e.body.includes('"capture.registered"') && e.body.includes(sha256(thumb)))
      expect(registered).toHaveLength(1)
      // Riding along again (a retried creation) confirms it again and makes no data key for a record already logged.
      const keys = async () => Number((await db().selectFrom('data_keys').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n)
      const keysBefore = await keys()
      const retried = await create(api.token.researcher, thumb, { meta: { sha256: sha256(thumb), capture: JSON.stringify(capture) } })
      expect(retried.statusCode, retried.body).toBe(201)
      expect(retried.headers['louder-capture-record']).toBe(recordSha256)
      expect(await keys()).toBe(keysBefore + 1) // the upload's own data key, nothing for the record

      // Another record already logged for these bytes stands; the upload goes on.
      const other = randomBytes(2600)
      const first = signedCapture(device, { sha256: sha256(other), byteLength: other.length, mediaType: 'application/octet-stream', pixelWidth: null, pixelHeight: null, notes: 'first' })
      const logged = await api.app.inject({ method: 'POST', url: '/api/v1/captures', headers: { ...bearer(api.token.researcher), 'content-type': 'application/json' }, payload: JSON.stringify(first) })
      expect(logged.statusCode, logged.body).toBe(201)
      const second = signedCapture(device, { sha256: sha256(other), byteLength: other.length, mediaType: 'application/octet-stream', pixelWidth: null, pixelHeight: null, notes: 'second' })
      const sent = await create(api.token.researcher, other, { body: other, meta: { sha256: sha256(other), capture: JSON.stringify(second) } })
      expect(sent.statusCode, sent.body).toBe(201)
      expect(sent.headers['louder-capture-record']).toBeUndefined()
      expect(await itemsWith(sha256(other))).toHaveLength(1)
    })

    it('refuses a capture record in Upload-Metadata that is malformed, for other bytes, or from an unapproved device, and keeps nothing', async () => {
      const device = await registeredDevice(api.app, api.token.researcher, api.token.editor)
      const file = randomBytes(3000)
      const good = () => signedCapture(device, { sha256: sha256(file), byteLength: file.length, mediaType: 'application/octet-stream', pixelWidth: null, pixelHeight: null })
      const pending = newDevice()
      await requestDeviceOver(api.app, api.token.researcher, pending)
      const cases: [string, string, number, string][] = [
        ['not JSON', '{"record":', 400, '/headers/upload-metadata/capture'],
        ['an array', '[]', 400, '/headers/upload-metadata/capture'],
        ['too long', `{"record":"${'x'.repeat(9000)}"}`, 400, '/headers/upload-metadata/capture'],
        ['another medium', JSON.stringify(signedCapture(device, { sha256: sha256(randomBytes(10)), byteLength: file.length })), 400, '/headers/upload-metadata/capture/record/sha256'],
        ['another length', JSON.stringify(signedCapture(device, { sha256: sha256(file), byteLength: file.length + 1 })), 400, '/headers/upload-metadata/capture/record/byteLength'],
        ['a bad signature', JSON.stringify({ ...good(), signature: signedCapture(device, { sha256: sha256(file), byteLength: file.length, notes: 'other' }).signature }), 400, '/headers/upload-metadata/capture/signature'],
        ['a missing field', JSON.stringify({ record: { ...good().record, schema: undefined }, signature: good().signature }), 400, '/headers/upload-metadata/capture/record'],
      ]
      for (const [what, capture, status, field] of cases) {
        const res = await create(api.token.researcher, file, { body: file, meta: { sha256: sha256(file), capture } })
        expect(res.statusCode, `${what}: ${res.body}`).toBe(status)
        expect(JSON.stringify(JSON.parse(res.body).errors ?? []), what).toContain(field)
      }
      const unapproved = signedCapture(pending, { sha256: sha256(file), byteLength: file.length, mediaType: 'application/octet-stream', pixelWidth: null, pixelHeight: null })
      expectProblem(await create(api.token.researcher, file, { body: file, meta: { sha256: sha256(file), capture: JSON.stringify(unapproved) } }), 409, 'device_not_registered')
      expect(await itemsWith(sha256(file))).toHaveLength(0)
      expect(await db().selectFrom('captures').selectAll().where('sha256', '=', sha256(file)).execute()).toHaveLength(0)
      expect(await db().selectFrom('uploads').selectAll().where('sha256', '=', sha256(file)).execute()).toHaveLength(0)
    })
  })
}
