/**
 * `louder sync` end to end (issue 7): the real command as a child process, a real server (SQLite) on a socket,
 * through the link emulator. A field folder with photos syncs whole: device, capture records of originals and
 * of their derivatives (signed, parentSha256), the observation naming the originals, the media sealed, the
 * thumbnail and publication image filed as derivatives; a second run sends nothing; a byte budget defers the
 * originals (exit 3) and the next run sends only them; a broken report and a missing medium fail alone.
 */
import { createHash, randomBytes } from 'node:crypto'
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { initDeviceKey } from '../../src/cli/device-keys.ts'
import { addFieldReport, createFieldFolder } from '../../src/field/field-writer.ts'
import { fieldPhotos } from '../evidence/support.ts'
import { call } from '../access/support.ts'
import { startTestApi, type TestApi } from '../http/harness.ts'
import { cleanEnv, runLouder } from '../large/server-process.ts'
import { type LinkEmulator, startLinkEmulator } from '../support/link-emulator.ts'
import type { SyncSummary } from '../support/sync-child.ts'
import { tmpDir } from '../support/tmp.ts'

type Summary = SyncSummary

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex')

describe('louder sync', () => {
  let api: TestApi
  let link: LinkEmulator
  let server: string
  beforeAll(async () => {
    api = await startTestApi('sqlite')
    await api.app.listen({ port: 0, host: '127.0.0.1' })
    const port = (api.app.server.address() as { port: number }).port
    // A modest link: fast enough for a test, slow enough that requests overlap.
    link = await startLinkEmulator({ targetPort: port, rate: 4_000_000, delay: 20 })
    server = `http://${link.host}:${link.port}`
  })
  afterAll(async () => {
    await link?.close()
    await api?.close()
  })

  /** A device key made as `louder device init` makes it, requested and approved through the API. */
  async function approvedDevice(): Promise<string> {
    const dir = tmpDir('louder-device-')
    const info = await initDeviceKey(dir, false)
    const req = await call(api.app, { url: '/api/v1/devices', token: api.token.researcher, body: { publicKey: info.publicKey, name: 'Sync test laptop' } })
    expect(req.statusCode, req.body).toBe(202)
    const ok = await call(api.app, { method: 'POST', url: `/api/v1/devices/${info.keyId}/approve`, token: api.token.editor })
    expect(ok.statusCode, ok.body).toBe(200)
    return dir
  }

  async function folderWith(reports: { title: string; urgent?: boolean; photos: string[]; at: string }[]): Promise<string> {
    const dir = join(tmpDir('louder-field-'), 'field')
    await createFieldFolder(dir)
    for (const r of reports)
      await addFieldReport(dir, { title: r.title, narrative: `${r.title}: what the witness saw.`, occurredAt: r.at, urgent: r.urgent ?? false, location: { lat: 4.36, lon: 18.55 }, media: r.photos.map((file) => ({ file, caption: `photo of ${r.title}` })) })
    return dir
  }

  const sync = async (dir: string, deviceDir: string, extra: string[] = []) => {
    const run = await runLouder(['sync', dir, '--server', server, '--device-dir', deviceDir, '--json', ...extra], cleanEnv({ LOUDER_TOKEN: api.token.researcher }), 120_000)
    const lines = run.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { event: string })
    const summary = lines.find((l) => l.event === 'summary') as Summary | undefined
    if (!summary) throw new Error(`no summary (exit ${run.code}):\n${run.stderr}\n${run.stdout}`)
    return { code: run.code, summary, lines, stderr: run.stderr }
  }

  it('sends a folder whole, derivatives filed under their originals; a second run sends nothing', { timeout: 240_000 }, async () => {
    const deviceDir = await approvedDevice()
    const photos = fieldPhotos().filter((p) => p.name.endsWith('.jpg'))
    const dir = await folderWith([
      { title: 'Market shelling', photos: [photos[0]!.path, photos[1]!.path], at: '2026-03-01T09:00:00Z' },
      { title: 'Roadblock at PK12', urgent: true, photos: [photos[2]!.path], at: '2026-02-27T18:30:00Z' },
    ])
    const first = await sync(dir, deviceDir)
    expect(first.code, JSON.stringify(first.summary.errors)).toBe(0)
    expect(first.summary).toMatchObject({ exitCode: 0, deferred: 0, failed: 0, bytesResent: 0 })
    // device + 2 observations + 3 photos × (3 capture records + 3 media)
    expect(first.summary.acknowledged).toBe(1 + 2 + 3 * 6)
    expect(first.summary.classes.P3).toMatchObject({ items: 3, acknowledged: 3 })

    // The urgent report's previews started before the other's thumbnails; originals started last.
    const states = first.lines as unknown as { event: string; id: string; class: string; report: string; state?: string }[]
    const started = [...new Map(states.filter((l) => l.state === 'sending' && l.class !== 'P0').map((l) => [l.id, l] as const)).values()]
    const firstOriginal = started.findIndex((a) => a.class === 'P3')
    expect(started.slice(firstOriginal).every((a) => a.class === 'P3')).toBe(true)
    const urgentPub = started.findIndex((a) => a.class === 'P2' && a.report.includes('roadblock'))
    expect(urgentPub).toBeGreaterThanOrEqual(0)
    expect(started.slice(0, urgentPub).filter((a) => !a.report.includes('roadblock'))).toEqual([])

    const db = api.ctx.db.kysely
    const observations = await db.selectFrom('observations').selectAll().where('narrative', 'like', '%what the witness saw.').execute()
    expect(observations).toHaveLength(2)
    for (const p of photos.slice(0, 3)) {
      const original = await db.selectFrom('media_items').selectAll().where('sha256', '=', p.sha256).executeTakeFirst()
      expect(original?.kind).toBe('original')
      const derived = await db.selectFrom('media_items').selectAll().where('parent_sha256', '=', p.sha256).execute()
      expect(derived.map((d) => d.media_type).sort()).toEqual(['image/jpeg', 'image/webp'])
    }
    const media = JSON.parse((observations.find((o) => o.urgent) ?? observations[0]!).media as unknown as string) as string[]
    expect(media.length).toBeGreaterThan(0)

    // The publication image carries no metadata and is at most 1600 px on its long side.
    const pub = (await import('node:fs')).readdirSync(join(dir, '.louder', 'derived')).find((n) => n.endsWith('.pub.jpg'))!
    const meta = await sharp(join(dir, '.louder', 'derived', pub)).metadata()
    expect(Math.max(meta.width!, meta.height!)).toBeLessThanOrEqual(1600)
    expect(meta.exif).toBeUndefined()
    expect(meta.xmp).toBeUndefined()
    expect(meta.icc).toBeUndefined()

    const again = await sync(dir, deviceDir)
    expect(again.code).toBe(0)
    expect(again.summary.bytesSent).toBe(0)
    expect(await db.selectFrom('observations').select('id').where('narrative', 'like', '%what the witness saw.').execute()).toHaveLength(2)

    // A new urgent report, now that the server has logged records of this device: its previews carry their
    // capture records in their uploads' metadata, and are still filed under their original.
    const fresh = join(tmpDir('louder-photo-'), 'fresh.jpg')
    writeFileSync(fresh, await sharp(photos[0]!.path).rotate(90).jpeg({ quality: 85 }).toBuffer())
    await addFieldReport(dir, { title: 'Shots at the bridge', narrative: 'Shots at the bridge: what the witness saw.', occurredAt: '2026-03-02T07:00:00Z', urgent: true, location: { lat: 4.37, lon: 18.56 }, media: [{ file: fresh, caption: 'the bridge' }] })
    const carried = async () =>
      (await db.selectFrom('audit_log').select(['detail']).where('action', '=', 'media.ingest').where('route', '=', '/api/v1/uploads').execute()).filter((a) => String(a.detail).includes('captureRecord')).length
    const carriedBefore = await carried()
    const third = await sync(dir, deviceDir)
    expect(third.code, JSON.stringify(third.summary.errors)).toBe(0)
    const freshSha = sha256(readFileSync(fresh))
    const derivatives = await db.selectFrom('media_items').select(['sha256', 'media_type']).where('parent_sha256', '=', freshSha).execute()
    expect(derivatives.map((d) => d.media_type).sort()).toEqual(['image/jpeg', 'image/webp'])
    // Each preview's upload carried its record (the batch beside it may have logged it first): its audit record says so.
    expect((await carried()) - carriedBefore).toBe(2)
  })

  it('defers originals over the budget (exit 3), then sends only them', { timeout: 240_000 }, async () => {
    const deviceDir = await approvedDevice()
    const photo = fieldPhotos().find((p) => p.name.endsWith('.jpg'))!
    // Fresh bytes, so the server holds nothing of them yet.
    const copy = join(tmpDir(), 'fresh.jpg')
    writeFileSync(copy, Buffer.concat([readFileSync(photo.path), Buffer.from(`fresh ${Date.now()}`)]))
    const dir = await folderWith([{ title: 'Night raid', photos: [copy], at: '2026-03-02T02:00:00Z' }])
    const first = await sync(dir, deviceDir, ['--budget', '400KB'])
    expect(first.code, JSON.stringify(first.summary.errors)).toBe(3)
    expect(first.summary.bytesSent).toBeLessThanOrEqual(400_000)
    expect(first.summary.classes.P3).toMatchObject({ items: 1, deferred: 1 })
    expect(first.summary.classes.P2).toMatchObject({ items: 1, acknowledged: 1 })
    const later = await sync(dir, deviceDir, ['--originals', 'later'])
    expect(later.code).toBe(3)
    expect(later.summary.bytesSent).toBe(0)
    const second = await sync(dir, deviceDir)
    expect(second.code).toBe(0)
    const size = readFileSync(copy).length
    expect(second.summary.bytesSent).toBe(size)
  })

  it('fails a broken report and a missing medium alone; the rest of the folder syncs', { timeout: 240_000 }, async () => {
    const deviceDir = await approvedDevice()
    const photo = fieldPhotos().find((p) => p.name.endsWith('.jpg'))!
    const dir = await folderWith([{ title: 'Checkpoint', photos: [photo.path], at: '2026-03-03T10:00:00Z' }])
    writeFileSync(join(dir, 'reports', 'broken.md'), '---\ntitle: [unclosed\n---\nnarrative\n')
    mkdirSync(join(dir, 'media', 'gone'), { recursive: true })
    copyFileSync(photo.path, join(dir, 'media', 'gone', 'x.jpg'))
    await addFieldReport(dir, { title: 'Missing photo', narrative: 'The photo was lost.', occurredAt: '2026-03-03T11:00:00Z', media: [{ file: join(dir, 'media', 'gone', 'x.jpg') }] })
    ;(await import('node:fs')).rmSync(join(dir, 'media', 'gone', 'x.jpg'))
    const run = await sync(dir, deviceDir)
    expect(run.code).toBe(1)
    const reports = run.summary.errors.map((e) => e.report)
    expect(reports, JSON.stringify(run.summary.errors)).toHaveLength(2)
    expect(reports).toEqual(expect.arrayContaining([expect.stringContaining('broken.md'), expect.stringContaining('missing-photo')]))
    expect(run.summary.acknowledged).toBe(1 + 1 + 6)
    expect(existsSync(photo.path)).toBe(true)
  })

  it('requests an unknown device key itself; captures wait for its approval, the observation does not', { timeout: 240_000 }, async () => {
    const deviceDir = tmpDir('louder-device-')
    const info = await initDeviceKey(deviceDir, false)
    // A picture nobody sent before, so no capture record of it is logged yet.
    const photo = join(tmpDir(), 'noise.jpg')
    await sharp(randomBytes(240 * 180 * 3), { raw: { width: 240, height: 180, channels: 3 } }).jpeg().toFile(photo)
    const dir = await folderWith([{ title: 'Before approval', photos: [photo], at: '2026-03-05T07:00:00Z' }])
    const first = await sync(dir, deviceDir, ['--device-name', 'Field laptop'])
    expect(first.code).toBe(1)
    expect(first.summary.errors.filter((e) => e.id.startsWith('capture:')).map((e) => e.reason)).toEqual([expect.stringMatching(/device_not_registered/), expect.stringMatching(/device_not_registered/), expect.stringMatching(/device_not_registered/)])
    expect(first.lines.some((l) => (l as { id?: string; state?: string }).id === `device:${info.keyId}` && (l as { state?: string }).state === 'acknowledged')).toBe(true)
    expect(first.summary.classes.P0).toMatchObject({ acknowledged: 2, failed: 3 })
    const device = await call(api.app, { url: `/api/v1/devices/${info.keyId}`, token: api.token.editor })
    expect(device.json()).toMatchObject({ status: 'requested', name: 'Field laptop' })
    expect((await call(api.app, { method: 'POST', url: `/api/v1/devices/${info.keyId}/approve`, token: api.token.editor })).statusCode).toBe(200)
    const second = await sync(dir, deviceDir)
    expect(second.code, JSON.stringify(second.summary.errors)).toBe(0)
  })

  it('sends a restricted part only with the passphrase; without it that report alone fails', { timeout: 240_000 }, async () => {
    const deviceDir = await approvedDevice()
    const dir = await folderWith([{ title: 'Open report', photos: [], at: '2026-03-06T07:00:00Z' }])
    await addFieldReport(
      dir,
      { title: 'Witnessed arrest', narrative: 'Two men taken at dawn.', occurredAt: '2026-03-06T05:00:00Z', restricted: { notes: 'Met at the church.', witnesses: [{ name: 'Amal', contact: '+236 555 0100', role: 'witness', consent: null }] } },
      { passphrase: 'correct horse', scryptWorkFactor: 10 },
    )
    const shut = await sync(dir, deviceDir)
    expect(shut.code).toBe(1)
    expect(shut.summary.errors).toEqual([expect.objectContaining({ report: expect.stringContaining('witnessed-arrest'), reason: expect.stringMatching(/passphrase/) })])
    const passFile = join(tmpDir(), 'pass.txt')
    writeFileSync(passFile, 'correct horse\n')
    const open = await sync(dir, deviceDir, ['--passphrase-file', passFile])
    expect(open.code, JSON.stringify(open.summary.errors)).toBe(0)
    const row = await api.ctx.db.kysely.selectFrom('observations').selectAll().where('narrative', '=', 'Two men taken at dawn.').executeTakeFirstOrThrow()
    expect(row.restricted).toMatch(/^lse1\./)
    expect(JSON.stringify(row)).not.toContain('Amal')
  })

  it('refuses to run without a device key or a token, with a line saying what to do', async () => {
    const dir = await folderWith([])
    const noKey = await runLouder(['sync', dir, '--server', server, '--device-dir', join(tmpDir(), 'none')], cleanEnv({ LOUDER_TOKEN: 'x' }))
    expect(noKey.code).toBe(1)
    expect(noKey.stderr).toMatch(/louder device init/)
    const noToken = await runLouder(['sync', dir, '--server', server])
    expect(noToken.code).toBe(1)
    expect(noToken.stderr).toMatch(/LOUDER_TOKEN/)
    const deviceDir = await approvedDevice()
    const badToken = await runLouder(['sync', dir, '--server', server, '--device-dir', deviceDir, '--retry-for', '5'], cleanEnv({ LOUDER_TOKEN: 'ldr_not-a-token' }))
    expect(badToken.code).toBe(1)
    expect(badToken.stdout).toMatch(/error .*401/)
    const badBudget = await runLouder(['sync', dir, '--server', server, '--budget', 'lots'], cleanEnv({ LOUDER_TOKEN: 'x' }))
    expect(badBudget.code).toBe(1)
    expect(badBudget.stderr).toMatch(/not a size/)
  })
})

void sha256
