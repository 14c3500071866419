/**
 * Device keys: made by `louder device init`, requested by whoever carries the device, approved or revoked by
 * editors and admins, each decision a custody event whose log index is stored with the key.
 */
import { createPublicKey, verify } from 'node:crypto'
import { readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { canonicalJson } from '../../src/core/canonical-json.ts'
import type { DialectName } from '../../src/db/dialect/dialect-adapter.ts'
import { call } from '../access/support.ts'
import { expectProblem, startTestApi, type TestApi } from '../http/harness.ts'
import { runLouder } from '../large/server-process.ts'
import { tmpDir } from '../support/tmp.ts'
import { captureRecord, newDevice } from './device-fixture.ts'

describe('louder device', () => {
  it('makes a key (private file 0600), refuses to replace it without --force, and signs records with it', async () => {
    const dir = join(tmpDir('louder-device-'), 'device')
    const made = await runLouder(['device', 'init', '--dir', dir])
    expect(made.code, made.stderr).toBe(0)
    const keyId = /^key id: ([0-9a-f]{32})$/m.exec(made.stdout)?.[1]
    const publicKey = /^public key: (\S+)$/m.exec(made.stdout)?.[1]
    expect(keyId).toBeDefined()
    expect(Buffer.from(publicKey!, 'base64')).toHaveLength(32)
    expect(statSync(join(dir, 'device.key')).mode & 0o777).toBe(0o600)
    const pem = readFileSync(join(dir, 'device.key'), 'utf8')

    const again = await runLouder(['device', 'init', '--dir', dir])
    expect(again.code).toBe(1)
    expect(again.stderr).toMatch(/already exists; use --force/)
    expect(readFileSync(join(dir, 'device.key'), 'utf8')).toBe(pem)

    const record = captureRecord({ keyId: keyId! })
    const file = join(dir, '..', 'record.json')
    writeFileSync(file, JSON.stringify(record))
    const signed = await runLouder(['device', 'sign', '--dir', dir, file])
    expect(signed.code, signed.stderr).toBe(0)
    const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(publicKey!, 'base64')])
    const key = createPublicKey({ key: spki, format: 'der', type: 'spki' })
    expect(verify(null, Buffer.from(canonicalJson(record)), key, Buffer.from(signed.stdout.trim(), 'base64'))).toBe(true)

    // A record naming another key, or not a capture record at all, is refused rather than signed.
    writeFileSync(file, JSON.stringify(captureRecord(newDevice())))
    expect((await runLouder(['device', 'sign', '--dir', dir, file])).stderr).toMatch(/names device key/)
    writeFileSync(file, JSON.stringify({ ...record, imei: '490154203237518' }))
    const hostile = await runLouder(['device', 'sign', '--dir', dir, file])
    expect(hostile.code).toBe(1)
    expect(hostile.stderr).toMatch(/\/imei is not a capture record field/)

    const replaced = await runLouder(['device', 'init', '--dir', dir, '--force'])
    expect(replaced.code, replaced.stderr).toBe(0)
    expect(replaced.stdout).not.toContain(keyId!)
    expect(statSync(join(dir, 'device.key')).mode & 0o777).toBe(0o600)
  })
})

for (const dialect of ['sqlite', 'postgres'] as const satisfies readonly DialectName[]) {
  describe(`device keys [${dialect}]`, () => {
    let api: TestApi
    beforeAll(async () => {
      api = await startTestApi(dialect)
    })
    afterAll(async () => {
      await api?.close()
    })
    const logSize = () => api.ctx.store.repos.custodyLog.size()
    const event = async (index: number) => JSON.parse((await api.ctx.store.repos.custodyLog.entry(index))!.body) as Record<string, unknown>
    const post = (url: string, token: string | null, body?: unknown) => call(api.app, { method: 'POST', url, token, body })

    it('requests (idempotently), approves with a key.registered event, and revokes with a key.revoked event', async () => {
      const device = newDevice()
      const before = await logSize()
      const asked = await post('/api/v1/devices', api.token.researcher, { publicKey: device.publicKey, name: 'Amal’s phone' })
      expect(asked.statusCode, asked.body).toBe(202)
      expect(asked.json()).toMatchObject({ keyId: device.keyId, publicKey: device.publicKey, name: 'Amal’s phone', status: 'requested', registeredLogIndex: null })
      const twice = await post('/api/v1/devices', api.token.researcher, { publicKey: device.publicKey, name: 'another name' })
      expect(twice.statusCode).toBe(202)
      expect(twice.json()).toEqual(asked.json())
      expect(await logSize()).toBe(before)

      expectProblem(await post(`/api/v1/devices/${device.keyId}/approve`, api.token.researcher), 403)
      const approved = await post(`/api/v1/devices/${device.keyId}/approve`, api.token.editor)
      expect(approved.statusCode, approved.body).toBe(200)
      const d = approved.json() as { status: string; registeredLogIndex: number; registeredBy: string }
      expect(d.status).toBe('registered')
      expect(d.registeredLogIndex).toBe(before)
      expect(await event(d.registeredLogIndex)).toMatchObject({ type: 'key.registered', keyId: device.keyId, publicKey: device.publicKey, actor: d.registeredBy })
      // Approving again changes nothing and logs nothing.
      expect((await post(`/api/v1/devices/${device.keyId}/approve`, api.token.admin)).json()).toEqual(approved.json())
      expect(await logSize()).toBe(before + 1)

      const revoked = await post(`/api/v1/devices/${device.keyId}/revoke`, api.token.admin, { reason: 'phone seized at a checkpoint' })
      expect(revoked.statusCode, revoked.body).toBe(200)
      const r = revoked.json() as { status: string; revokedLogIndex: number; revokeReason: string }
      expect(r).toMatchObject({ status: 'revoked', revokedLogIndex: before + 1, revokeReason: 'phone seized at a checkpoint' })
      expect(await event(r.revokedLogIndex)).toMatchObject({ type: 'key.revoked', keyId: device.keyId, reason: 'phone seized at a checkpoint' })
      expect((await post(`/api/v1/devices/${device.keyId}/revoke`, api.token.admin, { reason: null })).json()).toEqual(revoked.json())
      expect(await logSize()).toBe(before + 2)
      // Revoked stays revoked: neither approval nor a new request brings the key back.
      expectProblem(await post(`/api/v1/devices/${device.keyId}/approve`, api.token.admin), 409, 'device_revoked')
      expect((await post('/api/v1/devices', api.token.researcher, { publicKey: device.publicKey, name: 'again' })).json()).toMatchObject({ status: 'revoked' })
    })

    it('logs one key.registered event when several editors approve at once', async () => {
      const device = newDevice()
      await post('/api/v1/devices', api.token.researcher, { publicKey: device.publicKey, name: 'contested' })
      const before = await logSize()
      const answers = await Promise.all([api.token.editor, api.token.admin, api.token.editor, api.token.admin].map((t) => post(`/api/v1/devices/${device.keyId}/approve`, t)))
      expect(answers.map((a) => a.statusCode)).toEqual([200, 200, 200, 200])
      expect(new Set(answers.map((a) => (a.json() as { registeredLogIndex: number }).registeredLogIndex)).size).toBe(1)
      expect(await logSize()).toBe(before + 1)
    })

    it('revokes a key that was never registered without a custody event', async () => {
      const device = newDevice()
      await post('/api/v1/devices', api.token.editor, { publicKey: device.publicKey, name: 'never approved' })
      const before = await logSize()
      const res = await post(`/api/v1/devices/${device.keyId}/revoke`, api.token.editor, { reason: 'unknown to us' })
      expect(res.json()).toMatchObject({ status: 'revoked', revokedLogIndex: null, registeredLogIndex: null })
      expect(await logSize()).toBe(before)
    })

    it('refuses keys that are not 32 raw bytes of standard base64, with nothing stored', async () => {
      const count = async () => (await api.ctx.db.kysely.selectFrom('devices').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n
      const before = await count()
      const good = newDevice().publicKey
      for (const publicKey of [Buffer.alloc(31, 7).toString('base64'), Buffer.alloc(33, 7).toString('base64'), good.replace('=', ''), `${good.slice(0, 10)}*${good.slice(11)}`, good.replace(/.=$/, '_='), '']) {
        const res = await post('/api/v1/devices', api.token.researcher, { publicKey, name: 'bad key' })
        expectProblem(res, 400)
      }
      expectProblem(await post('/api/v1/devices', api.token.researcher, { publicKey: good, name: 'x', imei: '490154203237518' }), 400)
      expectProblem(await post('/api/v1/devices', api.token.researcher, { publicKey: good, name: 'x'.repeat(201) }), 400)
      expectProblem(await post('/api/v1/devices', api.token.partner, { publicKey: good, name: 'partner phone' }), 403)
      expect(await count()).toBe(before)
    })

    it('lists devices in keyset pages for editors, admins and legal, and shows one', async () => {
      for (let i = 0; i < 3; i++) await post('/api/v1/devices', api.token.researcher, { publicKey: newDevice().publicKey, name: `listed ${i}` })
      const seen: string[] = []
      let url: string | null = '/api/v1/devices?limit=2'
      while (url) {
        const res = await call(api.app, { url, token: api.token.legal })
        expect(res.statusCode, res.body).toBe(200)
        const page = res.json() as { items: { keyId: string }[]; next: string | null }
        expect(page.items.length).toBeLessThanOrEqual(2)
        seen.push(...page.items.map((d) => d.keyId))
        url = page.next ? `/api/v1/devices?limit=2&cursor=${encodeURIComponent(page.next)}` : null
      }
      expect(seen.length).toBeGreaterThanOrEqual(3)
      expect([...seen].sort()).toEqual(seen)
      expect(new Set(seen).size).toBe(seen.length)
      const requested = (await call(api.app, { url: '/api/v1/devices?status=requested&limit=500', token: api.token.editor })).json() as { items: { status: string }[] }
      expect(requested.items.every((d) => d.status === 'requested')).toBe(true)
      const one = await call(api.app, { url: `/api/v1/devices/${seen[0]}`, token: api.token.admin })
      expect(one.json()).toMatchObject({ keyId: seen[0] })
      expectProblem(await call(api.app, { url: `/api/v1/devices/${'0'.repeat(32)}`, token: api.token.admin }), 404)
      expectProblem(await call(api.app, { url: '/api/v1/devices', token: api.token.researcher }), 403)
      expectProblem(await call(api.app, { url: '/api/v1/devices?cursor=bm90IGEgY3Vyc29y', token: api.token.admin }), 400)
    })
  })
}
