/**
 * Hostile strings in every text field of an incident (narrative, place name, source descriptions, comments,
 * rejection reasons, restricted notes, victims) and in the search box: markup, SQL, templates, bidi
 * overrides and zero-width characters are stored and returned byte for byte and never break a list or a
 * search; NUL, lone surrogates and 100,000-character values are refused with a message naming the field,
 * and nothing of a refused request is stored.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { call } from '../access/support.ts'
import { expectProblem, incidentBody, startTestApi, type TestApi } from '../http/harness.ts'

const STORED = [
  '<script>alert(1)</script><img src=x onerror=alert(2)>',
  "'; DROP TABLE incidents; --",
  '" OR 1=1 --',
  '{{7*7}} ${7*7} <%= 7*7 %> #{7*7}',
  'abc\u202Edcba\u202C right-to-left override',
  'zero\u200Bwidth\u200Djoiner\uFEFF',
  'Ünïcödé — ✓ 🏳️‍🌈 مرحبا עברית',
  'line one\nline two\r\n\ttabbed',
  'NEAR(market fire) AND "unbalanced',
]

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`incidents: hostile strings [${dialect}]`, () => {
    let api: TestApi
    let partyId: string

    beforeAll(async () => {
      api = await startTestApi(dialect)
      partyId = ((await call(api.app, { url: '/api/v1/parties', token: api.token.editor, body: { name: 'Hostile test party', interCode: 2 } })).json() as { id: string }).id
    })
    afterAll(async () => {
      await api?.close()
    })

    it('stores every hostile string faithfully in every text field, and lists and searches still work', async () => {
      for (const text of STORED) {
        const body = incidentBody(partyId, {
          narrative: `${text} marker`,
          placeName: text,
          sources: [{ type: 'media', reliability: 'C', description: text }],
          restricted: { notes: text, victims: [{ name: text, contact: text, description: text }] },
        })
        const res = await call(api.app, { url: '/api/v1/incidents', token: api.token.editor, body })
        expect(res.statusCode, `${JSON.stringify(text)}: ${res.body}`).toBe(201)
        const made = res.json() as { id: string; narrative: string; placeName: string; sources: { description: string }[] }
        expect(made.narrative).toBe(`${text} marker`)
        expect(made.placeName).toBe(text)
        expect(made.sources[0]!.description).toBe(text)
        const comment = await call(api.app, { url: `/api/v1/incidents/${made.id}/comments`, token: api.token.legal, body: { body: text } })
        expect((comment.json() as { body: string }).body).toBe(text)
        const rejected = await call(api.app, { url: `/api/v1/incidents/${made.id}/transitions`, token: api.token.editor, body: { to: 'rejected', version: 1, reason: text } })
        expect((rejected.json() as { statusReason: string }).statusReason).toBe(text.trim())
        const restricted = (await call(api.app, { url: `/api/v1/incidents/${made.id}/restricted`, token: api.token.legal })).json()
        expect(restricted).toMatchObject({ notes: text, victims: [{ name: text, contact: text, description: text }] })
        const search = await call(api.app, { url: `/api/v1/incidents?q=${encodeURIComponent(text)}`, token: api.token.researcher })
        expect(search.statusCode, `search ${JSON.stringify(text)}: ${search.body}`).toBe(200)
      }
      const all = await call(api.app, { url: '/api/v1/incidents?limit=500', token: api.token.researcher })
      expect(all.statusCode).toBe(200)
      const items = (all.json() as { items: { narrative: string }[] }).items
      expect(items.map((i) => i.narrative).sort()).toEqual(STORED.map((t) => `${t} marker`).sort())
      const words = await call(api.app, { url: '/api/v1/incidents?q=marker&limit=500', token: api.token.researcher })
      expect((words.json() as { items: unknown[] }).items).toHaveLength(STORED.length)
      // Markup comes back as JSON text, never as a page.
      expect(all.headers['content-type']).toMatch(/^application\/json/)
    })

    it('refuses NUL, lone surrogates and oversized values, naming the field, and stores nothing', async () => {
      const before = await api.ctx.store.repos.incidents.count()
      const raw = (payload: string) =>
        api.app.inject({ method: 'POST', url: '/api/v1/incidents', headers: { authorization: `Bearer ${api.token.editor}`, 'content-type': 'application/json' }, payload })
      const valid = JSON.stringify(incidentBody(partyId))
      expectProblem(await raw(valid.replace('"Test market"', '"Test\\u0000market"')), 400)
      expectProblem(await raw(valid.replace('"Test market"', '"Test\\ud800market"')), 400)
      for (const [field, value] of [
        ['narrative', 'x'.repeat(100_000)],
        ['placeName', 'x'.repeat(100_000)],
        ['restricted', { notes: 'x'.repeat(100_000) }],
        ['sources', [{ type: 'media', reliability: 'A', description: 'x'.repeat(100_000) }]],
      ] as const) {
        const res = await call(api.app, { url: '/api/v1/incidents', token: api.token.editor, body: incidentBody(partyId, { [field]: value }) })
        const problem = expectProblem(res, 400)
        expect(problem.errors?.some((e) => e.field.startsWith(`/body/${field}`)), `${field}: ${res.body.slice(0, 300)}`).toBe(true)
      }
      const long = await call(api.app, { url: `/api/v1/incidents?q=${'x'.repeat(1_000)}`, token: api.token.researcher })
      expectProblem(long, 400)
      expect(await api.ctx.store.repos.incidents.count()).toBe(before)
    })

    it('refuses malformed filters and cursors with a clear problem', async () => {
      for (const query of ['bbox=1,2,3', 'bbox=10,10,20,5', 'status=drafted', 'status=published,', 'party=not-a-uuid', 'timePrecision=4', 'from=yesterday', 'from=2024-02-01T00:00:00Z&to=2024-01-01T00:00:00Z', 'cursor=%7B%7D', 'limit=0', 'limit=100000', 'unknown=1'])
        expectProblem(await call(api.app, { url: `/api/v1/incidents?${query}`, token: api.token.researcher }), 400)
      expectProblem(await call(api.app, { url: '/api/v1/public/incidents?status=received' }), 400)
      expect((await call(api.app, { url: `/api/v1/public/incidents?q=${encodeURIComponent(STORED[3]!)}` })).statusCode).toBe(200)
    })
  })
}
