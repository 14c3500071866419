/**
 * `/api/v1/parties`: the thesaurus of actors incidents name. Editors and admins keep it, everyone signed in
 * reads it; names are unique ignoring case, spacing and invisible characters, and an alias may not be
 * another party's name (409 party_alias_taken). On SQLite and on PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { uuidv7 } from '../../src/core/ids.ts'
import { DEMO_LABEL } from '../../src/demo/seeders.ts'
import { DEMO_SEEDERS } from '../../src/demo/seed-demo.ts'
import { expectProblem, startTestApi, type TestApi } from '../http/harness.ts'
import { auditEntries, call } from '../accounts/support.ts'

const PARTIES = '/api/v1/parties'

interface PartyBody {
  id: string
  name: string
  aliases: string[]
  interCode: number
  interLabel: string
  description: string | null
  parentId: string | null
  archivedAt: string | null
}

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`parties [${dialect}]`, () => {
    let api: TestApi
    beforeAll(async () => {
      api = await startTestApi(dialect)
    })
    afterAll(async () => {
      await api?.close()
    })

    const create = (body: Record<string, unknown>, token = api.token.editor) => call(api, 'POST', PARTIES, token, { interCode: 2, ...body })
    const made = async (body: Record<string, unknown>): Promise<PartyBody> => {
      const res = await create(body)
      expect(res.statusCode, res.body).toBe(201)
      return res.json()
    }
    const patch = (id: string, body: unknown, token = api.token.editor) => call(api, 'PATCH', `${PARTIES}/${id}`, token, body)
    const list = async (query = '', token = api.token.editor): Promise<PartyBody[]> => {
      const res = await call(api, 'GET', `${PARTIES}${query}`, token)
      expect(res.statusCode, res.body).toBe(200)
      return res.json().items
    }

    it('editors create, read, change and archive; everyone signed in reads; only editors and admins write', async () => {
      const army = await made({ name: '  Coastal   Army ', interCode: 1, aliases: ['CA'], description: 'State forces of the coast.' })
      expect(army).toMatchObject({ name: 'Coastal Army', aliases: ['CA'], interCode: 1, interLabel: 'State forces', description: 'State forces of the coast.', parentId: null, archivedAt: null })
      for (const role of ['admin', 'editor', 'researcher', 'legal', 'partner'] as const) {
        expect((await list('', api.token[role])).map((p) => p.id)).toContain(army.id)
        const one = await call(api, 'GET', `${PARTIES}/${army.id}`, api.token[role])
        expect(one.statusCode).toBe(200)
        expect(one.json()).toEqual(army)
      }
      for (const role of ['researcher', 'legal', 'partner'] as const) {
        expectProblem(await create({ name: `By ${role}` }, api.token[role]), 403)
        expectProblem(await patch(army.id, { name: 'Hijacked' }, api.token[role]), 403)
        expectProblem(await call(api, 'POST', `${PARTIES}/${army.id}/archive`, api.token[role]), 403)
      }
      expectProblem(await call(api, 'GET', PARTIES, null), 401)

      const brigade = await made({ name: 'Coastal 1st Brigade', interCode: 1, parentId: army.id })
      const changed = await patch(brigade.id, { aliases: ['First Brigade'], description: null })
      expect(changed.statusCode, changed.body).toBe(200)
      expect(changed.json()).toMatchObject({ name: 'Coastal 1st Brigade', aliases: ['First Brigade'], parentId: army.id, description: null })
      expectProblem(await patch(uuidv7(), { name: 'Nobody' }), 404)
      expectProblem(await patch('not-a-uuid', { name: 'Nobody' }), 400)
      expectProblem(await call(api, 'GET', `${PARTIES}/${uuidv7()}`, api.token.editor), 404)

      const [entry] = await auditEntries(api, { action: 'party.create', resourceId: army.id })
      expect(entry).toMatchObject({ outcome: 'ok', status: 201, resourceType: 'party', detail: { name: 'Coastal Army' } })
      const [update] = await auditEntries(api, { action: 'party.update', resourceId: brigade.id })
      expect(update).toMatchObject({ outcome: 'ok', detail: { changed: ['aliases', 'description'] } })
    })

    it('keeps names unique ignoring case, spacing and invisible characters: 409', async () => {
      await made({ name: 'Ridge Raiders' })
      for (const name of ['Ridge Raiders', 'ridge raiders', ' RIDGE   RAIDERS ', 'Ridge\u200BRaiders'.replace('\u200B', ' \u200B'), 'Ｒｉｄｇｅ Ｒａｉｄｅｒｓ'])
        expectProblem(await create({ name }), 409, 'party_name_taken')
      const other = await made({ name: 'Ridge Runners' })
      expectProblem(await patch(other.id, { name: 'ridge raiders' }), 409, 'party_name_taken')
      expect((await patch(other.id, { name: 'RIDGE Runners' })).json().name).toBe('RIDGE Runners')
    })

    it('lets exactly one of many concurrent creations of a name through; the rest get 409', async () => {
      const responses = await Promise.all(Array.from({ length: 6 }, () => create({ name: 'Raced Party' })))
      expect(responses.map((r) => r.statusCode).sort()).toEqual([201, 409, 409, 409, 409, 409])
    })

    it('refuses an alias that is another party’s name, and a name that is another party’s alias (409)', async () => {
      const front = await made({ name: 'Delta Front', aliases: ['The Front'] })
      expectProblem(await create({ name: 'Delta Wing', aliases: ['delta  FRONT'] }), 409, 'party_alias_taken')
      expectProblem(await create({ name: 'the front' }), 409, 'party_name_taken')
      // Two parties may share an alias; the search finds both.
      const wing = await made({ name: 'Delta Wing', aliases: ['The Front'] })
      expect((await list('?q=THE%20front')).map((p) => p.id).sort()).toEqual([front.id, wing.id].sort())
      // Within one party: no alias repeating another or the name.
      expectProblem(await create({ name: 'Echo Group', aliases: ['EG', 'eg'] }), 400)
      expectProblem(await create({ name: 'Echo Group', aliases: ['echo group'] }), 400)
      expectProblem(await create({ name: 'Echo Group', aliases: Array.from({ length: 51 }, (_, i) => `E${i}`) }), 400)
    })

    it('refuses parents that are missing, archived, the party itself, a descendant, or too deep', async () => {
      const top = await made({ name: 'Tree Top' })
      const mid = await made({ name: 'Tree Mid', parentId: top.id })
      const leaf = await made({ name: 'Tree Leaf', parentId: mid.id })
      expectProblem(await create({ name: 'Orphan', parentId: uuidv7() }), 400)
      expectProblem(await patch(top.id, { parentId: top.id }), 400)
      expectProblem(await patch(top.id, { parentId: leaf.id }), 400)
      expectProblem(await patch(mid.id, { parentId: leaf.id }), 400)
      let parent = leaf.id
      const deeper = await made({ name: 'Tree Four', parentId: parent })
      parent = (await made({ name: 'Tree Five', parentId: deeper.id })).id
      expectProblem(await create({ name: 'Tree Six', parentId: parent }), 400)
      // Moving a subtree under another keeps the whole within depth: top(3 levels below) under a 3-deep chain is too deep.
      const other = await made({ name: 'Other Root' })
      expectProblem(await patch(other.id, { parentId: parent }), 400)
      const gone = await made({ name: 'Gone Parent' })
      expect((await call(api, 'POST', `${PARTIES}/${gone.id}/archive`, api.token.editor)).statusCode).toBe(200)
      expectProblem(await create({ name: 'Child of gone', parentId: gone.id }), 400)
      expect((await patch(leaf.id, { parentId: null })).json().parentId).toBeNull()
    })

    it('archiving hides a party from the default list, not from includeArchived or by id; its name stays taken', async () => {
      const old = await made({ name: 'Old Guard', interCode: 3 })
      const res = await call(api, 'POST', `${PARTIES}/${old.id}/archive`, api.token.admin)
      expect(res.statusCode, res.body).toBe(200)
      expect(res.json().archivedAt).toMatch(/Z$/)
      expect((await list('?q=old%20guard')).map((p) => p.id)).not.toContain(old.id)
      expect((await list('?q=old%20guard&includeArchived=true')).map((p) => p.id)).toContain(old.id)
      expect((await call(api, 'POST', `${PARTIES}/${old.id}/archive`, api.token.admin)).json().archivedAt).toBe(res.json().archivedAt)
      expectProblem(await create({ name: 'old guard' }), 409, 'party_name_taken')
      expectProblem(await call(api, 'POST', `${PARTIES}/${uuidv7()}/archive`, api.token.admin), 404)
      expect((await auditEntries(api, { action: 'party.archive', resourceId: old.id }))[0]).toMatchObject({ outcome: 'ok' })
    })

    it('searches names and aliases, ignoring case; filters by inter code; pages by name', async () => {
      const militia = await made({ name: 'Saltmarsh Militia', interCode: 4, aliases: ['Marsh Wardens'] })
      expect((await list('?q=WARDEN')).map((p) => p.id)).toEqual([militia.id])
      expect((await list('?q=saltmarsh&interCode=4')).map((p) => p.id)).toEqual([militia.id])
      expect(await list('?q=saltmarsh&interCode=5')).toEqual([])
      // LIKE's wildcards are matched as themselves.
      expect(await list('?q=%25')).toEqual([])
      expect(await list('?q=_')).toEqual([])
      expectProblem(await call(api, 'GET', `${PARTIES}?interCode=9`, api.token.editor), 400)
      for (const name of ['Page C', 'Page A', 'Page B']) await made({ name, interCode: 5 })
      const names: string[] = []
      let cursor: string | null = null
      do {
        const res = await call(api, 'GET', `${PARTIES}?interCode=5&limit=2${cursor ? `&cursor=${cursor}` : ''}`, api.token.editor)
        names.push(...res.json().items.map((p: PartyBody) => p.name))
        cursor = res.json().next
      } while (cursor)
      expect(names).toEqual(['Page A', 'Page B', 'Page C'])
    })

    it('stores hostile strings faithfully or refuses them clearly, and never breaks the list or search', async () => {
      const hostile = [
        '<script>alert(1)</script>',
        "Robert'); DROP TABLE parties;--",
        '\u202EdlihC\u202C Front',
        'Zero\u200Dwidth Joiners',
        'ميليشيا التلال 🚩',
        '50% _Front_ \\ back',
      ]
      const ids: string[] = []
      for (const name of hostile) {
        const p = await made({ name, aliases: [`${name} alias`], description: name })
        expect(p.name).toBe(name)
        expect(p.aliases).toEqual([`${name} alias`])
        ids.push(p.id)
      }
      expect((await list('?q=%3Cscript')).map((p) => p.name)).toEqual(['<script>alert(1)</script>'])
      expect((await list('?q=drop%20table')).map((p) => p.name)).toEqual(["Robert'); DROP TABLE parties;--"])
      expect((await list('?q=50%25%20_front_')).map((p) => p.name)).toEqual(['50% _Front_ \\ back'])
      expect((await list('?q=zerowidth')).map((p) => p.name)).toEqual(['Zero\u200Dwidth Joiners'])
      expect((await list('?q=%D8%A7%D9%84%D8%AA%D9%84%D8%A7%D9%84')).map((p) => p.id)).toEqual([ids[4]])
      const all = await list('?limit=500&includeArchived=true')
      for (const id of ids) expect(all.map((p) => p.id)).toContain(id)

      const nul = await api.app.inject({ method: 'POST', url: PARTIES, headers: { authorization: `Bearer ${api.token.editor}`, 'content-type': 'application/json' }, payload: '{"name":"a\\u0000b","interCode":2}' })
      expectProblem(nul, 400)
      for (const name of ['x'.repeat(100_000), 'x'.repeat(201), '', '   ', '\u200B\u202E', 'bell\u0007', 42, null]) expectProblem(await create({ name }), 400)
      for (const interCode of [0, 9, 1.5, '1', null]) expectProblem(await create({ name: 'Bad Code', interCode }), 400)
      expectProblem(await create({ name: 'Extra', colour: 'red' }), 400)
      expectProblem(await create({ name: 'Long alias', aliases: ['y'.repeat(201)] }), 400)
      expect((await list('?q=' + 'x'.repeat(200))).length).toBe(0)
    })

    it('seeds fictional demo parties with a parent relation', async () => {
      const seeder = DEMO_SEEDERS.find((s) => s.name === 'parties')!
      await seeder.seed(api.ctx)
      const demo = await list(`?q=${encodeURIComponent(DEMO_LABEL)}&limit=100`)
      expect(demo.length).toBeGreaterThanOrEqual(5)
      expect(demo.every((p) => p.name.includes(DEMO_LABEL))).toBe(true)
      expect(demo.some((p) => p.parentId !== null)).toBe(true)
      expect(new Set(demo.map((p) => p.interCode)).size).toBeGreaterThan(3)
    })
  })
}
