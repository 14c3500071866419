/**
 * Idempotency-Key on writes (docs/architecture.md "The contract every part shares"): same key + same body
 * replays the stored response; same key + different body → 422; the same key while the first is in
 * flight → 409; keys belong to the caller. On SQLite and on PostgreSQL.
 */
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectProblem, type ObservationInput, observationBody, postJson, startTestApi, type TestApi } from './harness.ts'

const OBS = '/api/v1/observations'

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`Idempotency-Key [${dialect}]`, () => {
    let api: TestApi
    beforeAll(async () => {
      api = await startTestApi(dialect)
    })
    afterAll(async () => {
      await api?.close()
    })

    const post = (body: unknown, key?: string, token = api.token.researcher) => postJson(api.app, OBS, token, body, key === undefined ? {} : { 'idempotency-key': key })
    const count = () => api.ctx.store.repos.observations.count()
    /** Rows holding this narrative, read straight from the database. */
    const rowsWith = async (narrative: string) => (await api.ctx.db.kysely.selectFrom('observations').select('id').where('narrative', '=', narrative).execute()).map((r) => r.id)

    it('replays the stored response: same status, same body, marked Idempotent-Replayed, one row', async () => {
      const body = observationBody()
      const key = randomUUID()
      const first = await post(body, key)
      expect(first.statusCode).toBe(201)
      expect(first.headers['idempotent-replayed']).toBeUndefined()
      const rows = await count()

      for (let i = 0; i < 3; i++) {
        const again = await post(body, key)
        expect(again.statusCode).toBe(201)
        expect(again.headers['idempotent-replayed']).toBe('true')
        expect(again.headers['content-type']).toBe(first.headers['content-type'])
        expect(again.json()).toEqual(first.json())
      }
      expect(await count()).toBe(rows)
      expect(await rowsWith(body.narrative)).toEqual([first.json().id])
    })

    it('treats the same fields in another order as the same request (canonical JSON fingerprint)', async () => {
      const key = randomUUID()
      const body = observationBody()
      const first = await post({ narrative: body.narrative, occurredAt: body.occurredAt, location: body.location }, key)
      expect(first.statusCode).toBe(201)
      const again = await post({ location: body.location, occurredAt: body.occurredAt, narrative: body.narrative }, key)
      expect(again.statusCode).toBe(201)
      expect(again.headers['idempotent-replayed']).toBe('true')
      expect(await rowsWith(body.narrative)).toEqual([first.json().id])
    })

    it('answers 422 when the key comes back with a different body, and writes nothing', async () => {
      const key = randomUUID()
      const original = observationBody()
      const first = await post(original, key)
      expect(first.statusCode).toBe(201)
      const rows = await count()

      const changes: ObservationInput[] = [{ ...original, narrative: `${original.narrative} (edited)` }, { ...original, location: null }, { ...original, occurredAt: '2024-05-01T12:00:01Z' }]
      for (const changed of changes) {
        expectProblem(await post(changed, key), 422, 'idempotency_key_reused')
        expect(await rowsWith(changed.narrative)).toHaveLength(changed.narrative === original.narrative ? 1 : 0)
      }
      expect(await count()).toBe(rows)
      // The refusals did not disturb the stored answer.
      expect((await post(original, key)).json()).toEqual(first.json())
    })

    it('lets exactly one of many concurrent requests with one key write; the others get 409 or the replay', async () => {
      const body = observationBody()
      const key = randomUUID()
      const responses = await Promise.all(Array.from({ length: 12 }, () => post(body, key)))

      const statuses = responses.map((r) => r.statusCode)
      expect(statuses.every((s) => s === 201 || s === 409), String(statuses)).toBe(true)
      const written = responses.filter((r) => r.statusCode === 201 && r.headers['idempotent-replayed'] === undefined)
      expect(written).toHaveLength(1)
      for (const r of responses) {
        if (r.statusCode === 409) expectProblem(r, 409, 'idempotency_in_flight')
        else expect(r.json()).toEqual(written[0]!.json())
      }
      expect(await rowsWith(body.narrative)).toEqual([written[0]!.json().id])
      // Once the first is done, a retry is a replay.
      const retry = await post(body, key)
      expect(retry.headers['idempotent-replayed']).toBe('true')
      expect(retry.json()).toEqual(written[0]!.json())
    })

    // PostgreSQL only: SQLite's driver is synchronous, so one server process runs same-key requests one after
    // the other (the concurrent test above then sees only replays); PostgreSQL can hold a write mid-flight.
    if (dialect === 'postgres') it('answers 409 to the same key while the first request is still writing, then replays it', async () => {
      const body = observationBody()
      const key = randomUUID()
      let release!: () => void
      const gate = new Promise<void>((resolve) => (release = resolve))
      let locked!: () => void
      const isLocked = new Promise<void>((resolve) => (locked = resolve))
      // Another session holds the table, so the first request's INSERT waits inside its transaction.
      const holder = api.ctx.db.kysely.transaction().execute(async (trx) => {
        await sql`lock table observations in exclusive mode`.execute(trx)
        locked()
        await gate
      })
      await isLocked
      const first = post(body, key)
      try {
        await waitFor(async () => {
          const { rows } = await sql<{ n: number }>`select count(*)::int as n from pg_locks where relation = 'observations'::regclass and not granted`.execute(api.ctx.db.kysely)
          return rows[0]!.n > 0
        })
        expectProblem(await post(body, key), 409, 'idempotency_in_flight')
        // Another caller's same key is not this request: it waits for the table like any write, it is not refused.
        const other = await api.user(['researcher'])
        const otherWrite = post(body, key, other.token)
        release()
        expect((await otherWrite).statusCode).toBe(201)
      } finally {
        release()
        await holder
      }
      const written = await first
      expect(written.statusCode).toBe(201)
      const replay = await post(body, key)
      expect(replay.headers['idempotent-replayed']).toBe('true')
      expect(replay.json()).toEqual(written.json())
      expect(await rowsWith(body.narrative)).toHaveLength(2)
    })

    it('lets concurrent requests with different keys all write', async () => {
      const bodies = Array.from({ length: 8 }, () => observationBody())
      const responses = await Promise.all(bodies.map((b) => post(b, randomUUID())))
      expect(responses.map((r) => r.statusCode)).toEqual(bodies.map(() => 201))
      for (const b of bodies) expect(await rowsWith(b.narrative)).toHaveLength(1)
    })

    it('scopes keys per user: two users can use the same key independently', async () => {
      const alice = await api.user(['researcher'])
      const bob = await api.user(['researcher'])
      const key = 'shared-key-1'
      const aliceBody = observationBody({ narrative: `alice ${randomUUID()}` })
      const bobBody = observationBody({ narrative: `bob ${randomUUID()}` })

      const a = await post(aliceBody, key, alice.token)
      const b = await post(bobBody, key, bob.token)
      expect([a.statusCode, b.statusCode]).toEqual([201, 201])
      expect(b.headers['idempotent-replayed']).toBeUndefined()
      expect(a.json().id).not.toBe(b.json().id)
      expect(a.json().createdBy).toBe(alice.id)
      expect(b.json().createdBy).toBe(bob.id)

      // Each replays their own answer, never the other's; and the other's body is a different request for them.
      expect((await post(aliceBody, key, alice.token)).json()).toEqual(a.json())
      expect((await post(bobBody, key, bob.token)).json()).toEqual(b.json())
      expectProblem(await post(bobBody, key, alice.token), 422)
      // The same body under the same key from another user is that user's own new write.
      const carol = await api.user(['editor'])
      const c = await post(aliceBody, key, carol.token)
      expect(c.statusCode).toBe(201)
      expect(c.headers['idempotent-replayed']).toBeUndefined()
      expect(await rowsWith(aliceBody.narrative)).toHaveLength(2)
    })

    it.each([
      ['empty', ''],
      ['256 characters', 'k'.repeat(256)],
      ['a space', 'two words'],
      ['a tab', 'tab\there'],
      ['a control character', 'bell\u0007'],
      ['DEL', 'del\u007f'],
      ['non-ASCII', 'clé-é'],
    ])('refuses an invalid key (%s) with 400 naming the header, and writes nothing', async (_name, key) => {
      const rows = await count()
      const body = observationBody()
      const res = await postJson(api.app, OBS, api.token.researcher, body, { 'idempotency-key': key }).catch((err: Error) => err)
      // Some header values cannot even be sent; what can be sent must be refused.
      if (res instanceof Error) return
      const doc = expectProblem(res, 400, 'validation_failed')
      expect(doc.errors?.map((e) => e.field)).toContain('/headers/idempotency-key')
      expect(await count()).toBe(rows)
    })

    it('accepts a key of 255 visible ASCII characters', async () => {
      const key = `${randomUUID()}!~"#$%&'()*+,-./:;<=>?@[\\]^_\`{|}`.padEnd(255, 'z')
      const body = observationBody()
      expect((await post(body, key)).statusCode).toBe(201)
      expect((await post(body, key)).headers['idempotent-replayed']).toBe('true')
    })

    it('without a key, every POST writes, even with the same body', async () => {
      const body = observationBody()
      const first = await post(body)
      const second = await post(body)
      expect([first.statusCode, second.statusCode]).toEqual([201, 201])
      expect(second.headers['idempotent-replayed']).toBeUndefined()
      expect(first.json().id).not.toBe(second.json().id)
      expect(await rowsWith(body.narrative)).toHaveLength(2)
    })

    it('stores nothing for a refused request, so the key stays free for the corrected one', async () => {
      const key = randomUUID()
      const body = observationBody()
      expectProblem(await post({ ...body, bogus: true }, key), 400)
      expectProblem(await post(body, key, api.token.partner), 403)
      const ok = await post(body, key)
      expect(ok.statusCode).toBe(201)
      expect(ok.headers['idempotent-replayed']).toBeUndefined()
    })

    it('remembers the answer across a server restart', async () => {
      const key = randomUUID()
      const body = observationBody()
      const first = await post(body, key)
      expect(first.statusCode).toBe(201)
      await api.restart()
      const again = await post(body, key)
      expect(again.statusCode).toBe(201)
      expect(again.headers['idempotent-replayed']).toBe('true')
      expect(again.json()).toEqual(first.json())
      expect(await rowsWith(body.narrative)).toHaveLength(1)
    })
  })
}

async function waitFor(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time')
    await sleep(20)
  }
}
