/**
 * Sealed storage: originals are stored once, encrypted, keyed by their SHA-256, logged once in the custody log,
 * and their extracted metadata is restricted. Both databases.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { systemActor } from '../../src/core/access/actor.ts'
import { signCheckpoint } from '../../src/core/custody/sign-checkpoint.ts'
import { verifyInclusion } from '../../src/core/custody/verify.ts'
import { fileSource } from '../../src/blobs/file-pieces.ts'
import { ingestMedia, MediaHashMismatchError, MediaTooLargeError } from '../../src/core/evidence/ingest.ts'
import { call } from '../access/support.ts'
import { filesHolding, pgDump } from '../support/canary.ts'
import { startTestApi, type TestApi } from '../http/harness.ts'
import { CANARY, drainJobs, fieldPhotos, once, pieces, sha256 } from './support.ts'

const CLI = systemActor('cli')

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`evidence locker: sealed storage [${dialect}]`, () => {
    let api: TestApi
    beforeAll(async () => {
      api = await startTestApi(dialect)
    })
    afterAll(async () => {
      await api?.close()
    })

    const deps = () => ({ store: api.ctx.store, blobs: api.ctx.blobs, sealer: api.ctx.envelope, isUniqueViolation: api.ctx.db.isUniqueViolation })
    const db = () => api.ctx.db.kysely
    const eventsAbout = async (sha: string) => (await api.ctx.store.repos.mediaItems.custodyEvents(sha)).length
    const receivedEvents = async (sha: string) => {
      const indexes = await api.ctx.store.repos.mediaItems.custodyEvents(sha)
      const bodies = await Promise.all(indexes.map(async (i) => JSON.parse((await api.ctx.store.repos.custodyLog.entry(i))!.body) as { type: string; sha256: string }))
      return bodies.filter((b) => b.type === 'media.received' && b.sha256 === sha)
    }
    const upload = (bytes: Uint8Array, token: string, headers: Record<string, string> = {}) =>
      api.app.inject({ method: 'POST', url: '/api/v1/media', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream', ...headers }, payload: Buffer.from(bytes) })

    it('seals the field photos (use case and HTTP), once each, and leaves no canary in clear on disk or in a dump', async () => {
      const photos = fieldPhotos()
      expect(photos.length).toBeGreaterThanOrEqual(4)
      for (const [i, p] of photos.entries()) {
        if (i % 2 === 0) {
          const r = await ingestMedia(deps(), CLI, { body: pieces(p.bytes) })
          expect(r).toMatchObject({ status: 'new', item: { sha256: p.sha256, byteLength: p.bytes.length } })
        } else {
          // A lying Content-Type: the type stored is the one the bytes have.
          const res = await upload(p.bytes, api.token.researcher, { 'content-type': 'text/plain' })
          expect(res.statusCode, res.body).toBe(201)
          expect(res.json()).toMatchObject({ sha256: p.sha256, status: 'new' })
        }
      }
      // Again, both ways: the existing item, no second event.
      for (const p of photos) {
        expect((await ingestMedia(deps(), CLI, { body: once(p.bytes) })).status).toBe('existing')
        const res = await upload(p.bytes, api.token.editor)
        expect(res.statusCode).toBe(200)
        expect(res.json()).toMatchObject({ status: 'existing' })
        expect(await receivedEvents(p.sha256)).toHaveLength(1)
      }
      const types = Object.fromEntries(await Promise.all(photos.map(async (p) => [p.name, (await api.ctx.store.repos.mediaItems.bySha256(p.sha256))!.mediaType])))
      expect(types).toMatchObject({ 'bangui-pk12.jpg': 'image/jpeg', 'bangui-pk12-clip.mp4': 'video/mp4' })

      expect(await drainJobs(api.ctx)).toBeGreaterThanOrEqual(photos.length)
      for (const p of photos) {
        const item = (await api.ctx.store.repos.mediaItems.bySha256(p.sha256))!
        expect(item.metadataStatus, `${p.name}: ${item.metadataError}`).toBe('done')
        expect(item.sealedMetadata).toMatch(/^lse1\./)
        expect(item.pixelWidth).toBeGreaterThan(0)
        expect((await api.ctx.store.repos.mediaHashes.forMedia(p.sha256)).length).toBeGreaterThan(0)
      }

      expect(filesHolding(api.ctx.config.dataDir, CANARY)).toEqual([])
      if (dialect === 'postgres') expect(pgDump(api.ctx.config.databaseUrl!).includes(Buffer.from(CANARY))).toBe(false)
    })

    it('shows extracted metadata to legal officers and admins only, and records each read', async () => {
      const photo = fieldPhotos().find((p) => p.name === 'bangui-pk12.jpg')!
      const url = `/api/v1/media/${photo.sha256}/metadata`
      for (const role of ['researcher', 'editor', 'partner'] as const) expect((await call(api.app, { url, token: api.token[role] })).statusCode, role).toBe(403)
      const reason = `metadata read ${Date.now()}`
      const res = await call(api.app, { url, token: api.token.legal, headers: { 'louder-reason': reason } })
      expect(res.statusCode, res.body).toBe(200)
      const body = res.json() as { status: string; metadata: Record<string, unknown> }
      expect(body.status).toBe('done')
      expect(JSON.stringify(body.metadata)).toContain('CANARY-SHARED-B3M9')
      expect(body.metadata).toMatchObject({ Make: 'Canon', latitude: 4.458 })
      const audit = await db().selectFrom('audit_log').selectAll().where('reason', '=', reason).execute()
      expect(audit).toMatchObject([{ action: 'media.metadata.read', resource_id: photo.sha256 }])
    })

    it('answers HEAD, gives originals to legal and admins only, and logs each read with its purpose', async () => {
      const photo = fieldPhotos().find((p) => p.name.endsWith('.jpg'))!
      const head = (token: string, sha = photo.sha256) => api.app.inject({ method: 'HEAD', url: `/api/v1/media/${sha}`, headers: { authorization: `Bearer ${token}` } })
      for (const role of ['researcher', 'editor', 'legal', 'admin'] as const) expect((await head(api.token[role])).statusCode, role).toBe(200)
      expect((await head(api.token.partner)).statusCode).toBe(403)
      expect((await head(api.token.legal, '0'.repeat(64))).statusCode).toBe(404)
      expect((await api.app.inject({ method: 'HEAD', url: `/api/v1/media/${photo.sha256}` })).statusCode).toBe(401)

      const url = `/api/v1/media/${photo.sha256}/content`
      for (const role of ['researcher', 'editor', 'partner'] as const) expect((await call(api.app, { url, token: api.token[role] })).statusCode, role).toBe(403)
      const before = await eventsAbout(photo.sha256)
      const res = await call(api.app, { url, token: api.token.legal, headers: { 'louder-reason': 'case 42 disclosure' } })
      expect(res.statusCode).toBe(200)
      expect(sha256(res.rawPayload)).toBe(photo.sha256)
      expect(res.headers['content-disposition']).toMatch(/^attachment/)
      expect(await eventsAbout(photo.sha256)).toBe(before + 1)
      // HEAD of the content is no read: answered, and nothing logged.
      const headContent = await api.app.inject({ method: 'HEAD', url, headers: { authorization: `Bearer ${api.token.legal}` } })
      expect(headContent.statusCode).toBe(200)
      expect(headContent.rawPayload.length).toBe(0)
      expect(await eventsAbout(photo.sha256)).toBe(before + 1)

      const trail = await call(api.app, { url: `/api/v1/media/${photo.sha256}/custody`, token: api.token.editor })
      expect(trail.statusCode).toBe(200)
      const events = (trail.json() as { entries: { event: { type: string; purpose?: string } }[] }).entries.map((e) => e.event)
      expect(events[0]).toMatchObject({ type: 'media.received', sha256: photo.sha256 })
      expect(events.at(-1)).toMatchObject({ type: 'access', purpose: 'case 42 disclosure' })
      expect((await call(api.app, { url: `/api/v1/media/${photo.sha256}/custody`, token: api.token.researcher })).statusCode).toBe(403)

      // Once a checkpoint covers them, each event comes with its inclusion proof against it.
      await signCheckpoint(api.ctx.store.repos, await api.ctx.logKey.signer())
      const proven = (await call(api.app, { url: `/api/v1/media/${photo.sha256}/custody`, token: api.token.legal })).json() as { checkpoint: { size: number; root: string }; entries: { index: number; leafHash: string; inclusion: string[] }[] }
      expect(proven.entries.length).toBeGreaterThanOrEqual(2)
      for (const e of proven.entries)
        expect(verifyInclusion(e.index, proven.checkpoint.size, Buffer.from(e.leafHash, 'hex'), e.inclusion.map((h) => Buffer.from(h, 'hex')), Buffer.from(proven.checkpoint.root, 'hex')), `entry ${e.index}`).toBe(true)
    })

    it('refuses bytes that do not match the declared hash, and keeps nothing of them', async () => {
      const bytes = Buffer.from(`evidence that does not match ${Date.now()}`)
      const blobsBefore = await countBlobs()
      const res = await upload(bytes, api.token.researcher, { 'x-content-sha256': 'a'.repeat(64) })
      expect(res.statusCode).toBe(409)
      expect(res.json()).toMatchObject({ code: 'hash_mismatch' })
      const liveKeys = async () => (await db().selectFrom('data_keys').select('id').where('destroyed_at', 'is', null).execute()).length
      const keysBefore = await liveKeys()
      await expect(ingestMedia(deps(), CLI, { body: once(bytes), expectedSha256: 'b'.repeat(64) })).rejects.toBeInstanceOf(MediaHashMismatchError)
      // The key reserved for the refused bytes is destroyed: nothing records it.
      expect(await liveKeys()).toBe(keysBefore)
      expect(await api.ctx.store.repos.mediaItems.bySha256(sha256(bytes))).toBeNull()
      expect(await countBlobs()).toBe(blobsBefore)
      // The right hash is accepted.
      expect((await upload(bytes, api.token.researcher, { 'x-content-sha256': sha256(bytes) })).statusCode).toBe(201)
      expect((await upload(bytes, api.token.researcher, { 'x-content-sha256': 'NOT-HEX' })).statusCode).toBe(400)
    })

    it('seals a file read straight into the sealer’s memory: counted, sniffed, refused past a limit with nothing kept', async () => {
      const photo = fieldPhotos().find((p) => p.name.endsWith('.jpg'))!
      const liveKeys = async () => (await db().selectFrom('data_keys').select('id').where('destroyed_at', 'is', null).execute()).length
      const keysBefore = await liveKeys()
      const namedBefore = await countNamed()
      await expect(ingestMedia(deps(), CLI, { body: fileSource(photo.path), maxBytes: photo.bytes.length - 1 })).rejects.toBeInstanceOf(MediaTooLargeError)
      expect(await liveKeys()).toBe(keysBefore)
      expect(await countNamed()).toBe(namedBefore)
      const { item } = await ingestMedia(deps(), CLI, { body: fileSource(photo.path), maxBytes: photo.bytes.length })
      expect(item).toMatchObject({ sha256: photo.sha256, byteLength: photo.bytes.length, mediaType: 'image/jpeg' })
    })

    it('stores the same bytes once when many ingests of them race, with one custody event, and keeps no other sealed copy', async () => {
      const bytes = Buffer.from(`raced evidence ${dialect} ${Date.now()} ${'x'.repeat(200_000)}`)
      const namedBefore = await countNamed()
      const keysBefore = await db().selectFrom('data_keys').select('id').execute()
      const results = await Promise.all(Array.from({ length: 8 }, () => ingestMedia(deps(), CLI, { body: pieces(bytes, 30_000) })))
      expect(results.filter((r) => r.status === 'new')).toHaveLength(1)
      // Whether a loser saw the winner before naming its copy or after, its copy is gone and its key destroyed.
      expect(await countNamed()).toBe(namedBefore + 1)
      const known = new Set(keysBefore.map((k) => k.id))
      const reserved = (await db().selectFrom('data_keys').select(['id', 'destroyed_at']).execute()).filter((k) => !known.has(k.id))
      expect(reserved).toHaveLength(8)
      expect(reserved.filter((k) => k.destroyed_at === null).map((k) => k.id)).toEqual([results[0]!.item.dataKeyId])
      expect(new Set(results.map((r) => r.item.blobKey)).size).toBe(1)
      expect(await receivedEvents(sha256(bytes))).toHaveLength(1)
      const rows = await db().selectFrom('media_items').select('sha256').where('sha256', '=', sha256(bytes)).execute()
      expect(rows).toHaveLength(1)
    })

    it('refuses uploads over the limit with 413, and users who may not seal with 403', async () => {
      const res = await api.app.inject({ method: 'POST', url: '/api/v1/media', headers: { authorization: `Bearer ${api.token.researcher}`, 'content-type': 'application/octet-stream', 'content-length': String(65 * 1024 * 1024) }, payload: Buffer.alloc(10) })
      expect(res.statusCode).toBe(413)
      // Well past the JSON body limit (1 MiB), well within the media limit.
      const big = Buffer.alloc(3 * 1024 * 1024 + 17, dialect)
      const ok = await upload(big, api.token.researcher)
      expect(ok.statusCode, ok.body).toBe(201)
      expect(ok.json()).toMatchObject({ sha256: sha256(big), byteLength: big.length })
      expect((await upload(Buffer.from('x'), api.token.legal)).statusCode).toBe(403)
      expect((await upload(Buffer.from('x'), api.token.partner)).statusCode).toBe(403)
    })

    it('makes logged working copies for editors: derivatives with a signed derivation record, without the metadata', async () => {
      const photo = fieldPhotos().find((p) => p.name === 'bohong-roofs.jpg')!
      const res = await call(api.app, { method: 'POST', url: `/api/v1/media/${photo.sha256}/working-copy`, token: api.token.editor })
      expect(res.statusCode, res.body).toBe(202)
      await drainJobs(api.ctx)
      const copy = await db().selectFrom('media_items').selectAll().where('parent_sha256', '=', photo.sha256).executeTakeFirstOrThrow()
      expect(copy).toMatchObject({ kind: 'derivative', media_type: 'image/jpeg' })
      const derivation = JSON.parse(copy.derivation!) as { record: { parentSha256: string; operations: string[]; operator: string }; signature: string; keyName: string }
      expect(derivation.record).toMatchObject({ parentSha256: photo.sha256, operations: expect.arrayContaining(['strip-metadata']) })
      const { verify, createPublicKey } = await import('node:crypto')
      const { canonicalJson } = await import('../../src/core/canonical-json.ts')
      const signer = await api.ctx.logKey.signer()
      const key = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), signer.publicKey]), format: 'der', type: 'spki' })
      expect(verify(null, Buffer.from(canonicalJson(derivation.record)), key, Buffer.from(derivation.signature, 'base64'))).toBe(true)
      const bodies = await Promise.all((await api.ctx.store.repos.mediaItems.custodyEvents(copy.sha256)).map(async (i) => JSON.parse((await api.ctx.store.repos.custodyLog.entry(i))!.body) as { type: string }))
      expect(bodies.map((b) => b.type)).toEqual(['media.received', 'derivative.created'])
      const content = await call(api.app, { url: `/api/v1/media/${copy.sha256}/content`, token: api.token.admin })
      expect(content.rawPayload.includes(Buffer.from(CANARY))).toBe(false)
    })

    async function countBlobs(): Promise<number> {
      let n = 0
      for await (const _ of api.ctx.blobs.list()) n++
      return n
    }

    async function countNamed(): Promise<number> {
      let n = 0
      for await (const _ of api.ctx.blobs.listNamed()) n++
      return n
    }
  })
}
