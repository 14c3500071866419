/**
 * `/api/v1/orgs`: admins create and rename organisations, admins and editors list them; names are unique
 * ignoring case and spacing. On SQLite and on PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { findOrg } from '../../src/core/accounts/orgs.ts'
import { uuidv7 } from '../../src/core/ids.ts'
import { expectProblem, startTestApi, type TestApi } from '../http/harness.ts'
import { auditEntries, call } from './support.ts'

const ORGS = '/api/v1/orgs'

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`organisations [${dialect}]`, () => {
    let api: TestApi
    beforeAll(async () => {
      api = await startTestApi(dialect)
    })
    afterAll(async () => {
      await api?.close()
    })

    const create = (name: unknown, token = api.token.admin) => call(api, 'POST', ORGS, token, { name })
    const rename = (id: string, name: unknown, token = api.token.admin) => call(api, 'PATCH', `${ORGS}/${id}`, token, { name })

    it('admins create; admins and editors list; others may not', async () => {
      const res = await create('  Field   Monitors ')
      expect(res.statusCode, res.body).toBe(201)
      const org = res.json()
      expect(org).toEqual({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), name: 'Field Monitors', createdAt: expect.stringMatching(/Z$/) })
      for (const role of ['admin', 'editor'] as const) {
        const list = await call(api, 'GET', ORGS, api.token[role])
        expect(list.statusCode).toBe(200)
        expect(list.json().items).toContainEqual(org)
      }
      for (const role of ['researcher', 'legal', 'partner'] as const) expectProblem(await call(api, 'GET', ORGS, api.token[role]), 403)
      expectProblem(await create('Editors Org', api.token.editor), 403)
      expectProblem(await rename(org.id, 'Hijacked', api.token.editor), 403)
      expectProblem(await call(api, 'GET', ORGS, null), 401)
      const [entry] = await auditEntries(api, { action: 'org.create', resourceId: org.id })
      expect(entry).toMatchObject({ outcome: 'ok', status: 201, resourceType: 'org', detail: { name: 'Field Monitors' } })
    })

    it('keeps names unique, ignoring case and spaces: 409', async () => {
      expect((await create('Coastal Partners')).statusCode).toBe(201)
      for (const name of ['Coastal Partners', 'coastal partners', ' COASTAL  PARTNERS ']) expectProblem(await create(name), 409, 'org_name_taken')
      const coastal = (await call(api, 'GET', ORGS, api.token.admin)).json().items.filter((o: { name: string }) => o.name.toLowerCase() === 'coastal partners')
      expect(coastal).toHaveLength(1)
    })

    it('lets exactly one of many concurrent creations of a name through; the rest get 409, never a 500', async () => {
      const responses = await Promise.all(Array.from({ length: 8 }, () => create('Raced Name')))
      const statuses = responses.map((r) => r.statusCode).sort()
      expect(statuses, responses.map((r) => r.body).join('\n')).toEqual([201, 409, 409, 409, 409, 409, 409, 409])
      for (const r of responses.filter((r) => r.statusCode === 409)) expect(['org_name_taken', 'already_exists']).toContain(r.json().code)
    })

    it('renames; a taken name is 409, an unknown id 404, a change of case is allowed', async () => {
      const a = (await create('Alpha Group')).json()
      const b = (await create('Beta Group')).json()
      const renamed = await rename(a.id, 'Alpha Collective')
      expect(renamed.statusCode, renamed.body).toBe(200)
      expect(renamed.json()).toEqual({ ...a, name: 'Alpha Collective' })
      expectProblem(await rename(a.id, 'beta group'), 409, 'org_name_taken')
      expect((await rename(b.id, 'BETA Group')).json().name).toBe('BETA Group')
      expectProblem(await rename(uuidv7(), 'Nobody'), 404)
      expectProblem(await rename('not-a-uuid', 'Nobody'), 400)
      const entries = await auditEntries(api, { action: 'org.update', resourceId: a.id })
      expect(entries.map((e) => [e.outcome, e.status])).toEqual([['failed', 409], ['ok', 200]])
      expect(entries[1]!.detail).toEqual({ from: 'Alpha Group', to: 'Alpha Collective' })
    })

    it('refuses names that are empty, blank, too long or not text', async () => {
      for (const name of ['', '   ', 'x'.repeat(201), 42, null]) expectProblem(await create(name), 400)
      expectProblem(await call(api, 'POST', ORGS, api.token.admin, { name: 'Fine', extra: 1 }), 400)
    })

    it('pages by name', async () => {
      for (const name of ['Page C', 'Page A', 'Page B']) expect((await create(name)).statusCode).toBe(201)
      const names: string[] = []
      let url = `${ORGS}?limit=2`
      for (;;) {
        const body = (await call(api, 'GET', url, api.token.editor)).json()
        names.push(...body.items.map((o: { name: string }) => o.name))
        if (!body.next) break
        url = `${ORGS}?limit=2&cursor=${body.next}`
      }
      const all = (await api.ctx.store.repos.orgs.list()).map((o) => o.name)
      expect(names).toEqual(all)
      expect(names.filter((n) => n.startsWith('Page '))).toEqual(['Page A', 'Page B', 'Page C'])
    })

    it('finds an organisation by id, or by name ignoring case and spacing (the CLI --org)', async () => {
      const org = (await create('Lookup Trust')).json()
      const repos = api.ctx.store.repos
      expect((await findOrg(repos, org.id))?.name).toBe('Lookup Trust')
      expect((await findOrg(repos, org.id.toUpperCase()))?.id).toBe(org.id)
      expect((await findOrg(repos, ' lookup   TRUST '))?.id).toBe(org.id)
      expect(await findOrg(repos, 'Lookup')).toBeNull()
      expect(await findOrg(repos, uuidv7())).toBeNull()
    })

    it('puts a new user in an organisation, and refuses one that does not exist', async () => {
      const org = (await create('Partner Network')).json()
      const made = await call(api, 'POST', '/api/v1/users', api.token.admin, { email: `p-${Date.now()}@example.org`, displayName: 'P', roles: ['partner'], orgId: org.id })
      expect(made.statusCode, made.body).toBe(201)
      expect(made.json().user.orgId).toBe(org.id)
      expectProblem(await call(api, 'POST', '/api/v1/users', api.token.admin, { email: `q-${Date.now()}@example.org`, displayName: 'Q', roles: ['partner'], orgId: uuidv7() }), 400)
    })
  })
}
