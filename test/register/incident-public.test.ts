/**
 * What leaves the register: the public view lists published incidents only, generalised to their smallest
 * known admin area (a sensitive incident's exact point never appears; no known area, no point), without
 * restricted fields, and with media only from observations whose people agreed to publication. The
 * restricted part (victims, notes, a sensitive incident's exact point) is sealed: legal and the coding
 * editor read it (audited); it is in no public answer, no log, no file under the data directory, no pg_dump.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type AppContext, createAppContext } from '../../src/app-context.ts'
import { buildConfig } from '../../src/config/build-config.ts'
import { issueToken } from '../../src/core/accounts/tokens.ts'
import { uuidv7 } from '../../src/core/ids.ts'
import { buildHttpApp } from '../../src/http/app.ts'
import { createLogger } from '../../src/log.ts'
import type { Role } from '../../src/core/access/actor.ts'
import { call } from '../access/support.ts'
import { expectProblem, incidentBody } from '../http/harness.ts'
import { filesHolding, pgDump } from '../support/canary.ts'
import { createTestDatabase } from '../support/postgres.ts'
import { tmpDir } from '../support/tmp.ts'

const CANARY = 'CANARY-RESTRICTED-Z9X4'
const AREAS = join(import.meta.dirname, '..', 'fixtures', 'areas')
// In Lowland (XA0201: lon 0–2, lat 0–2) in South (XA02); its representative point is (1, 1).
const EXACT = { lat: 0.4321987, lon: 0.7654321 }

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`incidents: public view and restricted part [${dialect}]`, () => {
    let ctx: AppContext
    let app: FastifyInstance
    let dataDir: string
    let databaseUrl: string | undefined
    let logs = ''
    const users = {} as Record<'coder' | 'publisher' | 'other' | Role, { id: string; token: string }>
    let partyId: string
    const media = { refused: 'a'.repeat(64), agreed: 'b'.repeat(64), nobody: 'c'.repeat(64) }
    const obs = {} as Record<keyof typeof media, string>
    let sensitiveId: string
    let nowhereId: string
    let draftId: string

    const publish = async (id: string) => {
      let v = 1
      for (const [to, token] of [['in_review', users.coder.token], ['verified', users.coder.token], ['published', users.publisher.token]] as const) {
        const res = await call(app, { url: `/api/v1/incidents/${id}/transitions`, token, body: { to, version: v } })
        expect(res.statusCode, res.body).toBe(200)
        v++
      }
    }

    beforeAll(async () => {
      dataDir = tmpDir('louder-incident-public-')
      databaseUrl = dialect === 'postgres' ? await createTestDatabase() : undefined
      const sink = new PassThrough()
      sink.on('data', (chunk: Buffer) => (logs += chunk.toString()))
      ctx = await createAppContext(buildConfig({ dataDir, databaseUrl }), createLogger({ level: 'trace', destination: sink }))
      app = await buildHttpApp(ctx)
      await app.ready()
      const make = async (name: string, roles: Role[]) => {
        const id = uuidv7()
        await ctx.store.repos.users.insert({ id, email: `${id}@example.org`, displayName: name, roles, mustChangePassword: false, createdAt: Date.now(), disabledAt: null }, null)
        users[name as 'coder'] = { id, token: (await issueToken(ctx.store.repos, id)).token }
      }
      for (const [name, roles] of [['coder', ['editor']], ['publisher', ['editor']], ['other', ['editor']], ['admin', ['admin']], ['legal', ['legal']], ['researcher', ['researcher']], ['partner', ['partner']]] as const) await make(name, [...roles])
      for (const level of ['adm1', 'adm2']) {
        const res = await call(app, { url: '/api/v1/areas/import', token: users.admin.token, body: JSON.parse(readFileSync(join(AREAS, `arcadia-${level}.cod-ab.geojson`), 'utf8')) })
        expect(res.statusCode, res.body).toBe(200)
      }
      partyId = ((await call(app, { url: '/api/v1/parties', token: users.coder.token, body: { name: 'Public militia', interCode: 3 } })).json() as { id: string }).id
      const witness = (publication: boolean) => ({ witnesses: [{ name: `Witness ${CANARY}`, role: 'witness', consent: { publication, partners: false, court: true } }] })
      for (const [key, restricted] of [['refused', witness(false)], ['agreed', witness(true)], ['nobody', null]] as const) {
        const res = await call(app, { url: '/api/v1/observations', token: users.researcher.token, body: { narrative: 'seen', occurredAt: '2024-05-01T10:00:00Z', location: EXACT, media: [media[key]], restricted } })
        expect(res.statusCode, res.body).toBe(201)
        obs[key] = (res.json() as { id: string }).id
      }
      const create = async (overrides: Record<string, unknown>) => {
        const res = await call(app, { url: '/api/v1/incidents', token: users.coder.token, body: incidentBody(partyId, overrides) })
        expect(res.statusCode, res.body).toBe(201)
        expect(res.body).not.toContain(CANARY)
        return (res.json() as { id: string }).id
      }
      sensitiveId = await create({
        sensitive: true,
        location: EXACT,
        placeName: 'Lowland clinic',
        observationIds: [obs.refused, obs.agreed, obs.nobody],
        restricted: { notes: `notes ${CANARY}`, victims: [{ name: `Victim ${CANARY}`, contact: `+000 ${CANARY}`, description: `aged 12 ${CANARY}` }] },
        sources: [{ type: 'witness', reliability: 'B', description: 'met SOURCE-DESCRIPTION-7Q cousin' }],
      })
      nowhereId = await create({ location: { lat: 30, lon: 30 }, placeName: 'A village off the map' })
      draftId = await create({ location: EXACT, placeName: 'Never published' })
      await publish(sensitiveId)
      await publish(nowhereId)
    })
    afterAll(async () => {
      await app?.close()
      await ctx?.close()
    })

    type Public = { id: string; location: { lat: number; lon: number } | null; placeName: string; admin1: string | null; admin2: string | null; media: string[]; actors: { name: string }[] }

    it('lists published incidents only, generalised, with party names and no restricted or internal field', async () => {
      const res = await call(app, { url: '/api/v1/public/incidents' })
      expect(res.statusCode, res.body).toBe(200)
      const page = res.json() as { items: Public[] }
      expect(page.items.map((i) => i.id).sort()).toEqual([sensitiveId, nowhereId].sort())
      const sensitive = page.items.find((i) => i.id === sensitiveId)!
      expect(sensitive).toMatchObject({ location: { lat: 1, lon: 1 }, admin1: 'South', admin2: 'Lowland', placeName: 'Lowland clinic', actors: [{ name: 'Public militia' }] })
      expect(page.items.find((i) => i.id === nowhereId)).toMatchObject({ location: null, placeName: 'A village off the map', admin1: null })
      expect(res.body).not.toContain(CANARY)
      expect(res.body, 'source descriptions may name people: they stay inside').not.toContain('SOURCE-DESCRIPTION-7Q')
      expect(res.body).not.toContain(String(EXACT.lat))
      expect(res.body).not.toContain(String(EXACT.lon))
      for (const internal of ['statusReason', 'verifiedBy', 'createdBy', 'observationIds', 'hasRestricted', 'sensitive', 'version', 'lock', 'restricted', 'victims', 'notes', 'description'])
        expect(Object.keys(sensitive), internal).not.toContain(internal)
      expectProblem(await call(app, { url: `/api/v1/public/incidents/${draftId}` }), 404)
      expect((await call(app, { url: `/api/v1/public/incidents/${sensitiveId}` })).json()).toMatchObject({ id: sensitiveId, location: { lat: 1, lon: 1 } })
      // A box finds the sensitive incident by its generalised point only.
      expect(((await call(app, { url: '/api/v1/public/incidents?bbox=0.9,0.9,1.1,1.1' })).json() as { items: Public[] }).items.map((i) => i.id)).toEqual([sensitiveId])
      expect(((await call(app, { url: '/api/v1/public/incidents?bbox=0.7,0.4,0.8,0.5' })).json() as { items: Public[] }).items).toEqual([])
      expect(((await call(app, { url: '/api/v1/public/incidents?q=clinic' })).json() as { items: Public[] }).items.map((i) => i.id)).toEqual([sensitiveId])
    })

    it("exports published incidents as ACLED's event file, generalised, in ACLED's column order", async () => {
      const res = await call(app, { url: '/api/v1/public/incidents/export' })
      expect(res.statusCode, res.body).toBe(200)
      expect(res.headers['content-type']).toMatch(/^text\/csv/)
      const lines = res.body.trimEnd().split('\r\n')
      const columns = readFileSync(join(import.meta.dirname, '..', 'fixtures', 'acled', 'README.md'), 'utf8').match(/event_id_cnty[^`]*?timestamp/s)![0].split(/,\s*/)
      expect(lines[0]!.split(',')).toEqual(columns)
      expect(lines).toHaveLength(3)
      const row = (id: string) => Object.fromEntries(lines[0]!.split(',').map((c, k) => [c, lines.find((l) => l.startsWith(id))!.split(',')[k]]))
      expect(row(sensitiveId)).toMatchObject({ actor1: 'Public militia', inter1: '3', interaction: '30', latitude: '1', longitude: '1', admin1: 'South', admin2: 'Lowland', disorder_type: 'Political violence', event_date: '2024-05-01' })
      expect(row(nowhereId)).toMatchObject({ latitude: '', longitude: '', location: 'A village off the map' })
      expect(res.body).not.toContain(CANARY)
      expect(res.body).not.toContain(String(EXACT.lat))
      expect(res.body).not.toContain(draftId)
      expect((await call(app, { url: '/api/v1/public/incidents/export?bbox=1,2,3' })).statusCode).toBe(400)
    })

    it('shows media only from observations whose people agreed to publication, and follows a change of consent', async () => {
      const before = (await call(app, { url: `/api/v1/public/incidents/${sensitiveId}` })).json() as Public
      expect(before.media).toEqual([media.agreed, media.nobody])
      const res = await call(app, { method: 'PATCH', url: `/api/v1/observations/${obs.refused}/witnesses/0/consent`, token: users.researcher.token, body: { publication: true } })
      expect(res.statusCode, res.body).toBe(200)
      expect(((await call(app, { url: `/api/v1/public/incidents/${sensitiveId}` })).json() as Public).media).toEqual([media.refused, media.agreed, media.nobody])
      await call(app, { method: 'PATCH', url: `/api/v1/observations/${obs.agreed}/witnesses/0/consent`, token: users.legal.token, body: { publication: false } })
      expect(((await call(app, { url: `/api/v1/public/incidents/${sensitiveId}` })).json() as Public).media).toEqual([media.refused, media.nobody])
    })

    it('keeps the exact point of a sensitive incident out of the register and in the sealed part', async () => {
      const one = (await call(app, { url: `/api/v1/incidents/${sensitiveId}`, token: users.other.token })).json() as Record<string, unknown>
      expect(one).toMatchObject({ location: null, sensitive: true, hasRestricted: true, generalisedLocation: { lat: 1, lon: 1, areaPcode: 'XA0201' }, admin2: { pcode: 'XA0201', name: 'Lowland' } })
      const list = await call(app, { url: '/api/v1/incidents', token: users.researcher.token })
      expect(list.body).not.toContain(CANARY)
      const listed = (list.json() as { items: { id: string }[] }).items.find((i) => i.id === sensitiveId)
      expect(JSON.stringify(listed)).not.toContain(String(EXACT.lat))
      const history = await call(app, { url: `/api/v1/incidents/${sensitiveId}/history`, token: users.researcher.token })
      expect(history.body).not.toContain(CANARY)
      expect(history.body).not.toContain(String(EXACT.lat))
    })

    it('opens the restricted part to legal and to the coding editor only, each read audited', async () => {
      for (const who of ['legal', 'coder'] as const) {
        const res = await call(app, { url: `/api/v1/incidents/${sensitiveId}/restricted`, token: users[who].token, headers: { 'louder-reason': `checking ${who}` } })
        expect(res.statusCode, res.body).toBe(200)
        expect(res.json()).toEqual({ notes: `notes ${CANARY}`, victims: [{ name: `Victim ${CANARY}`, contact: `+000 ${CANARY}`, description: `aged 12 ${CANARY}` }], exactLocation: EXACT })
      }
      for (const who of ['other', 'researcher', 'admin', 'partner'] as const) {
        const res = await call(app, { url: `/api/v1/incidents/${sensitiveId}/restricted`, token: users[who].token })
        expect(res.statusCode, who).toBe(403)
        expect(res.body).not.toContain(CANARY)
      }
      const reads = await ctx.db.kysely.selectFrom('audit_log').selectAll().where('action', '=', 'incident.restricted.read').where('resource_id', '=', sensitiveId).execute()
      expect(reads.filter((r) => r.outcome === 'ok').map((r) => r.reason).sort()).toEqual(['checking coder', 'checking legal'])
      expect(JSON.stringify(reads)).not.toContain(CANARY)
    })

    it('moves the exact point into the seal and out of it when sensitivity changes', async () => {
      const id = ((await call(app, { url: '/api/v1/incidents', token: users.coder.token, body: incidentBody(partyId, { location: EXACT }) })).json() as { id: string }).id
      const toSensitive = await call(app, { method: 'PATCH', url: `/api/v1/incidents/${id}`, token: users.coder.token, body: { version: 1, sensitive: true } })
      expect(toSensitive.json()).toMatchObject({ location: null, sensitive: true, hasRestricted: true })
      const sealed = (await call(app, { url: `/api/v1/incidents/${id}/restricted`, token: users.legal.token })).json() as { exactLocation: unknown }
      expect(sealed.exactLocation).toEqual(EXACT)
      const back = await call(app, { method: 'PATCH', url: `/api/v1/incidents/${id}`, token: users.coder.token, body: { version: 2, sensitive: false } })
      expect(back.json()).toMatchObject({ location: EXACT, sensitive: false })
    })

    it('keeps the canary out of the logs, the data directory and a real pg_dump', async () => {
      expect(logs).toContain('/api/v1/incidents')
      expect(logs).not.toContain(CANARY)
      await app.close()
      await ctx.close()
      expect(filesHolding(dataDir, CANARY)).toEqual([])
      if (databaseUrl) {
        const dump = pgDump(databaseUrl)
        expect(dump.includes(sensitiveId)).toBe(true)
        expect(dump.includes(CANARY)).toBe(false)
      }
      ctx = await createAppContext(buildConfig({ dataDir, databaseUrl }), createLogger({ level: 'silent' }))
      app = await buildHttpApp(ctx)
    })
  })
}
