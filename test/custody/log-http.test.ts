/**
 * The public custody log API through the real app on both databases, checked as an outside party would:
 * the verifier key and checkpoint from the API, leaf hashes and proofs from the API, and RFC 9162
 * verification in this test's own reference code. Event bodies go only to legal officers and admins.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { appendCustodyEvents } from '../../src/core/custody/custody-log.ts'
import { signCheckpoint } from '../../src/core/custody/sign-checkpoint.ts'
import { verifyConsistency, verifyInclusion } from '../../src/core/custody/verify.ts'
import { bearer, expectProblem, startTestApi, type TestApi } from '../http/harness.ts'
import { sampleEvent } from './events.ts'
import { verifyNote } from './note-verifier.ts'
import { refRoot } from './reference-merkle.ts'

const N = 13

describe.each(['sqlite', 'postgres'] as const)('custody log API [%s]', (dialect) => {
  let api: TestApi
  const get = (url: string, token?: string) => api.app.inject({ method: 'GET', url, headers: token ? bearer(token) : {} })
  const hex = (list: string[]) => list.map((h) => Buffer.from(h, 'hex'))

  beforeAll(async () => {
    api = await startTestApi(dialect)
  })
  afterAll(async () => {
    await api?.close()
  })

  it('publishes its key and a signed checkpoint of the empty log without sign-in', async () => {
    const key = await get('/api/v1/log/key')
    expect(key.statusCode).toBe(200)
    expect(key.headers['content-type']).toMatch(/^text\/plain/)
    expect(key.body).toMatch(/^louder\.localhost(:\d+)?\/log\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44}\n$/)
    const checkpoint = await get('/api/v1/log/checkpoint')
    expect(checkpoint.statusCode).toBe(200)
    expect(checkpoint.headers['content-type']).toMatch(/^text\/plain/)
    expect(verifyNote(checkpoint.body, key.body)).toMatchObject({ size: 0, root: refRoot([]) })
    expectProblem(await get('/api/v1/log/entries/0'), 404)
  })

  it('proves every entry and the log\'s growth against its signed checkpoints', async () => {
    const vkey = (await get('/api/v1/log/key')).body
    await api.ctx.store.transaction((repos) => appendCustodyEvents(repos, Array.from({ length: 5 }, (_, n) => sampleEvent(n))))
    await signCheckpoint(api.ctx.store.repos, await api.ctx.logKey.signer())
    const old = verifyNote((await get('/api/v1/log/checkpoint')).body, vkey)
    expect(old.size).toBe(5)
    await api.ctx.store.transaction((repos) => appendCustodyEvents(repos, Array.from({ length: N - 5 }, (_, n) => sampleEvent(5 + n))))
    await signCheckpoint(api.ctx.store.repos, await api.ctx.logKey.signer())
    const now = verifyNote((await get('/api/v1/log/checkpoint')).body, vkey)
    expect(now.size).toBe(N)

    const leaves: Buffer[] = []
    for (let i = 0; i < N; i++) {
      const res = await get(`/api/v1/log/entries/${i}`)
      expect(res.statusCode).toBe(200)
      expect(Object.keys(res.json()).sort()).toEqual(['index', 'leafHash'])
      leaves.push(Buffer.from((res.json() as { leafHash: string }).leafHash, 'hex'))
    }
    expect(refRoot(leaves).equals(now.root)).toBe(true)

    for (let i = 0; i < N; i++) {
      const res = await get(`/api/v1/log/proofs/inclusion?index=${i}&size=${N}`)
      expect(res.statusCode).toBe(200)
      const body = res.json() as { index: number; size: number; leafHash: string; hashes: string[] }
      expect(body).toMatchObject({ index: i, size: N, leafHash: leaves[i]!.toString('hex') })
      expect(verifyInclusion(i, N, leaves[i]!, hex(body.hashes), now.root), `entry ${i}`).toBe(true)
    }
    const consistency = await get(`/api/v1/log/proofs/consistency?from=${old.size}&to=${now.size}`)
    expect(consistency.statusCode).toBe(200)
    const body = consistency.json() as { from: number; to: number; hashes: string[] }
    expect(body).toMatchObject({ from: 5, to: N })
    expect(verifyConsistency(old.size, now.size, old.root, now.root, hex(body.hashes))).toBe(true)
    expect((await get(`/api/v1/log/proofs/consistency?from=${N}&to=${N}`)).json()).toEqual({ from: N, to: N, hashes: [] })
  })

  it('shows event bodies to legal officers and admins only, and records each such read', async () => {
    const expected = sampleEvent(3) as unknown as Record<string, unknown>
    for (const role of ['legal', 'admin'] as const) {
      const reason = `custody check ${role} ${dialect}`
      const res = await api.app.inject({ method: 'GET', url: '/api/v1/log/entries/3', headers: { ...bearer(api.token[role]), 'louder-reason': reason } })
      expect(res.statusCode).toBe(200)
      expect((res.json() as { event: unknown }).event).toEqual(expected)
      const audit = await api.ctx.db.kysely.selectFrom('audit_log').selectAll().where('reason', '=', reason).execute()
      expect(audit).toMatchObject([{ action: 'log.event.read', resource_type: 'custody', resource_id: '3', outcome: 'ok' }])
    }
    for (const role of ['editor', 'researcher', 'partner'] as const) {
      const res = await get('/api/v1/log/entries/3', api.token[role])
      expect(res.statusCode).toBe(200)
      expect(res.json()).not.toHaveProperty('event')
    }
  })

  it('answers bad positions and sizes with problem documents that say what is wrong', async () => {
    const bad400 = [
      '/api/v1/log/entries/-1',
      '/api/v1/log/entries/1.5',
      '/api/v1/log/entries/abc',
      '/api/v1/log/entries/99999999999999999999',
      '/api/v1/log/proofs/inclusion?index=-1&size=3',
      '/api/v1/log/proofs/inclusion?index=0.5&size=3',
      '/api/v1/log/proofs/inclusion?index=1',
      '/api/v1/log/proofs/inclusion?index=1&size=1e400',
      '/api/v1/log/proofs/inclusion?index=1&size=99999999999999999999',
      '/api/v1/log/proofs/inclusion?index=1&size=3&extra=1',
      '/api/v1/log/proofs/consistency?from=-2&to=3',
      '/api/v1/log/proofs/consistency?from=2',
      '/api/v1/log/proofs/consistency?from=x&to=3',
    ]
    for (const url of bad400) expectProblem(await get(url), 400)
    const indexTooBig = expectProblem(await get(`/api/v1/log/proofs/inclusion?index=${N}&size=${N}`), 400)
    expect(indexTooBig.errors).toEqual([{ field: '/querystring/index', message: expect.stringContaining(`less than size (${N})`) }])
    const backwards = expectProblem(await get('/api/v1/log/proofs/consistency?from=5&to=3'), 400)
    expect(backwards.errors?.[0]?.field).toBe('/querystring/from')

    expect(expectProblem(await get(`/api/v1/log/entries/${N}`), 404).detail).toContain(`holds ${N} entries`)
    expect(expectProblem(await get(`/api/v1/log/proofs/inclusion?index=0&size=${N + 1}`), 404).detail).toContain(`holds ${N} entries`)
    expect(expectProblem(await get(`/api/v1/log/proofs/consistency?from=1&to=${2 ** 53 - 1}`), 404).detail).toContain(`holds ${N} entries`)
  })
})
