/**
 * `POST /api/v1/match` end to end: items sealed into the locker and hashed by the background job, then
 * found by an uploaded photo (edited, rotated), by a video holding the photo (at the right time), and by an
 * item already held; hashes stored by another process are found without a restart; partners see only items
 * of published incidents; bad queries get clear problems.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { call } from '../access/support.ts'
import { drainJobs } from '../evidence/support.ts'
import { expectProblem, incidentBody, startTestApi, type TestApi } from '../http/harness.ts'
import { fixture } from './fixtures.ts'

type Answer = { matches: { mediaSha256: string; distance: number; transform: string; frameMs: number | null; queryFrameMs: number | null; incidentId: string | null }[]; lowQualityFrames: number; queryFrames: number }

const dir = mkdtempSync(join(tmpdir(), 'louder-match-api-'))
const clip = join(dir, 'clip.mp4')
afterAll(() => rmSync(dir, { recursive: true, force: true }))

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`POST /api/v1/match [${dialect}]`, () => {
    let api: TestApi
    const held: Record<string, string> = {}
    const upload = (token: string, bytes: Buffer, type = 'image/jpeg', query = '') =>
      api.app.inject({ method: 'POST', url: `/api/v1/match${query}`, headers: { authorization: `Bearer ${token}`, 'content-type': type }, payload: bytes })

    beforeAll(async () => {
      if (dialect === 'sqlite')
        execFileSync('ffmpeg', ['-v', 'error', '-nostdin', '-y', '-f', 'lavfi', '-i', 'testsrc=size=640x480:rate=25:duration=3', '-loop', '1', '-framerate', '25', '-t', '3', '-i', fixture('bridge-1-original.jpg'),
          '-filter_complex', '[0:v]setsar=1,format=yuv420p[a];[1:v]scale=640:480,setsar=1,format=yuv420p[b];[a][b]concat=n=2:v=1:a=0[v]', '-map', '[v]', '-c:v', 'libx264', '-preset', 'ultrafast', clip], { timeout: 60_000 })
      api = await startTestApi(dialect)
      for (const name of ['bridge-1-original.jpg', 'q0003.jpg', 'square-256x256.jpg']) {
        const res = await api.app.inject({ method: 'POST', url: '/api/v1/media', headers: { authorization: `Bearer ${api.token.admin}`, 'content-type': 'image/jpeg' }, payload: readFileSync(fixture(name)) })
        expect(res.statusCode, res.body).toBe(201)
        held[name] = (res.json() as { sha256: string }).sha256
      }
      await drainJobs(api.ctx)
    }, 120_000)
    afterAll(async () => {
      await api?.close()
    })

    it('finds an edited copy and a rotated copy of a photograph, saying which rotation matched', async () => {
      const edited = (await upload(api.token.editor, readFileSync(fixture('shrink-a-lot.jpg')))).json() as Answer
      expect(edited.matches[0]).toMatchObject({ mediaSha256: held['bridge-1-original.jpg'], transform: 'original', frameMs: null })
      expect(edited.matches[0]!.distance).toBeLessThanOrEqual(31)
      const rotated = await upload(api.token.researcher, readFileSync(fixture('bridge-2-rotate-90.jpg')))
      expect(rotated.statusCode, rotated.body).toBe(200)
      const best = (rotated.json() as Answer).matches.find((m) => m.mediaSha256 === held['bridge-1-original.jpg'])!
      expect(best.transform).not.toBe('original')
      // Unrelated images are not matched; the low-quality one is never matched at all.
      expect(edited.matches.map((m) => m.mediaSha256)).not.toContain(held['q0003.jpg'])
    })

    it('finds the photograph inside a video, at the time it appears', async () => {
      const res = await upload(api.token.editor, readFileSync(clip), 'video/mp4')
      expect(res.statusCode, res.body).toBe(200)
      const answer = res.json() as Answer
      expect(answer.queryFrames).toBeGreaterThan(1)
      const hit = answer.matches.find((m) => m.mediaSha256 === held['bridge-1-original.jpg'])!
      expect(Math.abs(hit.queryFrameMs! - 3000)).toBeLessThanOrEqual(1000)
    })

    it('matches from an item already held, leaving the item itself out', async () => {
      const res = await call(api.app, { url: '/api/v1/match', token: api.token.legal, body: { sha256: held['square-256x256.jpg'] } })
      expect(res.statusCode, res.body).toBe(200)
      expect((res.json() as Answer).matches.map((m) => m.mediaSha256)).toEqual([held['bridge-1-original.jpg']])
      const low = (await call(api.app, { url: '/api/v1/match', token: api.token.legal, body: { sha256: held['q0003.jpg'] } })).json() as Answer
      expect(low).toMatchObject({ matches: [], lowQualityFrames: 1 })
    })

    it('finds hashes another process stored, without a restart', async () => {
      const other = 'ab'.repeat(32)
      const bridge = (await api.ctx.store.repos.mediaHashes.forMedia(held['bridge-1-original.jpg']!))[0]!
      await api.ctx.db.kysely
        .insertInto('media_items')
        .values({ sha256: other, media_type: 'image/jpeg', byte_length: 1, blob_key: 'x', data_key_id: (await api.ctx.db.kysely.selectFrom('data_keys').select('id').executeTakeFirstOrThrow()).id, kind: 'original', parent_sha256: null, incident_id: null, received_at: Date.now(), received_by: 'system:test', metadata: null, metadata_status: 'done', metadata_error: null, pixel_width: null, pixel_height: null, duration_ms: null, derivation: null })
        .execute()
      await api.ctx.store.repos.mediaHashes.replace(other, [{ frameMs: null, hash: bridge.hash, quality: bridge.quality }], Date.now())
      const answer = (await upload(api.token.editor, readFileSync(fixture('bridge-1-original.jpg')))).json() as Answer
      expect(answer.matches.map((m) => m.mediaSha256)).toContain(other)
    })

    it('shows a partner only items of published incidents', async () => {
      expect(((await upload(api.token.partner, readFileSync(fixture('bridge-1-original.jpg')))).json() as Answer).matches).toEqual([])
      const partyId = ((await call(api.app, { url: '/api/v1/parties', token: api.token.editor, body: { name: 'Match party', interCode: 1 } })).json() as { id: string }).id
      const incidentId = ((await call(api.app, { url: '/api/v1/incidents', token: api.token.editor, body: incidentBody(partyId) })).json() as { id: string }).id
      await api.ctx.db.kysely.updateTable('media_items').set({ incident_id: incidentId }).where('sha256', '=', held['bridge-1-original.jpg']!).execute()
      expect(((await upload(api.token.partner, readFileSync(fixture('bridge-1-original.jpg')))).json() as Answer).matches).toEqual([])
      await api.ctx.db.kysely.updateTable('incidents').set({ status: 'published' }).where('id', '=', incidentId).execute()
      const seen = ((await upload(api.token.partner, readFileSync(fixture('bridge-1-original.jpg')))).json() as Answer).matches
      expect(seen.map((m) => [m.mediaSha256, m.incidentId])).toEqual([[held['bridge-1-original.jpg'], incidentId]])
    })

    it('answers bad queries with clear problems', async () => {
      expectProblem(await upload(api.token.editor, Buffer.alloc(0)), 400)
      expectProblem(await upload(api.token.editor, readFileSync(fixture('bridge-1-original.jpg')).subarray(0, 2000)), 400)
      expectProblem(await upload(api.token.editor, Buffer.from('not an image at all'), 'application/octet-stream'), 400)
      expectProblem(await upload(api.token.editor, readFileSync(fixture('small.jpg')), 'image/jpeg', '?maxDistance=300'), 400)
      expectProblem(await call(api.app, { url: '/api/v1/match', token: api.token.editor, body: { sha256: 'c'.repeat(64) } }), 404)
      expectProblem(await call(api.app, { url: '/api/v1/match', token: api.token.editor, body: { sha256: 'XYZ' } }), 400)
      expectProblem(await call(api.app, { url: '/api/v1/match', token: api.token.editor, body: { sha256: 'c'.repeat(64), extra: 1 } }), 400)
      const big = await api.app.inject({ method: 'POST', url: '/api/v1/match', headers: { authorization: `Bearer ${api.token.editor}`, 'content-type': 'image/jpeg' }, payload: Buffer.alloc(65 * 1024 * 1024) })
      expectProblem(big, 413)
      // Still answering.
      expect((await upload(api.token.editor, readFileSync(fixture('shrink-a-lot.jpg')))).statusCode).toBe(200)
    })
  })
}
