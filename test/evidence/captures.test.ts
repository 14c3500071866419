/**
 * Hash first: signed capture records logged before their media, against device keys whose registration and
 * revocation the custody log orders. Refusals store nothing and log nothing; restricted fields are sealed.
 */
import { createHash } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { canonicalJson } from '../../src/core/canonical-json.ts'
import { captureFor, openCaptureRecord, registerCapture, reserveCaptureSealing } from '../../src/core/evidence/capture.service.ts'
import { parseCaptureRecord, verifyCaptureSignature } from '../../src/core/evidence/capture-record.ts'
import { systemActor } from '../../src/core/access/actor.ts'
import type { DialectName } from '../../src/db/dialect/dialect-adapter.ts'
import { call } from '../access/support.ts'
import { expectProblem, startTestApi, type TestApi } from '../http/harness.ts'
import { filesHolding, pgDump } from '../support/canary.ts'
import { captureRecord, newDevice, registeredDevice, requestDeviceOver, signedCapture, type TestDevice } from './device-fixture.ts'

const CANARY = 'CANARY-CAPTURE-Q7M2'
// A coordinate nobody else writes: finding it in clear would mean the location leaked.
const CANARY_LAT = 13.1415926535

const flip = (text: string, at: number) => text.slice(0, at) + String.fromCharCode(text.charCodeAt(at) ^ 1) + text.slice(at + 1)

for (const dialect of ['sqlite', 'postgres'] as const satisfies readonly DialectName[]) {
  describe(`capture records [${dialect}]`, () => {
    let api: TestApi
    let device: TestDevice
    beforeAll(async () => {
      api = await startTestApi(dialect)
      device = await registeredDevice(api.app, api.token.researcher, api.token.editor)
    })
    afterAll(async () => {
      await api?.close()
    })
    const repos = () => api.ctx.store.repos
    const logSize = () => repos().custodyLog.size()
    const capture = (body: unknown, token = api.token.researcher) => call(api.app, { url: '/api/v1/captures', token, body })
    const captureCount = async () => Number((await api.ctx.db.kysely.selectFrom('captures').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n)

    it('logs a signed record at once, answers the same record again with the same receipt, and refuses a second record for the same media', async () => {
      const body = signedCapture(device)
      const before = await logSize()
      const res = await capture(body)
      expect(res.statusCode, res.body).toBe(201)
      const receipt = res.json() as { sha256: string; recordSha256: string; logIndex: number; leafHash: string }
      expect(receipt).toEqual({
        sha256: body.record.sha256,
        recordSha256: createHash('sha256').update(canonicalJson(body.record)).digest('hex'),
        logIndex: before,
        leafHash: expect.stringMatching(/^[0-9a-f]{64}$/),
      })
      const entry = (await repos().custodyLog.entry(receipt.logIndex))!
      expect(entry.leafHash.toString('hex')).toBe(receipt.leafHash)
      expect(JSON.parse(entry.body)).toMatchObject({ type: 'capture.registered', sha256: body.record.sha256, recordSha256: receipt.recordSha256, deviceKeyId: device.keyId })

      // Key order does not matter: the record is the same record.
      const reordered = { signature: body.signature, record: Object.fromEntries(Object.entries(body.record).reverse()) }
      const again = await capture(reordered)
      expect(again.statusCode, again.body).toBe(200)
      expect(again.json()).toEqual(receipt)
      expect(await logSize()).toBe(before + 1)

      const other = signedCapture(device, { sha256: body.record.sha256, notes: 'a different story' })
      expectProblem(await capture(other), 409, 'capture_conflict')
      expect(await logSize()).toBe(before + 1)

      // What the locker checks media against.
      expect(await captureFor(repos(), body.record.sha256)).toMatchObject({ sha256: body.record.sha256, mediaType: 'image/jpeg', byteLength: body.record.byteLength, recordSha256: receipt.recordSha256, deviceKeyId: device.keyId, logIndex: receipt.logIndex })
      expect(await captureFor(repos(), 'f'.repeat(64))).toBeUndefined()
      // The sealed record opens to exactly what was signed.
      const stored = (await repos().captures.get(body.record.sha256))!
      const opened = await openCaptureRecord(api.ctx.sealer, stored)
      expect(opened).toEqual(body.record)
      expect(verifyCaptureSignature(opened, stored.signature, device.publicKey)).toBe(true)
    })

    it('logs one capture.registered event when the same record arrives several times at once', async () => {
      const body = signedCapture(device)
      const before = await logSize()
      const answers = await Promise.all([1, 2, 3, 4].map(() => capture(body)))
      // Each answer is the receipt (201 or 200), or at worst a 409 asking to retry: never a second entry.
      const receipts = answers.filter((a) => a.statusCode < 300).map((a) => a.json() as { logIndex: number })
      expect(receipts.length).toBeGreaterThan(0)
      for (const a of answers) expect([200, 201, 409], a.body).toContain(a.statusCode)
      expect(new Set(receipts.map((r) => r.logIndex))).toEqual(new Set([before]))
      expect(await logSize()).toBe(before + 1)
      expect((await capture(body)).statusCode).toBe(200)
    })

    it('refuses a capture from a key awaiting approval with a clear 409, and accepts it once approved, whatever its device time', async () => {
      const pending = newDevice()
      await requestDeviceOver(api.app, api.token.researcher, pending)
      // Made offline long before anyone approved the key.
      const body = signedCapture(pending, { deviceTime: '2020-01-01T00:00:00Z', gnssTime: null })
      const before = await logSize()
      const refused = expectProblem(await capture(body), 409, 'device_not_registered')
      expect(refused.detail).toMatch(/approv/)
      expect(await logSize()).toBe(before)
      expect(await captureFor(repos(), body.record.sha256)).toBeUndefined()

      const approved = await call(api.app, { method: 'POST', url: `/api/v1/devices/${pending.keyId}/approve`, token: api.token.admin })
      const registeredAt = (approved.json() as { registeredLogIndex: number }).registeredLogIndex
      const res = await capture(body)
      expect(res.statusCode, res.body).toBe(201)
      expect((res.json() as { logIndex: number }).logIndex).toBeGreaterThan(registeredAt)
    })

    it('refuses captures from an unknown key and from a revoked one, logging nothing', async () => {
      const before = await logSize()
      expectProblem(await capture(signedCapture(newDevice())), 409, 'device_unknown')
      const revoked = await registeredDevice(api.app, api.token.researcher, api.token.editor)
      const early = await capture(signedCapture(revoked))
      expect(early.statusCode).toBe(201)
      await call(api.app, { url: `/api/v1/devices/${revoked.keyId}/revoke`, token: api.token.editor, body: { reason: 'lost' } })
      const size = await logSize()
      expectProblem(await capture(signedCapture(revoked)), 409, 'device_revoked')
      expect(await logSize()).toBe(size)
      // A capture logged while the key was good stays good.
      expect(size).toBe(before + 3)
    })

    it('refuses a record or signature with one flipped bit, and records signed by another key', async () => {
      const body = signedCapture(device, { notes: 'the convoy passed at noon' })
      const before = await logSize()
      const tamperedRecord = { ...body, record: { ...body.record, notes: flip(body.record.notes!, 4) } }
      expect(expectProblem(await capture(tamperedRecord), 400).errors).toEqual([{ field: '/body/signature', message: expect.stringMatching(/not the device key/) }])
      expectProblem(await capture({ ...body, record: { ...body.record, byteLength: body.record.byteLength + 1 } }), 400)
      const sig = Buffer.from(body.signature, 'base64')
      sig[10]! ^= 0x01
      expectProblem(await capture({ ...body, signature: sig.toString('base64') }), 400)
      const impostor = newDevice()
      const forged = signedCapture(impostor)
      expectProblem(await capture({ record: { ...forged.record, device: { ...forged.record.device, keyId: device.keyId } }, signature: forged.signature }), 400)
      expect(await logSize()).toBe(before)
      expect(await captureFor(repos(), body.record.sha256)).toBeUndefined()
    })

    it('refuses unknown fields and hostile input with clear 400s, storing and logging nothing', async () => {
      const before = { log: await logSize(), captures: await captureCount() }
      const good = signedCapture(device)
      const r = good.record as unknown as Record<string, unknown>
      const cases: [string, unknown, string | RegExp][] = [
        ['an IMEI', { ...good, record: { ...r, imei: '490154203237518' } }, '/body/record/imei'],
        ['a MAC in the device block', { ...good, record: { ...r, device: { ...good.record.device, mac: '00:1b:63:84:45:e6' } } }, '/body/record/device/mac'],
        ['an IP next to the location', { ...good, record: { ...r, location: { ...good.record.location, ip: '10.0.0.1' } } }, '/body/record/location/ip'],
        ['a missing field', { ...good, record: Object.fromEntries(Object.entries(r).filter(([k]) => k !== 'notes')) }, '/body/record/notes'],
        ['huge notes', { ...good, record: { ...r, notes: 'x'.repeat(4001) } }, '/body/record/notes'],
        ['upper-case hex', { ...good, record: { ...r, sha256: good.record.sha256.toUpperCase() } }, '/body/record/sha256'],
        ['a latitude off the globe', { ...good, record: { ...r, location: { ...good.record.location, lat: 91 } } }, '/body/record/location/lat'],
        ['a time that is not RFC 3339', { ...good, record: { ...r, deviceTime: '01/03/2026 09:15' } }, '/body/record/deviceTime'],
        ['a date that does not exist', { ...good, record: { ...r, gnssTime: '2026-02-30T00:00:00Z' } }, '/body/record/gnssTime'],
        ['a fractional byte length', { ...good, record: { ...r, byteLength: 1.5 } }, '/body/record/byteLength'],
        ['a string for a number', { ...good, record: { ...r, pixelWidth: '4032' } }, '/body/record/pixelWidth'],
        ['another schema', { ...good, record: { ...r, schema: 'c2pa' } }, '/body/record/schema'],
        ['version 2', { ...good, record: { ...r, version: 2 } }, '/body/record/version'],
        ['a bad key id', { ...good, record: { ...r, device: { ...good.record.device, keyId: 'phone-1' } } }, '/body/record/device/keyId'],
        ['an array record', { ...good, record: [r] }, /^\/body\/record/],
        ['a non-base64 signature', { ...good, signature: `${good.signature.slice(0, 80)}!!!!!!==` }, '/body/signature'],
        ['a short signature', { ...good, signature: Buffer.alloc(63, 1).toString('base64') }, '/body/signature'],
        ['an unpadded signature', { ...good, signature: good.signature.replace(/=+$/, '') }, '/body/signature'],
        ['an unknown top-level field', { ...good, publicKey: device.publicKey }, /^\/body/],
      ]
      for (const [what, body, field] of cases) {
        const doc = expectProblem(await capture(body), 400)
        expect(doc.errors?.map((e) => e.field), what).toContainEqual(typeof field === 'string' ? field : expect.stringMatching(field))
      }
      // Text the databases cannot hold faithfully never reaches them, whichever layer stops it.
      for (const raw of [
        JSON.stringify({ ...good, record: { ...r, notes: 'nul \u0000 here' } }),
        JSON.stringify({ ...good, record: { ...r, collector: 'x' } }).replace('"collector":"x"', '"collector":"\\ud800"'),
        JSON.stringify({ ...good, record: { ...r, notes: 'y'.repeat(1024 * 1024) } }),
        '{"record": {"schema": "louder.capture"',
      ]) {
        const res = await capture(raw)
        expect([400, 413], res.body.slice(0, 300)).toContain(res.statusCode)
        expectProblem(res, res.statusCode)
      }
      expect(await logSize()).toBe(before.log)
      expect(await captureCount()).toBe(before.captures)
    })

    it('lets researchers, editors and admins log captures, and nobody else', async () => {
      for (const who of ['editor', 'admin'] as const) expect((await capture(signedCapture(device), api.token[who])).statusCode).toBe(201)
      for (const who of ['legal', 'partner'] as const) expectProblem(await capture(signedCapture(device), api.token[who]), 403)
      expectProblem(await capture(signedCapture(device), ''), 401)
    })

    it('is the use case the locker calls inside its own transaction', async () => {
      const body = signedCapture(device)
      const sealing = await reserveCaptureSealing(api.ctx.sealer)
      const receipt = await api.ctx.store.transaction((trx) => registerCapture(trx, sealing, systemActor('locker-test'), body))
      expect(receipt).toMatchObject({ sha256: body.record.sha256, created: true })
      const replay = await api.ctx.store.transaction((trx) => registerCapture(trx, sealing, systemActor('locker-test'), body))
      expect(replay).toEqual({ ...receipt, created: false })
    })

    it('never keeps location, notes or collector in clear: not in the data directory, not in a database dump', async () => {
      const body = signedCapture(device, {
        notes: `notes ${CANARY} notes`,
        collector: `collector ${CANARY}`,
        caseReference: 'CASE-2026-017',
        location: { lat: CANARY_LAT, lon: 32.5599, altitude: null, accuracy: 3, provider: 'gps' },
      })
      const res = await capture(body)
      expect(res.statusCode, res.body).toBe(201)
      expect(res.body).not.toContain(CANARY)
      expect(parseCaptureRecord(body.record).notes).toContain(CANARY)
      const needles = [CANARY, String(CANARY_LAT)]
      if (dialect === 'postgres') {
        const dump = pgDump(api.ctx.config.databaseUrl!)
        expect(dump.includes(body.record.sha256)).toBe(true)
        for (const n of needles) expect(dump.includes(n), n).toBe(false)
      }
      for (const n of needles) expect(filesHolding(api.ctx.config.dataDir, n), n).toEqual([])
      // Closed, so SQLite's WAL is checkpointed into the main file, and scanned again.
      await api.restart()
      for (const n of needles) expect(filesHolding(api.ctx.config.dataDir, n), n).toEqual([])
      expect(await openCaptureRecord(api.ctx.sealer, (await repos().captures.get(body.record.sha256))!)).toEqual(body.record)
    })
  })
}

describe('capture record parsing', () => {
  it('keeps every field and the exact bytes a device signed', () => {
    const record = captureRecord(newDevice(), { notes: 'émoji 📷 and \u2028 separators', location: null, durationMs: 12_000, pixelWidth: null, pixelHeight: null, mediaType: 'video/mp4' })
    expect(canonicalJson(parseCaptureRecord(JSON.parse(JSON.stringify(record))))).toBe(canonicalJson(record))
  })
})
