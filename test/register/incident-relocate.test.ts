/**
 * Boundaries imported after incidents were placed: the import queues a background job that places every
 * incident again, in batches, so admin areas, generalised points (and for a sensitive incident the point
 * lists search by) follow the new areas; an incident edited meanwhile is left to its own placement.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { relocateIncidents } from '../../src/core/incidents/relocate.ts'
import { call } from '../access/support.ts'
import { incidentBody, startTestApi, type TestApi } from '../http/harness.ts'

const AREAS = join(import.meta.dirname, '..', 'fixtures', 'areas')
const EXACT = { lat: 0.4321987, lon: 0.7654321 }

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`incidents follow new boundaries [${dialect}]`, () => {
    let api: TestApi
    beforeAll(async () => {
      api = await startTestApi(dialect)
    })
    afterAll(async () => {
      await api?.close()
    })

    it('places earlier incidents again after an import, batch by batch', async () => {
      const partyId = ((await call(api.app, { url: '/api/v1/parties', token: api.token.editor, body: { name: 'Relocated party', interCode: 1 } })).json() as { id: string }).id
      const ids: string[] = []
      for (const overrides of [{ sensitive: true, location: EXACT }, { location: EXACT }, { location: { lat: 30, lon: 30 } }, {}]) {
        const res = await call(api.app, { url: '/api/v1/incidents', token: api.token.editor, body: incidentBody(partyId, overrides) })
        expect(res.statusCode, res.body).toBe(201)
        expect(res.json()).toMatchObject({ admin2: null, generalisedLocation: null })
        ids.push((res.json() as { id: string }).id)
      }
      for (const level of ['adm1', 'adm2']) {
        const res = await call(api.app, { url: '/api/v1/areas/import', token: api.token.admin, body: JSON.parse(readFileSync(join(AREAS, `arcadia-${level}.cod-ab.geojson`), 'utf8')) })
        expect(res.statusCode, res.body).toBe(200)
      }
      const queued = await api.ctx.db.kysely.selectFrom('jobs').select('payload').where('name', '=', 'register.relocate-incidents').execute()
      expect(queued.map((j) => JSON.parse(j.payload))).toEqual([{ afterId: null }, { afterId: null }])

      let afterId: string | null = null
      let moved = 0
      let batches = 0
      do {
        const r: { next: string | null; moved: number } = await relocateIncidents(api.ctx.store, api.ctx.sealer, afterId, 2)
        afterId = r.next
        moved += r.moved
        batches++
      } while (afterId)
      expect(moved).toBe(2)
      expect(batches).toBe(3)
      const get = async (id: string) => (await call(api.app, { url: `/api/v1/incidents/${id}`, token: api.token.editor })).json() as Record<string, unknown>
      expect(await get(ids[0]!)).toMatchObject({ location: null, admin2: { pcode: 'XA0201', name: 'Lowland' }, generalisedLocation: { lat: 1, lon: 1, areaPcode: 'XA0201' }, version: 1 })
      expect(await get(ids[1]!)).toMatchObject({ location: EXACT, admin1: { pcode: 'XA02', name: 'South' } })
      expect(await get(ids[2]!)).toMatchObject({ admin1: null, generalisedLocation: null })
      // The sensitive one is now found at its generalised point, by box and by party and box alike.
      for (const query of ['bbox=0.9,0.9,1.1,1.1', `bbox=0.9,0.9,1.1,1.1&party=${partyId}`]) {
        const found = (await call(api.app, { url: `/api/v1/incidents?${query}`, token: api.token.editor })).json() as { items: { id: string }[] }
        expect(found.items.map((i) => i.id), query).toEqual([ids[0]])
      }
      // Nothing left to do: a second pass moves nothing.
      expect((await relocateIncidents(api.ctx.store, api.ctx.sealer, null)).moved).toBe(0)
    })
  })
}
