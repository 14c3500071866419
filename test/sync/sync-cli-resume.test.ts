/**
 * `louder sync` over a bad link (issue 7): killed with SIGKILL in the middle of an original and run again, it
 * resumes the upload from the server's offset instead of starting over; a blackout that drops every connection
 * mid-upload costs a stall timeout and a resume, not the session; `--watch` sends reports as they appear and
 * `--purge-after-ack` deletes originals only once the server confirmed them, after which the folder still syncs
 * clean. Real command, real server (SQLite), the link emulator between them.
 */
import { randomBytes } from 'node:crypto'
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { initDeviceKey } from '../../src/cli/device-keys.ts'
import { addFieldReport, createFieldFolder } from '../../src/field/field-writer.ts'
import { call } from '../access/support.ts'
import { fieldPhotos } from '../evidence/support.ts'
import { startTestApi, type TestApi } from '../http/harness.ts'
import { type LinkEmulator, startLinkEmulator } from '../support/link-emulator.ts'
import { startSyncChild, type SyncLine } from '../support/sync-child.ts'
import { tmpDir } from '../support/tmp.ts'

/** `louder sync … --json` as a child whose JSON lines can be waited for. */
const startSync = (args: string[], token: string) => startSyncChild(args, token)

describe('louder sync over a bad link', () => {
  let api: TestApi
  let link: LinkEmulator
  let server: string
  let deviceDir: string
  beforeAll(async () => {
    api = await startTestApi('sqlite')
    await api.app.listen({ port: 0, host: '127.0.0.1' })
    const port = (api.app.server.address() as { port: number }).port
    link = await startLinkEmulator({ targetPort: port, rate: 1_500_000, delay: 30 })
    server = `http://${link.host}:${link.port}`
    deviceDir = tmpDir('louder-device-')
    const info = await initDeviceKey(deviceDir, false)
    expect((await call(api.app, { url: '/api/v1/devices', token: api.token.researcher, body: { publicKey: info.publicKey, name: 'Resume test' } })).statusCode).toBe(202)
    expect((await call(api.app, { method: 'POST', url: `/api/v1/devices/${info.keyId}/approve`, token: api.token.editor })).statusCode).toBe(200)
  })
  afterAll(async () => {
    await link?.close()
    await api?.close()
  })

  async function folderWithOriginal(title: string, size: number): Promise<{ dir: string; file: string }> {
    const dir = join(tmpDir('louder-field-'), 'field')
    await createFieldFolder(dir)
    const file = join(tmpDir(), `${title.replace(/\W+/g, '-')}.mp4`)
    writeFileSync(file, randomBytes(size))
    await addFieldReport(dir, { title, narrative: `${title}, filmed from the roof.`, occurredAt: '2026-03-04T08:00:00Z', media: [{ file }] })
    return { dir, file }
  }

  const original = (l: SyncLine) => l.event === 'progress' && (l.inFlight as { id: string; sent: number }[]).some((f) => f.sent >= 2_500_000)

  it('after kill -9 mid-original, the next run resumes from the server offset', { timeout: 180_000 }, async () => {
    const size = 6_000_000
    const { dir } = await folderWithOriginal('Convoy', size)
    const first = startSync([dir, '--server', server, '--device-dir', deviceDir], api.token.researcher)
    await first.waitFor(original)
    first.child.kill('SIGKILL')
    await first.exited
    const second = startSync([dir, '--server', server, '--device-dir', deviceDir], api.token.researcher)
    const summary = (await second.waitFor((l) => l.event === 'summary', 120_000)) as unknown as { exitCode: number; bytesSent: number; bytesResent: number; acknowledged: number }
    expect(await second.exited, second.stderr()).toBe(0)
    expect(summary.exitCode).toBe(0)
    // Resumed, not restarted: well under the whole file went the second time.
    expect(summary.bytesSent).toBeLessThan(size - 2_000_000)
    const rows = await api.ctx.db.kysely.selectFrom('observations').select('id').where('narrative', '=', 'Convoy, filmed from the roof.').execute()
    expect(rows).toHaveLength(1)
  })

  it('rides out a blackout that drops every connection mid-upload', { timeout: 180_000 }, async () => {
    const { dir } = await folderWithOriginal('Checkpoint fire', 6_000_000)
    const run = startSync([dir, '--server', server, '--device-dir', deviceDir, '--stall-timeout', '2'], api.token.researcher)
    await run.waitFor(original)
    await link.blackout(4_000, { then: 'drop' })
    const summary = (await run.waitFor((l) => l.event === 'summary', 120_000)) as unknown as { exitCode: number; bytesResent: number; failed: number }
    expect(await run.exited, run.stderr()).toBe(0)
    expect(summary).toMatchObject({ exitCode: 0, failed: 0 })
    expect(run.lines.some((l) => l.event === 'state' && l.state === 'failed')).toBe(true)
  })

  it('--watch sends new reports as they appear; --purge-after-ack deletes originals the server confirmed', { timeout: 180_000 }, async () => {
    const { dir, file } = await folderWithOriginal('Market day', 300_000)
    const run = startSync([dir, '--server', server, '--device-dir', deviceDir, '--watch', '--purge-after-ack'], api.token.researcher)
    await run.waitFor((l) => l.event === 'summary')
    const media = join(dir, 'media')
    const { readdirSync } = await import('node:fs')
    const originalsLeft = () => readdirSync(media, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).length
    expect(originalsLeft()).toBe(0)
    expect(existsSync(file)).toBe(true)

    const photo = fieldPhotos().find((p) => p.name.endsWith('.jpg'))!
    await addFieldReport(dir, { title: 'Second report', narrative: 'Seen later that day.', occurredAt: '2026-03-04T15:00:00Z', urgent: true, media: [{ file: photo.path }] })
    await run.waitFor((l) => l.event === 'summary' && run.lines.filter((x) => x.event === 'summary').length >= 2, 60_000)
    run.child.kill('SIGINT')
    expect(await run.exited).toBe(130)
    const rows = await api.ctx.db.kysely.selectFrom('observations').select('id').where('narrative', '=', 'Seen later that day.').execute()
    expect(rows).toHaveLength(1)

    // With the originals gone, the folder still syncs clean and sends nothing.
    const again = startSync([dir, '--server', server, '--device-dir', deviceDir], api.token.researcher)
    const summary = (await again.waitFor((l) => l.event === 'summary')) as unknown as { exitCode: number; bytesSent: number; errors: unknown[] }
    expect(await again.exited).toBe(0)
    expect(summary).toMatchObject({ exitCode: 0, bytesSent: 0, errors: [] })
  })
})
