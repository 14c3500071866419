/**
 * Administrative areas: importing COD-AB and geoBoundaries files (API and `louder admin import-areas`),
 * locating points in them, and the generalised point every public output will show. The fixtures are two
 * fictional countries (test/fixtures/areas/README.md). On SQLite and on PostgreSQL.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectProblem, startTestApi, type TestApi } from '../http/harness.ts'
import { auditEntries, call } from '../accounts/support.ts'
import { runLouder } from '../large/server-process.ts'
import { tmpDir } from '../support/tmp.ts'

const AREAS = '/api/v1/areas'
const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'areas')
const fixture = (name: string) => JSON.parse(readFileSync(join(FIXTURES, name), 'utf8'))

interface Located {
  admin1: { pcode: string; name: string } | null
  admin2: { pcode: string; name: string } | null
  generalised: { lat: number; lon: number; areaPcode: string; level: number } | null
}

const louder = (args: string[]) => runLouder(args, undefined, 60_000)

const square = (x0: number, y0: number, x1: number, y1: number) => [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
const adm1 = (pcode: string, coordinates: unknown, type = 'Polygon') => ({ type: 'Feature', properties: { ADM1_EN: `Area ${pcode}`, ADM1_PCODE: pcode }, geometry: { type, coordinates } })
const fc = (...features: unknown[]) => ({ type: 'FeatureCollection', features })

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`areas [${dialect}]`, () => {
    let api: TestApi
    beforeAll(async () => {
      api = await startTestApi(dialect)
    })
    afterAll(async () => {
      await api?.close()
    })

    const importFile = (body: unknown, query = '', token = api.token.admin) => call(api, 'POST', `${AREAS}/import${query}`, token, body)
    const imported = async (body: unknown, query = '') => {
      const res = await importFile(body, query)
      expect(res.statusCode, res.body).toBe(200)
      return res.json()
    }
    const locate = async (lat: number, lon: number, token = api.token.researcher): Promise<Located> => {
      const res = await call(api, 'GET', `${AREAS}/locate?lat=${lat}&lon=${lon}`, token)
      expect(res.statusCode, res.body).toBe(200)
      return res.json()
    }
    const count = async () => Number((await api.ctx.db.kysely.selectFrom('areas').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n)

    it('imports COD-AB ADM1 and ADM2 files (admins only) and lists them by level and parent, page by page', async () => {
      for (const role of ['editor', 'researcher', 'legal', 'partner'] as const) expectProblem(await importFile(fixture('arcadia-adm1.cod-ab.geojson'), '', api.token[role]), 403)
      expectProblem(await importFile(fixture('arcadia-adm1.cod-ab.geojson'), '', null as unknown as string), 401)
      expect(await count()).toBe(0)

      expect(await imported(fixture('arcadia-adm1.cod-ab.geojson'), '?source=OCHA%20COD-AB%20XAA%202024')).toEqual({ features: 2, inserted: 2, replaced: 0, byLevel: { adm1: 2, adm2: 0 }, parentsFound: 0 })
      expect(await imported(fixture('arcadia-adm2.cod-ab.geojson'), '?level=2')).toMatchObject({ features: 4, inserted: 4, byLevel: { adm1: 0, adm2: 4 } })
      const [entry] = await auditEntries(api, { action: 'area.import' })
      expect(entry).toMatchObject({ outcome: 'ok', resourceType: 'area' })

      for (const role of ['admin', 'editor', 'researcher', 'legal', 'partner'] as const) expect((await call(api, 'GET', `${AREAS}?level=1`, api.token[role])).statusCode).toBe(200)
      const provinces = (await call(api, 'GET', `${AREAS}?level=1`, api.token.partner)).json().items
      expect(provinces).toEqual([
        expect.objectContaining({ level: 1, pcode: 'XA01', name: 'North', parentPcode: null, bbox: [0, 2, 4, 4], representativePoint: { lat: 3, lon: 2 }, source: 'OCHA COD-AB XAA 2024' }),
        expect.objectContaining({ pcode: 'XA02', name: 'South' }),
      ])
      const south = (await call(api, 'GET', `${AREAS}?parent=XA02`, api.token.partner)).json().items
      expect(south.map((a: { pcode: string }) => a.pcode)).toEqual(['XA0201', 'XA0202'])
      expect(south[0].source).toBe('api upload')
      const first = (await call(api, 'GET', `${AREAS}?level=2&limit=3`, api.token.editor)).json()
      const rest = (await call(api, 'GET', `${AREAS}?level=2&limit=3&cursor=${first.next}`, api.token.editor)).json()
      expect([...first.items, ...rest.items].map((a: { pcode: string }) => a.pcode)).toEqual(['XA0101', 'XA0102', 'XA0201', 'XA0202'])
      expect(rest.next).toBeNull()
      expectProblem(await call(api, 'GET', `${AREAS}?level=3`, api.token.editor), 400)
      expectProblem(await call(api, 'GET', AREAS, null), 401)
    })

    it('locates points: inside, in a hole (the province only), outside every area, on a shared border', async () => {
      expect(await locate(3, 0.25)).toMatchObject({ admin1: { pcode: 'XA01', name: 'North' }, admin2: { pcode: 'XA0101', name: 'Hollow' }, generalised: { areaPcode: 'XA0101', level: 2 } })
      expect(await locate(3, 1)).toMatchObject({ admin1: { pcode: 'XA01' }, admin2: null, generalised: { areaPcode: 'XA01', level: 1, lat: 3, lon: 2 } })
      expect(await locate(3, 3)).toMatchObject({ admin1: { pcode: 'XA01' }, admin2: null }) // the Horseshoe's notch
      expect(await locate(1.8, 3.2)).toMatchObject({ admin1: { pcode: 'XA02' }, admin2: { pcode: 'XA0202', name: 'Islands' } }) // its second part
      expect(await locate(10, 10)).toEqual({ admin1: null, admin2: null, generalised: null })
      // Lowland (4 sq°) and Islands (2.5 sq°) share lon 2: the smaller, every time.
      expect((await locate(0.5, 2)).admin2).toEqual({ pcode: 'XA0202', name: 'Islands' })
      // North and South share lat 2; Hollow and Lowland meet there too.
      expect(await locate(2, 1)).toMatchObject({ admin2: { pcode: 'XA0101' } })
      for (const bad of ['lat=91&lon=0', 'lat=0&lon=181', 'lat=x&lon=0', 'lat=0']) expectProblem(await call(api, 'GET', `${AREAS}/locate?${bad}`, api.token.editor), 400)
    })

    it('generalises to a point inside the chosen area that is never the input point', async () => {
      for (const [lat, lon] of [[3.3, 0.3], [3.9, 2.1], [2.2, 3], [3.9, 3.9], [0.5, 0.5], [1.8, 3.2], [0.5, 3.5], [3, 1], [3, 3], [2, 1]] as const) {
        const { generalised } = await locate(lat, lon)
        expect(generalised, `${lat},${lon}`).not.toBeNull()
        expect([generalised!.lat, generalised!.lon], `${lat},${lon}`).not.toEqual([lat, lon])
        // The generalised point lies in the chosen area: locating it finds that area at that level. (A province's
        // point may well lie in one of its districts, as North's does on the Hollow–Horseshoe border.)
        const again = await locate(generalised!.lat, generalised!.lon)
        expect((generalised!.level === 2 ? again.admin2 : again.admin1)!.pcode, `${lat},${lon}`).toBe(generalised!.areaPcode)
      }
      // Hollow's and the Horseshoe's centroids fall in their hole and notch: a point on the surface stands in.
      const hollow = (await locate(3, 0.25)).generalised!
      expect(hollow).not.toMatchObject({ lat: 3, lon: 1 })
    })

    it('replaces areas on re-import by pcode, keeping their ids', async () => {
      const before = (await call(api, 'GET', `${AREAS}?level=1`, api.token.editor)).json().items
      const file = fixture('arcadia-adm1.cod-ab.geojson')
      file.features[0].properties.ADM1_EN = 'Northern Province'
      file.features[0].geometry.coordinates = [square(0, 2, 4, 5)]
      expect(await imported(file, '?source=v2')).toMatchObject({ inserted: 0, replaced: 2 })
      const after = (await call(api, 'GET', `${AREAS}?level=1`, api.token.editor)).json().items
      expect(after.map((a: { id: string }) => a.id)).toEqual(before.map((a: { id: string }) => a.id))
      expect(after[0]).toMatchObject({ name: 'Northern Province', bbox: [0, 2, 4, 5], source: 'v2' })
      expect((await locate(4.5, 1)).admin1).toEqual({ pcode: 'XA01', name: 'Northern Province' })
      expect(await count()).toBe(6)
    })

    it('imports geoBoundaries files through the CLI and the API, finding ADM2 parents from where they lie', async () => {
      const bad = join(tmpDir('louder-areas-'), 'bad.geojson')
      const broken = fixture('borduria-adm1.geoboundaries.geojson')
      broken.features[1].geometry.coordinates[0].pop()
      writeFileSync(bad, JSON.stringify(broken))
      const d = ['--data', api.ctx.config.dataDir, ...(api.ctx.config.databaseUrl ? ['--database-url', api.ctx.config.databaseUrl] : [])]
      const [good, refused] = await Promise.all([
        louder(['admin', 'import-areas', join(FIXTURES, 'borduria-adm1.geoboundaries.geojson'), ...d, '--source', 'geoBoundaries XBB', '--json']),
        louder(['admin', 'import-areas', bad, ...d, '--level', '1']),
      ])
      expect(good.code, good.stderr).toBe(0)
      expect(JSON.parse(good.stdout)).toEqual({ features: 2, inserted: 2, replaced: 0, byLevel: { adm1: 2, adm2: 0 }, parentsFound: 0 })
      expect(good.stderr).toMatch(/importing areas 2\/2/)
      expect(refused.code).toBe(1)
      expect(refused.stderr).toBe(`louder: ${bad}: /features/1/geometry/coordinates/0: is not closed: its last position must repeat its first; nothing was imported\n`)
      expect((await auditEntries(api, { action: 'area.import' })).some((e) => e.actor === 'system:cli' && e.outcome === 'ok')).toBe(true)

      expect(await imported(fixture('borduria-adm2.geoboundaries.geojson'))).toMatchObject({ inserted: 4, parentsFound: 4 })
      const upperSouth = (await call(api, 'GET', `${AREAS}?parent=XBB-ADM1-1`, api.token.editor)).json().items
      expect(upperSouth.map((a: { name: string }) => a.name)).toEqual(['Upper Lowland', 'Upper Islands'])
      expect(await locate(3, 21)).toMatchObject({ admin1: { pcode: 'XBB-ADM1-0', name: 'Upper North' }, admin2: null })
      expect(await count()).toBe(12)
    })

    it('refuses hostile and malformed files whole (400, naming the feature), storing nothing', async () => {
      const before = await count()
      const raw = (payload: string) => api.app.inject({ method: 'POST', url: `${AREAS}/import`, headers: { authorization: `Bearer ${api.token.admin}`, 'content-type': 'application/json' }, payload })
      const good = adm1('XH1', [square(-50, -50, -49, -49)])
      const fieldOf = (res: Awaited<ReturnType<typeof raw>>) => expectProblem(res, 400).errors?.[0]?.field

      expect(fieldOf(await importFile(fc(good, adm1('XH2', [square(-48, -50, -47, -49).slice(0, 4)]))))).toBe('/body/features/1/geometry/coordinates/0')
      // 1e999 is Infinity once parsed: JSON has no NaN, but numbers can still overflow.
      const huge = JSON.stringify(fc(good, adm1('XH2', [square(-48, -50, -47, -49)]))).replace('[-47,-50]', '[-47,1e999]').replace('[-47,-50]', '[-47,1e999]')
      expect(fieldOf(await raw(huge))).toBe('/body/features/1/geometry/coordinates/0/1/1')
      expect(fieldOf(await importFile(fc(good, adm1('XH2', [[['0', '0'], [1, 0], [1, 1], ['0', '0']]]))))).toBe('/body/features/1/geometry/coordinates/0/0/0')
      expect(fieldOf(await importFile(fc(good, adm1('XH2', [0, 0], 'Point'))))).toBe('/body/features/1/geometry/type')
      expect(fieldOf(await importFile(fc(good, { ...good, properties: { ADM1_EN: 'X', ADM1_PCODE: 42 } })))).toBe('/body/features/1/properties/ADM1_PCODE')
      expect(fieldOf(await importFile(fc(good, 'a feature')))).toBe('/body/features/1/type')
      expect(fieldOf(await importFile(fc(good, good)))).toBe('/body/features/1/properties')
      // Nesting: the strict JSON parser refuses it before anything looks at GeoJSON.
      expect(fieldOf(await raw(`{"type":"FeatureCollection","features":[${'['.repeat(10_000)}${']'.repeat(10_000)}]}`))).toBe('/body')
      const deep = [[[0, 0]]]
      expect(fieldOf(await importFile(fc(adm1('XH2', [[deep, deep, deep, deep]]))))).toBe('/body/features/0/geometry/coordinates/0/0')
      // Past a million vertices in one file (a 12 MB body: over the global 1 MiB limit, within this route's).
      const many = `[${'[0,0],[1,0],[1,1],'.repeat(333_335)}[0,0]]`
      const tooMany = await raw(JSON.stringify(fc(good)).replace(/"coordinates":\[\[.*?\]\]\]/, `"coordinates":[${many}]`))
      expect(fieldOf(tooMany)).toBe('/body/features/0/geometry/coordinates/0')
      expect(tooMany.json().errors[0].message).toMatch(/1000000 vertices/)
      // Not a FeatureCollection at all.
      expect(fieldOf(await importFile({ type: 'Feature', properties: {}, geometry: null }))).toMatch(/^\/body/)
      expect(fieldOf(await importFile([good]))).toMatch(/^\/body/)
      expect(fieldOf(await importFile(fc()))).toBe('/body/features')
      expect(fieldOf(await importFile(fc(good), '?level=3'))).toBe('/querystring/level')

      expect(await count()).toBe(before)
      expect((await auditEntries(api, { action: 'area.import' })).some((e) => e.outcome !== 'ok')).toBe(true)
      // Other routes keep the 1 MiB limit.
      expectProblem(await call(api, 'POST', '/api/v1/parties', api.token.editor, { name: 'x'.repeat(2 * 1024 * 1024), interCode: 2 }), 413)
    })
  })
}
