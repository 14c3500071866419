/**
 * An observation's full record, its restricted part sealed: notes, witness names and contacts go in with the
 * observation, come back only to legal and to the researcher who recorded them (each read audited with its
 * reason), are refused (and the refusal audited) to everyone else, and are nowhere in clear: not in any file
 * under the data directory, not in a real `pg_dump`, not in the logs, not in list or by-id answers.
 */
import { execFileSync } from 'node:child_process'
import { rmSync } from 'node:fs'
import { PassThrough } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type AppContext, createAppContext } from '../../src/app-context.ts'
import { buildConfig } from '../../src/config/build-config.ts'
import type { Role } from '../../src/core/access/actor.ts'
import { issueToken } from '../../src/core/accounts/tokens.ts'
import { uuidv7 } from '../../src/core/ids.ts'
import type { DialectName } from '../../src/db/dialect/dialect-adapter.ts'
import { buildHttpApp } from '../../src/http/app.ts'
import { createLogger } from '../../src/log.ts'
import { call } from '../access/support.ts'
import { createTestDatabase } from '../support/postgres.ts'
import { filesUnder, pgDumpBinary } from '../support/canary.ts'
import { tmpDir } from '../support/tmp.ts'

const CANARY = 'CANARY-RESTRICTED-Z9X4'

const body = (overrides: Record<string, unknown> = {}) => ({
  narrative: `Shelling near the market ${uuidv7()}`,
  occurredAt: '2024-05-01T12:00:00Z',
  location: { lat: 12.5, lon: -3.25 },
  sources: [{ type: 'witness', reliability: 'B', description: 'met in person' }, { type: 'social_media', reliability: 'F' }],
  urgent: true,
  language: 'ar-SD',
  media: ['a'.repeat(64)],
  restricted: {
    notes: `notes ${CANARY} notes`,
    witnesses: [
      { name: `Witness ${CANARY}`, contact: `+000 ${CANARY}`, role: 'witness', consent: { publication: false, partners: true, court: true } },
      { name: 'Second person', role: 'victim' },
    ],
  },
  ...overrides,
})

for (const dialect of ['sqlite', 'postgres'] as const satisfies readonly DialectName[]) {
  describe(`observations: restricted part sealed [${dialect}]`, () => {
    let ctx: AppContext
    let app: FastifyInstance
    let dataDir: string
    let databaseUrl: string | undefined
    let logs = ''
    const users = {} as Record<'author' | 'other' | Role, { id: string; token: string }>
    let id: string
    let plain: string

    const open = async () => {
      const sink = new PassThrough()
      sink.on('data', (chunk: Buffer) => (logs += chunk.toString()))
      ctx = await createAppContext(buildConfig({ dataDir, databaseUrl }), createLogger({ level: 'trace', destination: sink }))
      app = await buildHttpApp(ctx)
      await app.ready()
    }
    const auditRows = async (reason: string) => {
      for (let i = 0; ; i++) {
        const rows = await ctx.db.kysely.selectFrom('audit_log').selectAll().where('reason', '=', reason).execute()
        if (rows.length > 0 || i === 40) return rows
        await new Promise((r) => setTimeout(r, 25))
      }
    }

    beforeAll(async () => {
      dataDir = tmpDir('louder-restricted-')
      databaseUrl = dialect === 'postgres' ? await createTestDatabase() : undefined
      await open()
      const make = async (roles: Role[]) => {
        const now = Date.now()
        const uid = uuidv7(now)
        await ctx.store.repos.users.insert({ id: uid, email: `${uid}@example.org`, displayName: roles.join('+'), roles, mustChangePassword: false, createdAt: now, disabledAt: null }, null)
        return { id: uid, token: (await issueToken(ctx.store.repos, uid)).token }
      }
      users.author = await make(['researcher'])
      users.other = await make(['researcher'])
      for (const role of ['admin', 'editor', 'legal', 'partner'] as const) users[role] = await make([role])

      const made = await call(app, { url: '/api/v1/observations', token: users.author.token, body: body(), headers: { 'idempotency-key': `restricted-${uuidv7()}` } })
      expect(made.statusCode, made.body).toBe(201)
      id = (made.json() as { id: string }).id
      expect(made.body).not.toContain(CANARY)
      const without = await call(app, { url: '/api/v1/observations', token: users.author.token, body: { narrative: `plain ${uuidv7()}`, occurredAt: '2024-05-02T12:00:00Z' } })
      expect(without.statusCode, without.body).toBe(201)
      plain = (without.json() as { id: string }).id
    })
    afterAll(async () => {
      await app?.close()
      await ctx?.close()
      rmSync(dataDir, { recursive: true, force: true })
    })

    it('presents the full record, the restricted part only as a flag', async () => {
      const one = await call(app, { url: `/api/v1/observations/${id}`, token: users.editor.token })
      expect(one.statusCode, one.body).toBe(200)
      expect(one.json()).toMatchObject({
        id,
        sources: [{ type: 'witness', reliability: 'B', description: 'met in person' }, { type: 'social_media', reliability: 'F' }],
        urgent: true,
        language: 'ar-SD',
        media: ['a'.repeat(64)],
        hasRestricted: true,
      })
      expect(one.json()).not.toHaveProperty('restricted')
      const other = await call(app, { url: `/api/v1/observations/${plain}`, token: users.editor.token })
      expect(other.json()).toMatchObject({ hasRestricted: false, urgent: false, sources: [], media: [], language: null })
      for (const who of ['editor', 'legal', 'admin', 'author'] as const) {
        const list = await call(app, { url: '/api/v1/observations?limit=100', token: users[who].token })
        expect(list.statusCode).toBe(200)
        expect(list.body).toContain(id)
        expect(list.body).not.toContain(CANARY)
        const box = await call(app, { url: '/api/v1/observations?bbox=-4,12,-3,13&limit=100', token: users[who].token })
        expect(box.body).toContain(id)
        expect(box.body).not.toContain(CANARY)
      }
    })

    it('gives the restricted part back to its author and to legal, each read audited with its reason', async () => {
      for (const who of ['author', 'legal'] as const) {
        const reason = `case file ${who} ${uuidv7()}`
        const res = await call(app, { url: `/api/v1/observations/${id}/restricted`, token: users[who].token, headers: { 'louder-reason': reason } })
        expect(res.statusCode, res.body).toBe(200)
        const r = res.json() as { notes: string; witnesses: { name: string; contact: string | null; role: string; consent: unknown }[] }
        expect(r.notes).toBe(`notes ${CANARY} notes`)
        expect(r.witnesses).toEqual([
          { name: `Witness ${CANARY}`, contact: `+000 ${CANARY}`, role: 'witness', consent: { publication: false, partners: true, court: true, recordedAt: expect.any(String), recordedBy: users.author.id } },
          { name: 'Second person', contact: null, role: 'victim', consent: null },
        ])
        const rows = await auditRows(reason)
        expect(rows).toHaveLength(1)
        expect(rows[0]).toMatchObject({ action: 'observation.restricted.read', outcome: 'ok', resource_id: id, actor: `user:${users[who].id}`, route: '/api/v1/observations/:id/restricted' })
        expect(JSON.stringify(rows[0])).not.toContain(CANARY)
      }
      const empty = await call(app, { url: `/api/v1/observations/${plain}/restricted`, token: users.legal.token })
      expect(empty.json()).toEqual({ notes: null, witnesses: [] })
      expect((await call(app, { url: `/api/v1/observations/${uuidv7()}/restricted`, token: users.legal.token })).statusCode).toBe(404)
    })

    it('refuses everyone else, and records each refusal', async () => {
      for (const who of ['editor', 'partner', 'other', 'admin'] as const) {
        const reason = `curious ${who} ${uuidv7()}`
        const res = await call(app, { url: `/api/v1/observations/${id}/restricted`, token: users[who].token, headers: { 'louder-reason': reason } })
        expect(res.statusCode, `${who}: ${res.body}`).toBe(403)
        expect(res.body).not.toContain(CANARY)
        const rows = await auditRows(reason)
        expect(rows, who).toHaveLength(1)
        expect(rows[0]).toMatchObject({ action: 'observation.restricted.read', outcome: 'denied', status: 403, resource_id: id, actor: `user:${users[who].id}` })
      }
      expect((await call(app, { url: `/api/v1/observations/${id}/restricted` })).statusCode).toBe(401)
    })

    it("changes a witness's consent for its author and for legal, re-sealed, audited without names", async () => {
      const patch = (who: keyof typeof users | null, index: number | string, payload: unknown, on = id, reason?: string) =>
        call(app, { method: 'PATCH', url: `/api/v1/observations/${on}/witnesses/${index}/consent`, token: who ? users[who].token : undefined, body: payload, headers: reason ? { 'louder-reason': reason } : {} })

      const keyBefore = (await ctx.db.kysely.selectFrom('observations').select('data_key_id').where('id', '=', id).executeTakeFirstOrThrow()).data_key_id
      const reason = `consent given ${uuidv7()}`
      const byAuthor = await patch('author', 0, { publication: true }, id, reason)
      expect(byAuthor.statusCode, byAuthor.body).toBe(200)
      expect(byAuthor.json()).toEqual({ publication: true, partners: true, court: true, recordedAt: expect.any(String), recordedBy: users.author.id })
      expect(byAuthor.body).not.toContain(CANARY)
      const rows = await auditRows(reason)
      expect(rows).toHaveLength(1)
      expect(rows[0]).toMatchObject({ action: 'observation.consent.update', outcome: 'ok', status: 200, resource_id: id, actor: `user:${users.author.id}` })
      expect(JSON.parse(String(rows[0]!.detail))).toEqual({ witness: 0, changed: ['publication'] })
      expect(JSON.stringify(rows[0])).not.toContain(CANARY)

      // No consent on record: every use starts refused, and all three are recorded now.
      const byLegal = await patch('legal', 1, { court: true })
      expect(byLegal.statusCode, byLegal.body).toBe(200)
      expect(byLegal.json()).toMatchObject({ publication: false, partners: false, court: true, recordedBy: users.legal.id })

      for (const who of ['editor', 'other', 'admin', 'partner'] as const) {
        const res = await patch(who, 0, { court: false })
        expect(res.statusCode, `${who}: ${res.body}`).toBe(403)
        expect(res.body).not.toContain(CANARY)
      }
      expect((await patch(null, 0, { court: false })).statusCode).toBe(401)
      expect((await patch('legal', 0, { court: false }, uuidv7())).statusCode).toBe(404)
      expect((await patch('legal', 2, { court: false })).statusCode).toBe(404)
      expect((await patch('author', 0, { court: false }, plain)).statusCode).toBe(409)
      for (const bad of [{}, { court: 'yes' }, { name: 'x' }]) expect((await patch('legal', 0, bad)).statusCode, JSON.stringify(bad)).toBe(400)
      expect((await patch('legal', -1, { court: false })).statusCode).toBe(400)

      const row = await ctx.db.kysely.selectFrom('observations').select(['data_key_id', 'restricted']).where('id', '=', id).executeTakeFirstOrThrow()
      const read = await call(app, { url: `/api/v1/observations/${id}/restricted`, token: users.legal.token })
      expect(read.statusCode).toBe(200)
      const r = read.json() as { notes: string; witnesses: { name: string; consent: unknown }[] }
      expect(r.notes).toBe(`notes ${CANARY} notes`)
      expect(r.witnesses).toEqual([
        { name: `Witness ${CANARY}`, contact: `+000 ${CANARY}`, role: 'witness', consent: { publication: true, partners: true, court: true, recordedAt: expect.any(String), recordedBy: users.author.id } },
        { name: 'Second person', contact: null, role: 'victim', consent: { publication: false, partners: false, court: true, recordedAt: expect.any(String), recordedBy: users.legal.id } },
      ])
      // Sealed again under the observation's own data key (the canary scan below covers the new value too).
      expect(row.data_key_id).toBe(keyBefore)
      expect(row.restricted).not.toContain(CANARY)
      const one = await call(app, { url: `/api/v1/observations/${id}`, token: users.editor.token })
      expect(one.json()).toMatchObject({ hasRestricted: true })
    })

    it('validates the new fields', async () => {
      for (const bad of [{ sources: [{ type: 'rumour', reliability: 'A' }] }, { sources: [{ type: 'witness', reliability: 'G' }] }, { language: 'not a tag' }, { media: ['xyz'] }, { restricted: { witnesses: [{ name: 'x', role: 'judge' }] } }, { urgent: 'yes' }]) {
        const res = await call(app, { url: '/api/v1/observations', token: users.author.token, body: body(bad) })
        expect(res.statusCode, JSON.stringify(bad)).toBe(400)
        expect(res.body).not.toContain(CANARY)
      }
    })

    it('keeps the canary out of the logs', () => {
      expect(logs).toContain('request completed')
      expect(logs).toContain('/api/v1/observations')
      expect(logs).not.toContain(CANARY)
    })

    it('keeps the canary out of the stored rows, the data directory, and a real pg_dump', async () => {
      const row = await ctx.db.kysely.selectFrom('observations').selectAll().where('id', '=', id).executeTakeFirstOrThrow()
      expect(row.restricted).toBeTruthy()
      expect(row.data_key_id).toBeTruthy()
      expect(JSON.stringify(row)).not.toContain(CANARY)
      expect(JSON.stringify(row)).toContain('ar-SD')

      const scan = () => {
        const files = filesUnder(dataDir)
        if (dialect === 'sqlite') expect(files.length).toBeGreaterThan(0)
        for (const f of files) expect(f.bytes.includes(CANARY), f.path).toBe(false)
        return files
      }
      scan()
      if (dialect === 'postgres') {
        const dump = execFileSync(pgDumpBinary(), ['--no-owner', databaseUrl!], { maxBuffer: 256 * 1024 * 1024 })
        expect(dump.includes(id)).toBe(true)
        expect(dump.includes('ar-SD')).toBe(true)
        expect(dump.includes(CANARY)).toBe(false)
      }
      // Closed (SQLite: WAL checkpointed into the main file), and scanned again.
      await app.close()
      await ctx.close()
      const files = scan()
      if (dialect === 'sqlite') expect(files.some((f) => f.bytes.includes(id))).toBe(true)
      // Reopened, the sealed part still opens for legal: sealed, not lost.
      await open()
      const res = await call(app, { url: `/api/v1/observations/${id}/restricted`, token: users.legal.token })
      expect(res.statusCode).toBe(200)
      expect(res.body).toContain(CANARY)
      expect(logs).not.toContain(CANARY)
    })
  })
}
