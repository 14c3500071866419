/**
 * Field sync end to end (issue 7): the real `louder sync` and the real `louder serve` (SQLite) as child
 * processes, the link emulator between them at 100 Mbit/s with 10 ms each way. Three ways a sync is broken off:
 *
 * 1. the link is cut (RST both ways) 20 times while a folder of 50 reports and 30 photos (~60 MB of
 *    originals: ~1.8 MP noise JPEGs, so the device makes real thumbnails and publication images) syncs;
 * 2. the server is killed with SIGKILL, twice, and restarted on the same data directory and port;
 * 3. the CLI is killed with SIGKILL in the middle of an original, three times, and run again each time;
 *    the bytes the link carried twice are counted against an uninterrupted sync of the same folder.
 *
 * Each ends with the same account of what the server holds: every original is one media item with one
 * `media.received` event and decrypts to the bytes of its file; each thumbnail and publication image is one
 * derivative of its original; each report is one observation naming its media's hashes; each of the device's
 * capture records is logged once; and no upload is left unfinished on the server (uploads were resumed, not
 * begun again beside a half-received one).
 */
import type { ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { initDeviceKey } from '../../src/cli/device-keys.ts'
import { openDatabase } from '../../src/db/database.ts'
import type { MediaCache } from '../../src/sync/field-items.ts'
import { type FieldFixtureOptions, makeFieldFolder } from '../support/field-fixture.ts'
import { LINK_READ_CHUNK, type LinkEmulator, startLinkEmulator } from '../support/link-emulator.ts'
import { startSyncChild, type SyncLine, type SyncSummary } from '../support/sync-child.ts'
import { tmpDir } from '../support/tmp.ts'
import { adminToken, killAllServers, type ServerProcess, startServer, type Where } from './server-process.ts'

/** 100 Mbit/s, 10 ms each way: fast enough for CI, slow enough that a cut or a kill finds bytes in flight. */
const RATE = 12_500_000
const DELAY = 10

type Line = SyncLine
type Summary = SyncSummary

const syncs = new Set<ChildProcess>()
const links = new Set<LinkEmulator>()

afterAll(async () => {
  await Promise.all(
    [...syncs].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve()
          child.once('exit', () => resolve())
          child.kill('SIGKILL')
        }),
    ),
  )
  for (const link of links) await link.close()
  await killAllServers()
})

/** `louder sync DIR … --json` as a child whose JSON lines can be waited for. */
function startSync(dir: string, server: string, deviceDir: string, token: string) {
  return startSyncChild([dir, '--server', server, '--device-dir', deviceDir, '--retry-for', '300'], token, syncs)
}

/** A fresh server (its own data directory) with the test device registered, behind its own link. */
interface Site {
  where: Where
  /** Replaced when the server is restarted. */
  server: ServerProcess
  port: number
  token: string
  link: LinkEmulator
  /** The link's address: what `louder sync` is told. */
  url: string
}

/** A field folder and what the server should end up holding of it. */
interface Folder {
  dir: string
  reports: number
  /** Each original in the fixture's order: its report, size and hash, and whether the device makes previews of it. */
  originals: { report: number; bytes: number; sha256: string; photo: boolean }[]
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex')

async function makeFolder(options: FieldFixtureOptions): Promise<Folder> {
  const dir = join(tmpDir('louder-field-sync-'), 'field')
  const fixture = await makeFieldFolder(dir, options)
  return { dir, reports: options.reports, originals: fixture.files.map((f) => ({ report: f.report, bytes: f.bytes, sha256: sha256(readFileSync(f.path)), photo: f.path.endsWith('.jpg') })) }
}

/**
 * A folder synced again to a server of its own: what the device derived (thumbnails, publication images, the
 * times in their capture records) is kept, what it sent is forgotten.
 */
function forgetSent(folder: Folder): void {
  rmSync(join(folder.dir, '.louder', 'outbox.jsonl'), { force: true })
}

/** Why items failed and were retried, by reason (numbers and ids taken out), for the report line. */
function retryReasons(lines: Line[]): Record<string, number> {
  const tally: Record<string, number> = {}
  for (const l of lines)
    if (l.event === 'state' && l.state === 'failed') {
      const reason = String(l.reason).replace(/\/[0-9a-f-]{12,}…?/g, '/…').replace(/\d+ (s|bytes)/g, 'N $1').slice(0, 80)
      tally[reason] = (tally[reason] ?? 0) + 1
    }
  return tally
}

function report(what: string, figures: Record<string, unknown>): void {
  console.log(`field-sync ${what}: ${JSON.stringify(figures)}`)
}

const stateOf = (l: Line, cls: string, state: string) => l.event === 'state' && l.class === cls && l.state === state

/** The bytes of batches and media the sync has to send, from its first progress line that counts them. */
async function payloadOf(run: ReturnType<typeof startSync>): Promise<number> {
  const classes = (l: Line) => Object.values(l.classes as Record<string, { bytes: number }>)
  const first = await run.waitFor((l) => l.event === 'progress' && classes(l).some((c) => c.bytes > 0))
  return classes(first).reduce((n, c) => n + c.bytes, 0)
}

describe('field sync end to end over a 100 Mbit/s link: cuts, server kill -9, CLI kill -9', () => {
  let deviceDir: string
  let device: { keyId: string; publicKey: string }
  /** 50 reports, the first 30 with a ~2 MB photo each. */
  let field: Folder

  beforeAll(async () => {
    deviceDir = tmpDir('louder-device-')
    device = await initDeviceKey(deviceDir, false)
    field = await makeFolder({ reports: 50, photos: 30, photoBytes: 2_000_000 })
  }, 120_000)

  async function openSite(): Promise<Site> {
    const where: Where = { dataDir: tmpDir('louder-field-sync-data-'), databaseUrl: null }
    const server = await startServer(where)
    const token = await adminToken(where)
    const post = (path: string, body?: unknown) =>
      fetch(`${server.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined })
    const requested = await post('/api/v1/devices', { publicKey: device.publicKey, name: 'Field laptop' })
    expect(requested.status, await requested.text()).toBe(202)
    const approved = await post(`/api/v1/devices/${device.keyId}/approve`)
    expect(approved.status, await approved.text()).toBe(200)
    const port = Number(new URL(server.url).port)
    const link = await startLinkEmulator({ targetPort: port, rate: RATE, delay: DELAY })
    links.add(link)
    return { where, server, port, token, link, url: `http://${link.host}:${link.port}` }
  }

  /** The server's account of the folder: everything once, every hash right (docs/field-sync.md). */
  async function expectExactlyOnce(site: Site, folder: Folder): Promise<void> {
    const cache = JSON.parse(readFileSync(join(folder.dir, '.louder', 'media-cache.json'), 'utf8')) as MediaCache
    const entryOf = new Map(Object.values(cache.entries).map((e) => [e.sha256, e]))
    const previews = new Map<string, { thumbnail: string; publication: string }>()
    for (const o of folder.originals.filter((o) => o.photo)) {
      const d = entryOf.get(o.sha256)?.derivatives
      expect(d, `the device's previews of ${o.sha256}`).toBeTruthy()
      previews.set(o.sha256, { thumbnail: d!.thumbnail.sha256, publication: d!.publication.sha256 })
    }
    const allMedia = new Set([...folder.originals.map((o) => o.sha256), ...[...previews.values()].flatMap((d) => [d.thumbnail, d.publication])])
    expect(allMedia.size).toBe(folder.originals.length + 2 * previews.size)

    const db = await openDatabase({ dataDir: site.where.dataDir, databaseUrl: null })
    try {
      const k = db.kysely
      const items = await k.selectFrom('media_items').select(['sha256', 'kind', 'parent_sha256', 'media_type', 'byte_length']).execute()
      expect(items).toHaveLength(allMedia.size)
      expect(new Set(items.map((i) => i.sha256))).toEqual(allMedia)
      const bySha = new Map(items.map((i) => [i.sha256, i]))
      for (const o of folder.originals) {
        expect(bySha.get(o.sha256)).toMatchObject({ kind: 'original', parent_sha256: null, byte_length: o.bytes })
        const p = previews.get(o.sha256)
        if (!p) continue
        expect(bySha.get(p.thumbnail)).toMatchObject({ kind: 'derivative', parent_sha256: o.sha256, media_type: 'image/webp' })
        expect(bySha.get(p.publication)).toMatchObject({ kind: 'derivative', parent_sha256: o.sha256, media_type: 'image/jpeg' })
      }

      const events = (await k.selectFrom('custody_events').select('body').execute()).map((r) => JSON.parse(r.body) as { type: string; sha256?: string; deviceKeyId?: string })
      const count = (type: string) => {
        const n = new Map<string, number>()
        for (const e of events) if (e.type === type) n.set(e.sha256!, (n.get(e.sha256!) ?? 0) + 1)
        return n
      }
      const received = count('media.received')
      const registered = count('capture.registered')
      expect(new Set(received.keys())).toEqual(allMedia)
      expect(new Set(registered.keys())).toEqual(allMedia)
      for (const sha of allMedia) {
        expect(received.get(sha), `media.received ${sha}`).toBe(1)
        expect(registered.get(sha), `capture.registered ${sha}`).toBe(1)
      }
      expect(events.filter((e) => e.type === 'capture.registered').every((e) => e.deviceKeyId === device.keyId)).toBe(true)

      const captures = await k.selectFrom('captures').select(['sha256', 'device_key_id']).execute()
      expect(captures).toHaveLength(allMedia.size)
      expect(new Set(captures.map((c) => c.sha256))).toEqual(allMedia)
      expect(captures.every((c) => c.device_key_id === device.keyId)).toBe(true)

      // One observation per report (the fixture's narratives start "Report N."), naming its originals in order.
      const observations = await k.selectFrom('observations').select(['narrative', 'media']).execute()
      expect(observations).toHaveLength(folder.reports)
      const byReport = new Map<number, string[][]>()
      for (const o of observations) {
        const r = Number(/^Report (\d+)\./.exec(o.narrative)?.[1])
        byReport.set(r, [...(byReport.get(r) ?? []), JSON.parse(o.media) as string[]])
      }
      for (let r = 0; r < folder.reports; r++) expect(byReport.get(r), `report ${r}`).toEqual([folder.originals.filter((o) => o.report === r).map((o) => o.sha256)])

      // Every upload ended sealed: none was begun again beside one the server still held part of.
      const uploads = await k.selectFrom('uploads').select(['id', 'status', 'upload_offset', 'length']).execute()
      expect(uploads.filter((u) => u.status !== 'sealed')).toEqual([])
    } finally {
      await db.close()
    }

    // The locker gives back the very bytes of each original, decrypted (each read is an access event: fine).
    for (const o of folder.originals) {
      const res = await fetch(`${site.server.url}/api/v1/media/${o.sha256}/content`, { headers: { authorization: `Bearer ${site.token}`, 'louder-reason': 'field sync test: compare with the device' } })
      expect(res.status).toBe(200)
      const body = Buffer.from(await res.arrayBuffer())
      expect(body.length).toBe(o.bytes)
      expect(sha256(body)).toBe(o.sha256)
    }
  }

  /** Polls until `ok()` or the sync exits; false when the sync exited first. */
  async function until(run: ReturnType<typeof startSync>, ok: () => boolean): Promise<boolean> {
    while (!ok()) {
      if (run.child.exitCode !== null || run.child.signalCode !== null) return false
      await sleep(1)
    }
    return true
  }

  it('completes through 20 cuts of the link: every hash matches, every item once', { timeout: 300_000 }, async () => {
    forgetSent(field)
    const site = await openSite()
    const t0 = Date.now()
    const run = startSync(field.dir, site.url, deviceDir, site.token)
    // Cuts spread over the bytes the sync will send (its first progress line with items says how many): two
    // while the first batches of reports and capture records are on the wire, then one every 1/20 of the rest.
    const total = await payloadOf(run)
    const marks = [20_000, 120_000, ...Array.from({ length: 18 }, (_, i) => Math.round(((i + 1) * total) / 20))]
    const cutter = (async () => {
      for (const mark of marks) {
        if (!(await until(run, () => site.link.stats.up.passed >= mark))) return
        site.link.cut()
      }
    })()
    const { code, summary } = await run.finish(240_000)
    await cutter
    const ms = Date.now() - t0
    expect(code, JSON.stringify(summary.errors) + run.stderr()).toBe(0)
    expect(site.link.stats.cuts).toBe(20)
    await expectExactlyOnce(site, field)
    // The link carries the payload, the requests' lines and headers (~90 KB in an uninterrupted sync of this
    // folder), and what the cuts made it carry twice.
    report('20 cuts', { ms, cuts: site.link.stats.cuts, payload: total, upBytes: site.link.stats.up.passed, overPayload: site.link.stats.up.passed - total, connections: site.link.stats.connections, cliBytesSent: summary.bytesSent, cliBytesResent: summary.bytesResent, retries: retryReasons(run.lines) })
  })

  it('completes across kill -9 and restarts of the server: every hash matches, every item once', { timeout: 300_000 }, async () => {
    forgetSent(field)
    const site = await openSite()
    const t0 = Date.now()
    const run = startSync(field.dir, site.url, deviceDir, site.token)
    const restarts: { when: string; upBytes: number; downMs: number }[] = []
    const restart = async (when: string) => {
      const upBytes = site.link.stats.up.passed
      expect(await site.server.kill('SIGKILL')).toBe('SIGKILL')
      const down = Date.now()
      // Same data directory, same port: the link leads where it led; the CLI sees a server gone for a while.
      site.server = await startServer(site.where, 60_000, site.port)
      restarts.push({ when, upBytes, downMs: Date.now() - down })
    }
    // Once while previews go (a batch and small uploads in flight), once in the middle of an original.
    await run.waitFor((l) => stateOf(l, 'P2', 'acknowledged'))
    await restart('previews')
    const original = await run.waitFor((l) => stateOf(l, 'P3', 'sending'))
    const from = site.link.stats.up.passed
    expect(await until(run, () => site.link.stats.up.passed - from >= (original.total as number) / 2), run.stderr()).toBe(true)
    await restart('mid-original')
    const { code, summary } = await run.finish(240_000)
    const ms = Date.now() - t0
    expect(code, JSON.stringify(summary.errors) + run.stderr()).toBe(0)
    await expectExactlyOnce(site, field)
    report('server kill -9', { ms, restarts, upBytes: site.link.stats.up.passed, overPayload: site.link.stats.up.passed - (await payloadOf(run)), cliBytesSent: summary.bytesSent, cliBytesResent: summary.bytesResent, retries: retryReasons(run.lines) })
  })

  it('completes across kill -9 of the CLI mid-original, rerun each time, re-sending at most what was in flight', { timeout: 300_000 }, async () => {
    // Originals that take a while: a 2 MB photo goes whole into the kernel's socket buffers (loopback grows
    // them to megabytes) soon after its PATCH starts, and a killed process's kernel still sends what it was
    // handed, so only a bigger original can be caught half-sent by a kill of the CLI.
    const folder = await makeFolder({ reports: 5, photos: 2, photoBytes: 2_000_000, videos: { count: 5, bytes: 10_000_000 }, seed: 11 })

    // The reference: an uninterrupted sync of the same folder, on a server of its own. Its requests differ
    // from the next sync's only in ids of equal length, so what the link carries beyond it was carried twice.
    const reference = await openSite()
    let t0 = Date.now()
    const clean = await startSync(folder.dir, reference.url, deviceDir, reference.token).finish()
    expect(clean.code, JSON.stringify(clean.summary.errors)).toBe(0)
    const referenceBytes = reference.link.stats.up.passed
    const referenceMs = Date.now() - t0
    await reference.server.kill()
    const media = allMediaOf(folder)
    // Request lines, headers and batches: what the link carried beyond the media's own bytes.
    const referenceOverhead = referenceBytes - [...media.values()].reduce((n, length) => n + length, 0)

    forgetSent(folder)
    const site = await openSite()
    /**
     * What "in flight" means, in bytes the link's up direction passed (its `passed` counter: a byte counts
     * when it leaves the rate limiter towards the server, and again each time it is sent again):
     *
     * - A kill comes while an original uploads, after every report, capture record and preview was
     *   acknowledged. Then at most two connections carry payload: the outbox writes one original at a time,
     *   and starts the next once the last byte of the previous one is handed to the socket, while that one
     *   still drains. `--max-in-flight` (3) bounds them in any case; the bound below takes 3.
     * - Bytes still in the CLI's socket buffers or queued before the link's rate limiter never passed:
     *   sending them in the next run is their first passage, not a second. (With kill -9 the kernel even
     *   sends them on: it closes the socket with a FIN, there being nothing unread on it mid-upload.)
     * - Bytes that passed and reached the server are kept by it (it lives on; tus keeps what a broken-off
     *   request brought) and the next run resumes after them, from the offset HEAD /uploads/{id} reports.
     * - So a byte passes twice only if it passed but never reached the server: it was in the link's delay
     *   line, or in a socket the server had not read when a reset tore the connection down. The link holds
     *   at most `queueLimit.up` (one bandwidth-delay product plus the burst) plus one socket read per
     *   direction of a connection.
     *
     * The bound per kill is that hold times the connections, plus the request lines and headers of the
     * resumed uploads. After each kill the server is asked what it holds of every medium; what passed in that
     * run and is not held (its "lost" bytes) must be within the bound, and so must everything the chain of runs
     * carried beyond the reference. Each kill comes once 4 MB passed since an original started, and the server is seen
     * to hold more of it than the bound: a run that started that upload again from zero breaks the bound.
     */
    const CONNECTIONS = 3
    const HEADERS = 16 * 1024
    const KILL_AFTER = 4_000_000
    const inFlightBound = CONNECTIONS * (site.link.queueLimit.up + LINK_READ_CHUNK) + HEADERS
    const videos = new Set(folder.originals.filter((o) => !o.photo).map((o) => `media:${o.sha256}`))
    const touched = new Set<string>()
    const kills: { id: string; heldOfIt: number; passedInRun: number; gainedInRun: number; lost: number; midUpload: boolean }[] = []
    let heldBefore = 0
    let runStart = 0
    t0 = Date.now()
    let run = startSync(folder.dir, site.url, deviceDir, site.token)
    while (kills.filter((k) => k.midUpload).length < 3) {
      expect(kills.length, 'kills that never caught an original mid-upload').toBeLessThan(5)
      // A video this chain has not touched yet (the first original of a rerun is the one killed before).
      const line = await run.waitFor((l) => stateOf(l, 'P3', 'sending') && videos.has(l.id as string) && !touched.has(l.id as string))
      const id = line.id as string
      touched.add(id)
      const from = site.link.stats.up.passed
      const acked = () => run.lines.some((l) => l.event === 'state' && l.id === id && l.state === 'acknowledged')
      await until(run, () => site.link.stats.up.passed - from >= KILL_AFTER || acked())
      if (acked()) continue
      run.child.kill('SIGKILL')
      expect(await run.exited).toBe(-1)
      // Let the link deliver what it held and the server settle the broken-off requests, then ask what it kept.
      for (const deadline = Date.now() + 20_000; site.link.open > 0 && Date.now() < deadline; ) await sleep(10)
      const held = await heldBytes(site, media)
      const heldNow = [...held.values()].reduce((n, b) => n + b, 0)
      const passedInRun = site.link.stats.up.passed - runStart
      // The first run also sent the reports, capture records and previews: take off what they cost beyond their bytes.
      const gainedInRun = heldNow - heldBefore + (kills.length === 0 ? referenceOverhead : 0)
      const heldOfIt = held.get(id.slice('media:'.length))!
      kills.push({ id, heldOfIt, passedInRun, gainedInRun, lost: passedInRun - gainedInRun, midUpload: heldOfIt < media.get(id.slice('media:'.length))! })
      heldBefore = heldNow
      runStart = site.link.stats.up.passed
      run = startSync(folder.dir, site.url, deviceDir, site.token)
    }
    const { code, summary } = await run.finish(240_000)
    const ms = Date.now() - t0
    expect(code, JSON.stringify(summary.errors) + run.stderr()).toBe(0)
    const reSent = site.link.stats.up.passed - referenceBytes
    report('CLI kill -9', { ms, referenceMs, referenceBytes, upBytes: site.link.stats.up.passed, reSent, inFlightBound, kills, lastRun: { bytesSent: summary.bytesSent, cliBytesResent: summary.bytesResent } })
    for (const k of kills) {
      expect(k.lost, `${k.id}: passed the link in that run but not held by the server`).toBeLessThanOrEqual(inFlightBound)
      // The server held more of the original than can be in flight: sending it again from zero breaks the bound.
      if (k.midUpload) expect(k.heldOfIt, `${k.id}: held by the server after the kill`).toBeGreaterThan(inFlightBound)
    }
    expect(reSent).toBeLessThanOrEqual(kills.length * inFlightBound)
    await expectExactlyOnce(site, folder)
  })

  /** Every medium the sync sends (originals and the device's previews), by SHA-256, with its length. */
  function allMediaOf(folder: Folder): Map<string, number> {
    const cache = JSON.parse(readFileSync(join(folder.dir, '.louder', 'media-cache.json'), 'utf8')) as MediaCache
    const media = new Map<string, number>()
    for (const e of Object.values(cache.entries)) {
      media.set(e.sha256, e.size)
      if (e.derivatives) for (const d of [e.derivatives.thumbnail, e.derivatives.publication]) media.set(d.sha256, d.byteLength)
    }
    return media
  }

  /** What the server holds of each medium (its length once sealed, else the offset of our unfinished upload), once that stops moving. */
  async function heldBytes(site: Site, media: Map<string, number>): Promise<Map<string, number>> {
    let last = ''
    for (;;) {
      const held = new Map<string, number>()
      for (const [sha, length] of media) {
        const res = await fetch(`${site.server.url}/api/v1/media/${sha}`, { method: 'HEAD', headers: { authorization: `Bearer ${site.token}` } })
        held.set(sha, res.status === 200 ? length : Number(res.headers.get('upload-offset') ?? 0))
      }
      const now = JSON.stringify([...held])
      if (now === last) return held
      last = now
      await sleep(200)
    }
  }
})
