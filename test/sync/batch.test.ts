/**
 * POST /api/v1/sync/batch (issue 7): many small writes in one request, each its own write with its own
 * idempotency key and its own answer, in order. One bad item never fails the others; a replayed key answers
 * as the first time; hostile requests are refused whole or per item, and nothing is kept for what was refused.
 * On SQLite and on PostgreSQL.
 */
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { newDevice, registeredDevice, signedCapture } from '../evidence/device-fixture.ts'
import { expectProblem, observationBody, postJson, startTestApi, type TestApi } from '../http/harness.ts'

const URL = '/api/v1/sync/batch'

interface ItemResult {
  idempotencyKey: string
  status: number
  replayed?: boolean
  body?: Record<string, unknown>
  problem?: { status: number; code: string; errors?: { field: string; message: string }[] }
}

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`sync batch [${dialect}]`, () => {
    let api: TestApi
    beforeAll(async () => {
      api = await startTestApi(dialect)
    })
    afterAll(async () => {
      await api?.close()
    })

    const db = () => api.ctx.db.kysely
    const send = (items: unknown, token = api.token.researcher) => postJson(api.app, URL, token, { items })
    const results = (res: { statusCode: number; json(): unknown; body: string }) => {
      expect(res.statusCode, res.body).toBe(200)
      return (res.json() as { results: ItemResult[] }).results
    }
    const observationsWith = async (narrative: string) => db().selectFrom('observations').select('id').where('narrative', '=', narrative).execute()
    const key = () => `k-${randomUUID()}`
    const idempotencyRows = async () => Number((await db().selectFrom('idempotency_keys').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n)

    it('writes good items and answers bad ones on their own, in order', async () => {
      const device = await registeredDevice(api.app, api.token.researcher, api.token.editor)
      const good = observationBody()
      const urgent = observationBody({ urgent: true, restricted: { witnesses: [{ name: 'A witness', role: 'witness' }] } })
      const phone = newDevice()
      const items = [
        { kind: 'observation', idempotencyKey: key(), body: good },
        { kind: 'observation', idempotencyKey: key(), body: { narrative: '' } },
        { kind: 'capture', idempotencyKey: key(), body: signedCapture(device) },
        { kind: 'capture', idempotencyKey: key(), body: signedCapture(newDevice()) }, // a key nobody registered
        { kind: 'device', idempotencyKey: key(), body: { publicKey: phone.publicKey, name: 'Field phone' } },
        { kind: 'observation', idempotencyKey: key(), body: urgent },
        { kind: 'observation', idempotencyKey: key(), body: { ...observationBody(), colour: 'red' } },
      ]
      const out = results(await send(items))
      expect(out.map((r) => r.idempotencyKey)).toEqual(items.map((i) => i.idempotencyKey))
      expect(out.map((r) => r.status)).toEqual([201, 400, 201, 409, 202, 201, 400])

      expect(out[0]!.body).toMatchObject({ narrative: good.narrative, hasRestricted: false })
      expect(out[1]!.problem).toMatchObject({ status: 400, code: 'validation_failed' })
      expect(out[1]!.problem!.errors!.map((e) => e.field)).toContain('/body/items/1/body/narrative')
      expect(out[2]!.body).toMatchObject({ sha256: expect.stringMatching(/^[0-9a-f]{64}$/) })
      expect(out[3]!.problem!.status).toBe(409)
      expect(out[4]!.body).toMatchObject({ keyId: phone.keyId, status: 'requested' })
      expect(out[5]!.body).toMatchObject({ urgent: true, hasRestricted: true })
      expect(out[6]!.problem!.errors!.map((e) => e.field)).toContain('/body/items/6/body/colour')

      expect(await observationsWith(good.narrative)).toHaveLength(1)
      expect(await observationsWith(urgent.narrative)).toHaveLength(1)
      expect(await db().selectFrom('devices').select('key_id').where('key_id', '=', phone.keyId).execute()).toHaveLength(1)
      // The witness's name is sealed, not in the observation row nor in the stored idempotency fingerprint.
      const stored = await db().selectFrom('idempotency_keys').selectAll().execute()
      expect(JSON.stringify(stored)).not.toContain('A witness')

      // Written items have their audit record (action sync.batch); the refused ones are listed in one more.
      const audit = await db().selectFrom('audit_log').selectAll().where('action', '=', 'sync.batch').where('resource_type', 'in', ['observation', 'capture', 'device']).execute()
      const keys = audit.map((r) => (typeof r.detail === 'string' ? JSON.parse(r.detail) : r.detail) as { idempotencyKey: string }).map((d) => d.idempotencyKey)
      expect(keys).toEqual(expect.arrayContaining([0, 2, 4, 5].map((i) => items[i]!.idempotencyKey)))
    })

    it('replays a key as the first time, writes nothing twice, and refuses a key reused for a different item', async () => {
      const body = observationBody()
      const k = key()
      const first = results(await send([{ kind: 'observation', idempotencyKey: k, body }]))[0]!
      expect(first.status).toBe(201)
      const rows = await idempotencyRows()

      // The same item again, alone and beside a new one (the batch whose answer the link lost, resent).
      const other = observationBody()
      const again = results(await send([{ kind: 'observation', idempotencyKey: k, body: { ...body } }, { kind: 'observation', idempotencyKey: key(), body: other }]))
      expect(again[0]).toEqual({ ...first, replayed: true })
      expect(again[1]!.status).toBe(201)
      expect(await observationsWith(body.narrative)).toHaveLength(1)
      expect(await idempotencyRows()).toBe(rows + 1)

      // The same key twice in one batch: the second answers as the first.
      const k2 = key()
      const twice = observationBody()
      const dup = results(await send([{ kind: 'observation', idempotencyKey: k2, body: twice }, { kind: 'observation', idempotencyKey: k2, body: twice }]))
      expect(dup.map((r) => [r.status, r.replayed ?? false])).toEqual([[201, false], [201, true]])
      expect(dup[1]!.body).toEqual(dup[0]!.body)
      expect(await observationsWith(twice.narrative)).toHaveLength(1)

      // A different body under a used key: 422 for that item only.
      const reused = results(await send([{ kind: 'observation', idempotencyKey: k, body: observationBody() }]))[0]!
      expect(reused.status).toBe(422)
      expect(reused.problem!.code).toBe('idempotency_key_reused')

      // Keys are scoped to the kind and to the caller: the same key on a device request, or from someone else, is new.
      const phone = newDevice()
      expect(results(await send([{ kind: 'device', idempotencyKey: k, body: { publicKey: phone.publicKey, name: 'p' } }]))[0]!.status).toBe(202)
      const mine = results(await send([{ kind: 'observation', idempotencyKey: k, body }], api.token.editor))[0]!
      expect(mine.status).toBe(201)
      expect(mine.replayed).toBeUndefined()
      expect(await observationsWith(body.narrative)).toHaveLength(2)
    })

    it('answers an unknown kind on its own and keeps nothing for it', async () => {
      const body = observationBody()
      const out = results(await send([{ kind: 'rumour', idempotencyKey: key(), body }, { kind: 'observation', idempotencyKey: key(), body: observationBody() }]))
      expect(out.map((r) => r.status)).toEqual([400, 201])
      expect(out[0]!.problem).toMatchObject({ code: 'unknown_kind', errors: [{ field: '/body/items/0/kind' }] })
      expect(await observationsWith(body.narrative)).toHaveLength(0)
    })

    it('refuses malformed requests whole, storing nothing', async () => {
      const before = { obs: await api.ctx.store.repos.observations.count(), keys: await idempotencyRows() }
      const ok = () => ({ kind: 'observation', idempotencyKey: key(), body: observationBody() })
      // A missing key: the answer could not say which item it is about.
      expectProblem(await send([ok(), { kind: 'observation', body: observationBody() }]), 400)
      expectProblem(await send([ok(), { kind: 'observation', idempotencyKey: '', body: observationBody() }]), 400)
      expectProblem(await send([ok(), { kind: 'observation', idempotencyKey: 'has space', body: observationBody() }]), 400)
      expectProblem(await send([ok(), { kind: 'observation', idempotencyKey: key(), body: 'text' }]), 400)
      expectProblem(await send([ok(), { kind: 'observation', idempotencyKey: key(), body: observationBody(), extra: 1 }]), 400)
      expectProblem(await send([]), 400)
      expectProblem(await send(Array.from({ length: 201 }, ok)), 400)
      // NUL inside an item's body: the JSON parser refuses the whole request (PostgreSQL cannot store it).
      expectProblem(await send([ok(), { kind: 'observation', idempotencyKey: key(), body: observationBody({ narrative: 'a\u0000b' }) }]), 400)
      // Over 1 MiB.
      expectProblem(await send([ok(), { kind: 'observation', idempotencyKey: key(), body: observationBody({ narrative: 'x'.repeat(1_100_000) }) }]), 413)
      expect(await api.ctx.store.repos.observations.count()).toBe(before.obs)
      expect(await idempotencyRows()).toBe(before.keys)
    })

    it('takes 200 items at once', async () => {
      const items = Array.from({ length: 200 }, () => ({ kind: 'observation', idempotencyKey: key(), body: observationBody() }))
      const out = results(await send(items))
      expect(out).toHaveLength(200)
      expect(out.every((r) => r.status === 201)).toBe(true)
    })

    it('is for those who may record: partners, legal and the anonymous are refused', async () => {
      const items = [{ kind: 'observation', idempotencyKey: key(), body: observationBody() }]
      expectProblem(await send(items, api.token.partner), 403)
      expectProblem(await send(items, api.token.legal), 403)
      expectProblem(await postJson(api.app, URL, null, { items }), 401)
    })
  })
}
