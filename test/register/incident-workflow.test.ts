/**
 * The review workflow through the API as different people: an editor codes an incident from observations,
 * reviews and verifies it; a second editor publishes it (the first may not); illegal moves are refused with
 * a problem document naming what is allowed; concurrent edits give one winner and a 409 carrying the
 * current version; edit locks show their holder, block others, expire; history shows who changed what.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { call } from '../access/support.ts'
import { expectProblem, incidentBody, observationBody, startTestApi, type TestApi } from '../http/harness.ts'

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`incident workflow [${dialect}]`, () => {
    let api: TestApi
    let alice: { id: string; token: string }
    let bob: { id: string; token: string }
    let partyId: string
    let allyId: string

    beforeAll(async () => {
      api = await startTestApi(dialect)
      alice = await api.user(['editor'])
      bob = await api.user(['editor'])
      const party = (name: string) => call(api.app, { url: '/api/v1/parties', token: api.token.editor, body: { name, interCode: 3 } })
      partyId = ((await party('Workflow militia')).json() as { id: string }).id
      allyId = ((await party('Workflow allies')).json() as { id: string }).id
    })
    afterAll(async () => {
      await api?.close()
    })

    type Incident = { id: string; version: number; status: string; verifiedBy: string | null; publishedBy: string | null; narrative: string; observationIds: string[]; lock: unknown }
    const create = async (overrides: Record<string, unknown> = {}, token = alice.token) => {
      const res = await call(api.app, { url: '/api/v1/incidents', token, body: incidentBody(partyId, overrides) })
      expect(res.statusCode, res.body).toBe(201)
      return res.json() as Incident
    }
    const move = (id: string, to: string, version: number, token: string, reason?: string) =>
      call(api.app, { url: `/api/v1/incidents/${id}/transitions`, token, body: { to, version, ...(reason === undefined ? {} : { reason }) } })
    const patch = (id: string, body: Record<string, unknown>, token = alice.token) => call(api.app, { method: 'PATCH', url: `/api/v1/incidents/${id}`, token, body })

    it('codes an incident from observations, with actors, associated groups, counts and precisions', async () => {
      const obs = ((await call(api.app, { url: '/api/v1/observations', token: api.token.researcher, body: observationBody() })).json() as { id: string }).id
      const incident = await create({
        observationIds: [obs],
        actors: [{ partyId, associated: [allyId] }],
        counts: { killed: { min: 3, max: 5 }, displaced: { min: 200, max: null } },
        timePrecision: 2,
        geoPrecision: 2,
        civilianTargeting: true,
      })
      expect(incident).toMatchObject({ status: 'received', version: 1, observationIds: [obs], actors: [{ partyId, associated: [allyId] }], counts: { killed: { min: 3, max: 5 } }, timePrecision: 2 })
      const got = (await call(api.app, { url: `/api/v1/incidents/${incident.id}`, token: api.token.researcher })).json()
      expect(got).toMatchObject({ id: incident.id, civilianTargeting: true })
    })

    it('refuses what the ACLED coding and the thesaurus do not allow, naming the field', async () => {
      const cases: [Record<string, unknown>, string][] = [
        [{ eventType: 'Battles', subEventType: 'Attack' }, '/body/subEventType'],
        [{ eventType: 'Picnic' }, '/body/eventType'],
        [{ actors: [{ partyId: '01a22601-965a-7307-a9f7-ee4bc798654c' }] }, '/body/actors/0/partyId'],
        [{ actors: [{ partyId, associated: [partyId] }] }, '/body/actors/0/associated/0'],
        [{ counts: { killed: { min: 5, max: 3 } } }, '/body/counts/killed'],
        [{ observationIds: ['01a22601-965a-7307-a9f7-ee4bc798654c'] }, '/body/observationIds/0'],
        [{ occurredAt: '9999-12-31T00:00:00Z' }, '/body/occurredAt'],
        [{ occurredAt: '1850-01-01T00:00:00Z' }, '/body/occurredAt'],
      ]
      for (const [overrides, field] of cases) {
        const res = await call(api.app, { url: '/api/v1/incidents', token: alice.token, body: incidentBody(partyId, overrides) })
        const problem = expectProblem(res, 400)
        expect(problem.errors?.map((e) => e.field), JSON.stringify(overrides)).toContain(field)
      }
      // A party is never free text.
      expectProblem(await call(api.app, { url: '/api/v1/incidents', token: alice.token, body: incidentBody(partyId, { actors: [{ name: 'Some militia' }] }) }), 400)
    })

    it('goes received → in_review → verified → published, and the verifier cannot publish', async () => {
      let i = await create()
      i = (await move(i.id, 'in_review', 1, alice.token)).json() as Incident
      expect(i.status).toBe('in_review')
      i = (await move(i.id, 'verified', i.version, alice.token)).json() as Incident
      expect(i).toMatchObject({ status: 'verified', verifiedBy: alice.id })
      const own = expectProblem(await move(i.id, 'published', i.version, alice.token), 403, 'two_person_rule')
      expect(own.detail).toMatch(/second person/)
      i = (await move(i.id, 'published', i.version, bob.token)).json() as Incident
      expect(i).toMatchObject({ status: 'published', verifiedBy: alice.id, publishedBy: bob.id })
      // Published is frozen: retract first, with a reason.
      expectProblem(await patch(i.id, { version: i.version, narrative: 'changed' }), 409, 'published_is_frozen')
      expectProblem(await move(i.id, 'retracted', i.version, bob.token), 409, 'reason_required')
      i = (await move(i.id, 'retracted', i.version, bob.token, 'Source withdrew the account')).json() as Incident
      expect(i).toMatchObject({ status: 'retracted', statusReason: 'Source withdrew the account' })
      i = (await move(i.id, 'in_review', i.version, alice.token)).json() as Incident
      expect(i).toMatchObject({ status: 'in_review', verifiedBy: null, statusReason: null })
    })

    it('refuses illegal transitions with a problem naming the allowed ones', async () => {
      const i = await create()
      const p = expectProblem(await move(i.id, 'published', 1, bob.token), 409, 'illegal_transition')
      expect(p.detail).toMatch(/received cannot become published.*in_review, rejected/)
      expectProblem(await move(i.id, 'verified', 1, alice.token), 409, 'illegal_transition')
      expectProblem(await move(i.id, 'rejected', 1, alice.token), 409, 'reason_required')
      expectProblem(await move(i.id, 'rejected', 1, alice.token, '   '), 409, 'reason_required')
      const rejected = (await move(i.id, 'rejected', 1, alice.token, 'Duplicate of another report')).json() as Incident
      expect(rejected).toMatchObject({ status: 'rejected', statusReason: 'Duplicate of another report' })
      expectProblem(await move(i.id, 'unknown' as string, 2, alice.token), 400)
      expectProblem(await move('01a22601-965a-7307-a9f7-ee4bc798654c', 'in_review', 1, alice.token), 404)
    })

    it('sends an edited verified incident back to review', async () => {
      let i = await create()
      i = (await move(i.id, 'in_review', 1, alice.token)).json() as Incident
      i = (await move(i.id, 'verified', i.version, alice.token)).json() as Incident
      const edited = (await patch(i.id, { version: i.version, narrative: 'A corrected account' }, bob.token)).json() as Incident
      expect(edited).toMatchObject({ status: 'in_review', verifiedBy: null, narrative: 'A corrected account', version: i.version + 1 })
    })

    it('lets one of two concurrent edits win; the other gets 409 with the current version', async () => {
      const i = await create()
      const [a, b] = await Promise.all([patch(i.id, { version: 1, narrative: 'Alice wrote this' }), patch(i.id, { version: 1, narrative: 'Bob wrote this' }, bob.token)])
      const statuses = [a.statusCode, b.statusCode].sort()
      expect(statuses).toEqual([200, 409])
      const [won, lost] = a.statusCode === 200 ? [a, b] : [b, a]
      const problem = lost.json() as { code: string; current: Incident }
      expect(problem.code).toBe('version_conflict')
      expect(problem.current).toMatchObject({ version: 2, narrative: (won.json() as Incident).narrative })
      // Reapplied on the current version, it goes through.
      expect((await patch(i.id, { version: 2, narrative: 'Merged account' }, lost === a ? alice.token : bob.token)).statusCode).toBe(200)
    })

    it('shows who holds an edit lock, blocks others, and frees it on release or expiry', async () => {
      const i = await create()
      const lock = await call(api.app, { method: 'POST', url: `/api/v1/incidents/${i.id}/lock`, token: alice.token })
      expect(lock.statusCode, lock.body).toBe(200)
      expect(lock.json()).toMatchObject({ holder: alice.id })
      expect(((await call(api.app, { url: `/api/v1/incidents/${i.id}`, token: bob.token })).json() as Incident).lock).toMatchObject({ holder: alice.id })
      const blocked = expectProblem(await patch(i.id, { version: 1, narrative: 'Bob' }, bob.token), 409, 'locked') as unknown as { lock: { holder: string } }
      expect(blocked.lock.holder).toBe(alice.id)
      expectProblem(await call(api.app, { method: 'POST', url: `/api/v1/incidents/${i.id}/lock`, token: bob.token }), 409, 'locked')
      expectProblem(await move(i.id, 'in_review', 1, bob.token), 409, 'locked')
      expectProblem(await call(api.app, { method: 'DELETE', url: `/api/v1/incidents/${i.id}/lock`, token: bob.token }), 403)
      // The holder edits through the lock, and renews it.
      expect((await patch(i.id, { version: 1, narrative: 'Alice, locked' })).statusCode).toBe(200)
      expect((await call(api.app, { method: 'POST', url: `/api/v1/incidents/${i.id}/lock`, token: alice.token })).statusCode).toBe(200)
      expect((await call(api.app, { method: 'DELETE', url: `/api/v1/incidents/${i.id}/lock`, token: alice.token })).statusCode).toBe(204)
      expect((await call(api.app, { method: 'POST', url: `/api/v1/incidents/${i.id}/lock`, token: bob.token })).statusCode).toBe(200)
      // A lock that expired is nobody's.
      await api.ctx.db.kysely.updateTable('incidents').set({ lock_expires_at: Date.now() - 1 }).where('id', '=', i.id).execute()
      expect(((await call(api.app, { url: `/api/v1/incidents/${i.id}`, token: alice.token })).json() as Incident).lock).toBeNull()
      expect((await patch(i.id, { version: 2, narrative: 'Alice again' })).statusCode).toBe(200)
      // An admin breaks a forgotten lock.
      expect((await call(api.app, { method: 'POST', url: `/api/v1/incidents/${i.id}/lock`, token: alice.token })).statusCode).toBe(200)
      expect((await call(api.app, { method: 'DELETE', url: `/api/v1/incidents/${i.id}/lock`, token: api.token.admin })).statusCode).toBe(204)
    })

    it('keeps a history of who changed which field from what to what, restricted values hidden', async () => {
      const i = await create({ restricted: { notes: 'first note' } })
      await patch(i.id, { version: 1, narrative: 'Second account', counts: { injured: { min: 1, max: 2 } }, restricted: { notes: 'second note' } }, bob.token)
      await move(i.id, 'in_review', 2, alice.token)
      const res = await call(api.app, { url: `/api/v1/incidents/${i.id}/history?limit=2`, token: api.token.researcher })
      const page = res.json() as { items: { version: number; action: string; changedBy: string; changes: Record<string, [unknown, unknown]> }[]; next: string | null }
      expect(page.items.map((v) => [v.version, v.action])).toEqual([[3, 'transition'], [2, 'updated']])
      expect(page.items[0]!.changes.status).toEqual(['received', 'in_review'])
      expect(page.items[1]).toMatchObject({ changedBy: bob.id })
      expect(page.items[1]!.changes.narrative).toEqual([i.narrative, 'Second account'])
      expect(page.items[1]!.changes['restricted.notes']).toEqual(['(restricted)', '(restricted)'])
      expect(JSON.stringify(page)).not.toMatch(/first note|second note/)
      const rest = (await call(api.app, { url: `/api/v1/incidents/${i.id}/history?cursor=${page.next}`, token: api.token.researcher })).json() as { items: { version: number }[]; next: null }
      expect(rest.items.map((v) => v.version)).toEqual([1])
      expect(rest.next).toBeNull()
    })

    it('takes comments from reviewers and links more observations', async () => {
      const i = await create()
      for (const token of [alice.token, api.token.legal, api.token.researcher])
        expect((await call(api.app, { url: `/api/v1/incidents/${i.id}/comments`, token, body: { body: 'Checked against the satellite image' } })).statusCode).toBe(201)
      expectProblem(await call(api.app, { url: `/api/v1/incidents/${i.id}/comments`, token: alice.token, body: { body: '   ' } }), 400)
      const comments = (await call(api.app, { url: `/api/v1/incidents/${i.id}/comments?limit=2`, token: bob.token })).json() as { items: unknown[]; next: string }
      expect(comments.items).toHaveLength(2)
      expect(comments.next).toBeTruthy()
      const obs = ((await call(api.app, { url: '/api/v1/observations', token: api.token.researcher, body: observationBody() })).json() as { id: string }).id
      const linked = (await call(api.app, { url: `/api/v1/incidents/${i.id}/observations`, token: bob.token, body: { observationIds: [obs, obs] } })).json() as Incident
      expect(linked).toMatchObject({ observationIds: [obs], version: 2 })
      const again = (await call(api.app, { url: `/api/v1/incidents/${i.id}/observations`, token: bob.token, body: { observationIds: [obs] } })).json() as Incident
      expect(again.version, 'linking what is linked changes nothing').toBe(2)
    })
  })
}
