/**
 * The outbox's rules (issue 7), with the real file-backed store and a scripted server behind the transport
 * port (the HTTP transport and the real server are tested end to end in sync-cli.test.ts): send order by
 * class, urgency and age; the byte budget and the originals policy; back-off with jitter through a long
 * outage; resuming uploads from the server's offset, also after the process died; items that fail alone.
 */
import { createHash } from 'node:crypto'
import { appendFileSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  backoffDelay,
  type BatchAnswer,
  CAPTURE_REFUSED,
  type BatchRequestItem,
  type Clock,
  compareItems,
  type OutboxEvent,
  type OutboxItem,
  type OutboxOptions,
  type PriorityClass,
  runOutbox,
  SMALL_UPLOAD_BYTES,
  type SyncTransport,
  SyncTransportError,
} from '../../src/core/sync/outbox.ts'
import { openFileOutboxStore, readJournal } from '../../src/sync/file-outbox-store.ts'
import { prng } from '../../bench/api-dataset.ts'
import { tmpDir } from '../support/tmp.ts'

/** Time that passes only when the outbox sleeps, so back-off is exact and tests take no real time. */
function virtualClock(start = 1_000_000): Clock & { slept: number[] } {
  let t = start
  const slept: number[] = []
  return {
    slept,
    now: () => t,
    async sleep(ms) {
      slept.push(ms)
      await Promise.resolve()
      t += ms
    },
  }
}

interface Upload {
  sha256: string
  length: number
  offset: number
}

/**
 * A server as docs/field-sync.md describes it, in memory. `down` makes every request fail (a blackout) until
 * the clock passes it; `cutAt` cuts the next upload body after that many bytes of the upload (the server keeps them).
 */
class ScriptedServer implements SyncTransport {
  readonly log: string[] = []
  readonly held = new Set<string>()
  readonly uploads = new Map<string, Upload>()
  readonly batchKeys = new Map<string, BatchAnswer>()
  readonly badKeys = new Set<string>()
  cutAt: number | null = null
  /** Refuse every capture record that rides with an upload (a server that does not know the device yet). */
  refuseInline = false
  /** Take a creation's ride-along record without logging or confirming it (a server that does not know the key). */
  ignoreCapture = false
  readonly capturesInline: string[] = []
  downUntil = 0
  bytesReceived = 0
  private n = 0
  private readonly clock: Clock
  constructor(clock: Clock) {
    this.clock = clock
  }

  private gate(what: string) {
    this.log.push(what)
    if (this.clock.now() < this.downUntil) throw new SyncTransportError(`${what}: ECONNRESET`, { transient: true })
  }

  private receive(u: Upload, from: number, onBytes: (n: number) => void) {
    let end = u.length
    if (this.cutAt !== null && this.cutAt < u.length) {
      end = Math.min(end, Math.max(from, this.cutAt))
      this.cutAt = null
    }
    for (let at = from; at < end; at += 16_384) {
      const n = Math.min(16_384, end - at)
      onBytes(n)
      this.bytesReceived += n
    }
    u.offset = end
    if (end < u.length) throw new SyncTransportError('ECONNRESET mid-body', { transient: true })
    this.held.add(u.sha256)
  }

  async sendBatch(items: BatchRequestItem[]): Promise<BatchAnswer[]> {
    this.gate(`batch ${items.map((i) => i.idempotencyKey).join(',')}`)
    return items.map((i) => {
      if (this.badKeys.has(i.idempotencyKey)) return { status: 400, problem: { code: 'validation_failed', detail: 'bad item' } }
      const answer = this.batchKeys.get(i.idempotencyKey) ?? { status: 201, body: { id: `srv-${i.idempotencyKey}`, sha256: `srv-${i.idempotencyKey}`, keyId: 'k' } }
      this.batchKeys.set(i.idempotencyKey, answer)
      return answer
    })
  }

  async headMedia(sha256: string) {
    this.gate(`head-media ${sha256}`)
    if (this.held.has(sha256)) return { held: true as const }
    const open = [...this.uploads.entries()].find(([, u]) => u.sha256 === sha256 && u.offset < u.length)
    return { held: false as const, upload: open ? { url: open[0], offset: open[1].offset } : null }
  }

  async createUpload(req: Parameters<SyncTransport['createUpload']>[0]) {
    this.gate(`create ${req.sha256}${req.withBody ? ' +body' : ''}${req.capture === undefined ? '' : ' +capture'}`)
    // A capture record riding along is logged first, as its batch item would be, or the creation is refused.
    const key = (req.capture as { key?: string } | undefined)?.key
    if (key !== undefined) {
      if (this.badKeys.has(key) || this.refuseInline) {
        this.log.push(`refused ${req.sha256}`)
        throw new SyncTransportError('409 device_unknown', { transient: false, status: 409, code: CAPTURE_REFUSED })
      }
      this.capturesInline.push(key)
    }
    const url = `https://server/api/v1/uploads/u${++this.n}`
    const u = { sha256: req.sha256, length: req.length, offset: 0 }
    this.uploads.set(url, u)
    if (req.withBody) this.receive(u, 0, req.onBytes)
    return { url, offset: u.offset, sha256: u.offset === u.length ? u.sha256 : null, captureLogged: key !== undefined && !this.ignoreCapture }
  }

  async headUpload(url: string) {
    this.gate(`head-upload ${url}`)
    const u = this.uploads.get(url)
    return u ? { offset: u.offset, length: u.length } : null
  }

  async patchUpload(req: Parameters<SyncTransport['patchUpload']>[0]) {
    this.gate(`patch ${req.url} @${req.offset}`)
    const u = this.uploads.get(req.url)!
    if (u.offset !== req.offset) throw new SyncTransportError('409 offset', { transient: true, status: 409 })
    this.receive(u, req.offset, req.onBytes)
    return { offset: u.offset, sha256: u.sha256 }
  }
}

const sha = (label: string) => createHash('sha256').update(label).digest('hex')

/** A report's items as `louder sync` builds them: records in one batch, then thumbnail, publication image, original. */
function report(id: string, time: number, urgent = false, sizes = { thumb: 15_000, pub: 200_000, original: 5_000_000 }): OutboxItem[] {
  const media = (kind: string, cls: PriorityClass, length: number): OutboxItem[] => {
    const h = sha(`${id}${kind}`)
    return [
      { id: `capture:${h}`, class: 0, urgent, time, label: id, after: [], payload: { type: 'batch', kind: 'capture', idempotencyKey: `capture:${h}`, body: { key: `capture:${h}` }, bytes: 900 } },
      { id: `media:${h}`, class: cls, urgent, time, label: id, after: [`capture:${h}`], payload: { type: 'media', sha256: h, length, filename: `${id}-${kind}`, source: `/nowhere/${id}` } },
    ]
  }
  return [
    { id: `observation:${id}`, class: 0, urgent, time, label: id, after: [], payload: { type: 'batch', kind: 'observation', idempotencyKey: `obs:${id}`, body: {}, bytes: 2_000 } },
    ...media('t', 1, sizes.thumb),
    ...media('p', 2, sizes.pub),
    ...media('o', 3, sizes.original),
  ]
}

async function session(dir: string, server: ScriptedServer, clock: Clock, items: OutboxItem[], options: Partial<OutboxOptions> = {}, events: OutboxEvent[] = []) {
  const store = await openFileOutboxStore(join(dir, 'outbox.jsonl'))
  try {
    return await runOutbox({ store, transport: server, clock, random: prng(7), onEvent: (e) => events.push(e) }, items, { maxInFlight: 1, ...options })
  } finally {
    await store.close()
  }
}

/** The media whose uploads were created, in order (a creation refused for its ride-along capture record is not). */
const mediaOrder = (log: string[]) => log.filter((l, i) => l.startsWith('create') && !log[i + 1]?.startsWith(`refused ${l.split(' ')[1]}`)).map((l) => l.split(' ')[1]!)

describe('outbox', () => {
  it('sends by class, urgent first, then newest; an urgent report jumps the line; originals last', async () => {
    const clock = virtualClock()
    const server = new ScriptedServer(clock)
    // Thumbnails over SMALL_UPLOAD_BYTES here: small ones run beside the others (next test), out of this order.
    const sizes = { thumb: SMALL_UPLOAD_BYTES + 1, pub: 200_000, original: 5_000_000 }
    const items = [...report('old', 1_000, false, sizes), ...report('new', 2_000, false, sizes), ...report('urgent', 500, true, sizes)]
    const result = await session(tmpDir(), server, clock, items)
    expect(result.items.every((i) => i.outcome === 'acknowledged')).toBe(true)
    expect(mediaOrder(server.log)).toEqual(
      ['urgent' + 't', 'urgent' + 'p', 'new' + 't', 'old' + 't', 'new' + 'p', 'old' + 'p', 'urgent' + 'o', 'new' + 'o', 'old' + 'o'].map(sha),
    )
    // The urgent report's records went in a batch of their own (capture records before the observation), so its
    // previews could start without waiting for every other record's answer; the rest in the next.
    const batches = server.log.filter((l) => l.startsWith('batch')).map((l) => l.split(' ')[1]!.split(','))
    expect(batches).toHaveLength(2)
    expect(batches[0]).toEqual([...['urgentt', 'urgentp', 'urgento'].map((l) => `capture:${sha(l)}`).sort(), 'obs:urgent'])
    expect(batches[1]).toHaveLength(8)
    expect(result.bytesResent).toBe(0)
  })

  it("starts an urgent report's previews after one small batch, not after a backlog of other records", async () => {
    const clock = virtualClock()
    const server = new ScriptedServer(clock)
    const backlog = Array.from({ length: 120 }, (_, i) => report(`r${i}`, 10_000 + i)).flat()
    const result = await session(tmpDir(), server, clock, [...backlog, ...report('urgent', 1, true)], { maxInFlight: 3 })
    expect(result.items.every((i) => i.outcome === 'acknowledged')).toBe(true)
    const batches = server.log.flatMap((l, i) => (l.startsWith('batch') ? [i] : []))
    expect(batches.length).toBeGreaterThan(3)
    const urgentPub = server.log.indexOf(`create ${sha('urgentp')} +body`)
    expect(urgentPub).toBeGreaterThan(batches[0]!)
    expect(urgentPub).toBeLessThan(batches[2]!)
  })

  it('keeps the device request at the head of the batch', () => {
    const device: OutboxItem = { id: 'device:k', class: 0, urgent: true, time: Number.MAX_SAFE_INTEGER, label: 'device', after: [], payload: { type: 'batch', kind: 'device', idempotencyKey: 'device:k', body: {}, bytes: 100 } }
    const sorted = [...report('a', 5, true), device].sort(compareItems)
    expect(sorted[0]!.id).toBe('device:k')
  })

  it('never starts an original while reports, thumbnails or publication images remain, even with room in flight', async () => {
    const clock = virtualClock()
    const server = new ScriptedServer(clock)
    server.badKeys.add(`capture:${sha('bp')}`)
    const result = await session(tmpDir(), server, clock, [...report('a', 1), ...report('b', 2)], { maxInFlight: 4 })
    const creates = mediaOrder(server.log)
    const firstOriginal = creates.findIndex((h) => h === sha('ao') || h === sha('bo'))
    expect(creates.slice(0, firstOriginal).sort()).toEqual([sha('at'), sha('ap'), sha('bt')].sort())
    // The failed record fails its medium with it; everything else arrives.
    const failed = result.items.filter((i) => i.outcome !== 'acknowledged').map((i) => i.item.id)
    expect(failed.sort()).toEqual([`capture:${sha('bp')}`, `media:${sha('bp')}`].sort())
    expect(result.items.find((i) => i.item.id === `capture:${sha('bp')}`)!.reason).toMatch(/validation_failed/)
    // No record of this device was logged before this run, so none rode along: its medium never went.
    expect(server.capturesInline).toEqual([])
  })


  it('starts the next original once the previous one is all on the wire, not after its answer; three at most in flight', async () => {
    const clock = virtualClock()
    const server = new ScriptedServer(clock)
    // The first three originals' answers (the server sealing them) are held back until we let them go.
    let release!: () => void
    const answerHeld = new Promise<void>((resolve) => (release = resolve))
    const patch = server.patchUpload.bind(server)
    let patches = 0
    server.patchUpload = async (req) => {
      const answer = await patch(req)
      if (patches++ < 3) await answerHeld
      return answer
    }
    const items = [...report('a', 1), ...report('b', 2), ...report('c', 3), ...report('d', 4)]
    const done = session(tmpDir(), server, clock, items, { maxInFlight: 4 })
    const all = [sha('ao'), sha('bo'), sha('co'), sha('do')]
    const originals = () => mediaOrder(server.log).filter((h) => all.includes(h))
    // The journal's writes are real (fsync), so wait in real time; without the overlap the second never starts.
    for (const deadline = Date.now() + 10_000; originals().length < 3 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 5))
    // Each began while the ones before waited for their answers; the fourth waits while three are in flight.
    await new Promise((r) => setTimeout(r, 100))
    expect(originals()).toEqual([sha('do'), sha('co'), sha('bo')])
    release()
    const result = await done
    expect(result.items.every((i) => i.outcome === 'acknowledged')).toBe(true)
    expect(originals()).toEqual([sha('do'), sha('co'), sha('bo'), sha('ao')])
  })

  it('sends fresh previews without asking HEAD /media first; the device request does not make a batch urgent', async () => {
    const clock = virtualClock()
    const server = new ScriptedServer(clock)
    const device: OutboxItem = { id: 'device:k', class: 0, urgent: true, time: Number.MAX_SAFE_INTEGER, label: 'device', after: [], payload: { type: 'batch', kind: 'device', idempotencyKey: 'device:k', body: {}, bytes: 100 } }
    const result = await session(tmpDir(), server, clock, [device, ...report('a', 1)])
    expect(result.items.every((i) => i.outcome === 'acknowledged')).toBe(true)
    // One batch: the device request led the report's records instead of taking a round trip of its own.
    expect(server.log.filter((l) => l.startsWith('batch'))).toHaveLength(1)
    const fresh = new ScriptedServer(clock)
    const urgent = await session(tmpDir(), fresh, clock, report('u', 1, true))
    expect(urgent.items.every((i) => i.outcome === 'acknowledged')).toBe(true)
    const heads = fresh.log.filter((l) => l.startsWith('head-media')).map((l) => l.split(' ')[1])
    // The original still asks: another device may hold its megabytes.
    expect(heads).toEqual([sha('uo')])
    expect(server.log.filter((l) => l.startsWith('head-media'))).toEqual([`head-media ${sha('ao')}`])
  })
  it("sends an urgent report's previews beside its batch, each carrying its capture record, once the device key is known", async () => {
    const clock = virtualClock()
    const server = new ScriptedServer(clock)
    const dir = tmpDir()
    const device: OutboxItem = { id: 'device:k', class: 0, urgent: true, time: Number.MAX_SAFE_INTEGER, label: 'device', after: [], payload: { type: 'batch', kind: 'device', idempotencyKey: 'device:k', body: {}, bytes: 100 } }
    // First run: the device request goes in this run's batch, so no medium may lean on the key yet.
    const first = await session(dir, server, clock, [device, ...report('a', 1, true)], { maxInFlight: 3 })
    expect(first.items.every((i) => i.outcome === 'acknowledged')).toBe(true)
    expect(server.capturesInline).toEqual([])

    // Next run, the key is known: the urgent batch and both previews start at once, the records riding along.
    // (Batch answers are held for a moment of real time, as over a satellite link; the journal's fsyncs are real.)
    const answer = server.sendBatch.bind(server)
    server.sendBatch = async (batch) => {
      const answers = await answer(batch)
      await new Promise((r) => setTimeout(r, 150))
      return answers
    }
    let from = server.log.length
    const second = await session(dir, server, clock, [device, ...report('u', 2, true)], { maxInFlight: 3 })
    expect(second.items.every((i) => i.outcome === 'acknowledged')).toBe(true)
    const run = server.log.slice(from)
    expect(run[0]).toMatch(/^batch /)
    expect(run.slice(1, 3)).toEqual([`create ${sha('ut')} +body +capture`, `create ${sha('up')} +body +capture`])
    expect(server.capturesInline).toEqual([`capture:${sha('ut')}`, `capture:${sha('up')}`])
    // The original waits for its record's answer as before.
    expect(run.some((l) => l.startsWith(`create ${sha('uo')}`) && l.endsWith('+capture'))).toBe(false)

    // A server that will not log a record that rides along: each preview is refused once, then waits for the batch.
    server.refuseInline = true
    from = server.log.length
    const third = await session(dir, server, clock, [device, ...report('v', 3, true)], { maxInFlight: 3 })
    expect(third.items.every((i) => i.outcome === 'acknowledged')).toBe(true)
    const after = server.log.slice(from)
    expect(after.filter((l) => l.startsWith('refused')).sort()).toEqual([`refused ${sha('vt')}`, `refused ${sha('vp')}`].sort())
    const batchAt = after.findIndex((l) => l.startsWith('batch '))
    expect(after.indexOf(`create ${sha('vp')} +body`)).toBeGreaterThan(batchAt)
    expect(after.filter((l) => l.startsWith(`create ${sha('vt')}`))).toEqual([`create ${sha('vt')} +body +capture`, `create ${sha('vt')} +body`])
  })

  it('takes a ride-along record as sent only when the server confirms it; other refusals fail the medium', async () => {
    const clock = virtualClock()
    const server = new ScriptedServer(clock)
    const dir = tmpDir()
    // A first run logs records of this device, so later ones may ride along.
    expect((await session(dir, server, clock, report('a', 1))).items.every((i) => i.outcome === 'acknowledged')).toBe(true)
    const answer = server.sendBatch.bind(server)
    server.sendBatch = async (batch) => {
      const answers = await answer(batch)
      await new Promise((r) => setTimeout(r, 150))
      return answers
    }
    const batches = (from: number) => server.log.slice(from).filter((l) => l.startsWith('batch ')).join('\n')

    // An urgent report's batch is in flight; another report's thumbnail starts beside it, its record riding along,
    // confirmed: that record never goes in a batch.
    let from = server.log.length
    const second = await session(dir, server, clock, [...report('u', 2, true), ...report('n', 3)], { maxInFlight: 3 })
    expect(second.items.every((i) => i.outcome === 'acknowledged')).toBe(true)
    expect(server.capturesInline).toContain(`capture:${sha('nt')}`)
    expect(batches(from)).not.toContain(`capture:${sha('nt')}`)

    // A server that takes the creation but does not confirm the record: it still goes by batch, and nothing more rides along.
    server.ignoreCapture = true
    from = server.log.length
    const inlineBefore = server.capturesInline.length
    const third = await session(dir, server, clock, [...report('v', 4, true), ...report('m', 5)], { maxInFlight: 3 })
    expect(third.items.every((i) => i.outcome === 'acknowledged')).toBe(true)
    const rode = server.capturesInline.slice(inlineBefore)
    expect(rode).toHaveLength(1)
    expect(batches(from)).toContain(rode[0]!)

    // A creation refused for something else than its record (too large, a hash mismatch) fails the medium: it is not sent again.
    server.ignoreCapture = false
    const create = server.createUpload.bind(server)
    server.createUpload = async (req) => {
      if (req.sha256 === sha('wt') && req.capture !== undefined) {
        server.log.push(`too-large ${req.sha256}`)
        throw new SyncTransportError('413 upload_too_large', { transient: false, status: 413, code: 'upload_too_large' })
      }
      return create(req)
    }
    const fourth = await session(dir, server, clock, report('w', 6, true), { maxInFlight: 3 })
    expect(fourth.items.find((i) => i.item.id === `media:${sha('wt')}`)!.outcome).toBe('failed')
    expect(server.log.filter((l) => l.includes(sha('wt')) && /^(create|too-large)/.test(l))).toEqual([`too-large ${sha('wt')}`])
  })

  it('runs small uploads (thumbnails) beside larger ones, as many again as maxInFlight', async () => {
    const clock = virtualClock()
    const server = new ScriptedServer(clock)
    let release!: () => void
    const held = new Promise<void>((resolve) => (release = resolve))
    const open = { small: 0, large: 0 }
    const peak = { small: 0, large: 0 }
    const create = server.createUpload.bind(server)
    server.createUpload = async (req) => {
      const kind = req.length > SMALL_UPLOAD_BYTES ? 'large' : 'small'
      peak[kind] = Math.max(peak[kind], ++open[kind])
      try {
        const answer = await create(req)
        // Publication images wait for us; thumbnails take a moment of real time, so they overlap.
        await (kind === 'large' ? held : new Promise((r) => setTimeout(r, 20)))
        return answer
      } finally {
        open[kind]--
      }
    }
    const done = session(tmpDir(), server, clock, [...report('a', 1), ...report('b', 2), ...report('c', 3)], { maxInFlight: 2 })
    const thumbs = [sha('at'), sha('bt'), sha('ct')]
    for (const deadline = Date.now() + 10_000; mediaOrder(server.log).filter((h) => thumbs.includes(h)).length < 3 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 5))
    // Every thumbnail went while two publication images held the two places for larger requests.
    expect(mediaOrder(server.log).filter((h) => thumbs.includes(h))).toHaveLength(3)
    expect(open.large).toBe(2)
    release()
    const result = await done
    expect(result.items.every((i) => i.outcome === 'acknowledged')).toBe(true)
    expect(peak).toEqual({ small: 2, large: 2 })
  })

  it("starts originals once other reports' previews are on the wire, but not before an urgent report's are acknowledged", async () => {
    for (const urgent of [false, true]) {
      const clock = virtualClock()
      const server = new ScriptedServer(clock)
      let release!: () => void
      const held = new Promise<void>((resolve) => (release = resolve))
      const create = server.createUpload.bind(server)
      // The publication image's bytes are all on the wire; its answer (the seal, the way back) is held.
      server.createUpload = async (req) => {
        const answer = await create(req)
        if (req.sha256 === sha('rp')) await held
        return answer
      }
      const done = session(tmpDir(), server, clock, report('r', 1, urgent), { maxInFlight: 3 })
      for (const deadline = Date.now() + 10_000; !mediaOrder(server.log).includes(sha('rp')) && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 5))
      await new Promise((r) => setTimeout(r, 150))
      const originalStarted = server.log.some((l) => /^(head-media|create) /.test(l) && l.includes(sha('ro')))
      expect(originalStarted, urgent ? 'urgent' : 'not urgent').toBe(!urgent)
      release()
      const result = await done
      expect(result.items.every((i) => i.outcome === 'acknowledged')).toBe(true)
    }
  })

  it('spends at most the byte budget, always sends reports, and defers the rest', async () => {
    const clock = virtualClock()
    const server = new ScriptedServer(clock)
    const items = [...report('a', 2), ...report('b', 1)]
    const result = await session(tmpDir(), server, clock, items, { budget: 300_000 })
    const outcome = (id: string) => result.items.find((i) => i.item.id === id)!.outcome
    expect(result.bytesSent).toBeLessThanOrEqual(300_000)
    expect(outcome('observation:a')).toBe('acknowledged')
    expect(outcome(`media:${sha('at')}`)).toBe('acknowledged')
    expect(outcome(`media:${sha('bt')}`)).toBe('acknowledged')
    expect(outcome(`media:${sha('ap')}`)).toBe('acknowledged')
    expect(outcome(`media:${sha('bp')}`)).toBe('deferred')
    expect(outcome(`media:${sha('ao')}`)).toBe('deferred')
  })

  it('holds originals back with --originals later unless the link is cheap or the budget covers them', async () => {
    const clock = virtualClock()
    const server = new ScriptedServer(clock)
    const dir = tmpDir()
    const later = await session(dir, server, clock, report('a', 1), { originals: 'later' })
    expect(later.items.filter((i) => i.outcome === 'deferred').map((i) => [i.item.id, i.reason])).toEqual([[`media:${sha('ao')}`, 'originals later']])
    const cheap = await session(dir, server, clock, report('a', 1), { originals: 'later', cheapLink: true })
    expect(cheap.items.every((i) => i.outcome === 'acknowledged')).toBe(true)
    // The second session sent only the original: nothing acknowledged is sent again.
    expect(cheap.bytesSent).toBe(5_000_000)
  })

  it('rides out a 70 s blackout with capped, jittered back-off', async () => {
    const clock = virtualClock()
    const server = new ScriptedServer(clock)
    server.downUntil = clock.now() + 70_000
    const result = await session(tmpDir(), server, clock, report('a', 1), { backoff: { base: 500, cap: 30_000 } })
    expect(result.items.every((i) => i.outcome === 'acknowledged')).toBe(true)
    expect(clock.slept.length).toBeGreaterThan(3)
    // Doubling per failure in a row: about ten tries cover 70 s (at 375 ms each, it took 190).
    expect(server.log.length).toBeLessThan(40)
    expect(Math.max(...clock.slept)).toBeLessThanOrEqual(30_000)
    const delays = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 20].map((a) => backoffDelay(a, prng(1), { base: 500, cap: 30_000 }))
    for (const [i, d] of delays.entries()) {
      const ceiling = Math.min(30_000, 500 * 2 ** ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 20][i]! - 1))
      expect(d).toBeGreaterThanOrEqual(ceiling / 2)
      expect(d).toBeLessThanOrEqual(ceiling)
    }
  })

  it('gives an item up for the session after retryFor without progress, and tries it again next run', async () => {
    const clock = virtualClock()
    const server = new ScriptedServer(clock)
    server.downUntil = clock.now() + 3_600_000
    const dir = tmpDir()
    const first = await session(dir, server, clock, report('a', 1), { retryFor: 120_000 })
    expect(first.items.find((i) => i.item.id === 'observation:a')!.outcome).toBe('failed')
    expect(first.items.find((i) => i.item.id === 'observation:a')!.reason).toMatch(/ECONNRESET/)
    server.downUntil = 0
    const second = await session(dir, server, clock, report('a', 1))
    expect(second.items.every((i) => i.outcome === 'acknowledged')).toBe(true)
  })

  it('resumes a cut upload from the server offset, re-sending nothing that arrived', async () => {
    const clock = virtualClock()
    const server = new ScriptedServer(clock)
    server.cutAt = 1_000_000
    const items = report('a', 1)
    const result = await session(tmpDir(), server, clock, items)
    expect(result.items.every((i) => i.outcome === 'acknowledged')).toBe(true)
    expect(server.log.filter((l) => l.startsWith('patch'))).toEqual([expect.stringMatching(/@0$/), expect.stringMatching(/@1000000$/)])
    expect(result.bytesResent).toBe(0)
    expect(server.bytesReceived).toBe(15_000 + 200_000 + 5_000_000)
  })

  it('after a kill, continues the upload it had begun (address from the journal) and never re-sends what was acknowledged', async () => {
    const clock = virtualClock()
    const server = new ScriptedServer(clock)
    const dir = tmpDir()
    server.cutAt = 2_000_000
    const controller = new AbortController()
    const store = await openFileOutboxStore(join(dir, 'outbox.jsonl'))
    // The process "dies" the moment the cut happens: the journal is all the next run has.
    await runOutbox(
      {
        store,
        transport: server,
        clock,
        random: prng(1),
        onEvent: (e) => {
          if (e.type === 'state' && e.record.state.state === 'failed') controller.abort()
        },
      },
      report('a', 1),
      { maxInFlight: 1 },
      controller.signal,
    )
    await store.close()
    // A kill mid-write leaves a torn line; it is skipped.
    appendFileSync(join(dir, 'outbox.jsonl'), '{"id":"media:torn","r":{"sta')
    const before = server.log.length
    const result = await session(dir, server, clock, report('a', 1))
    expect(result.items.every((i) => i.outcome === 'acknowledged')).toBe(true)
    const after = server.log.slice(before)
    expect(after.filter((l) => l.startsWith('batch') || l.startsWith('create'))).toEqual([])
    expect(after).toEqual([expect.stringMatching(/^head-upload /), expect.stringMatching(/@2000000$/)])
    expect(server.bytesReceived).toBe(15_000 + 200_000 + 5_000_000)
    const journal = await readJournal(join(dir, 'outbox.jsonl'))
    expect(journal.get(`media:${sha('ao')}`)!.state).toMatchObject({ state: 'acknowledged', serverId: sha('ao') })
    expect(journal.has('media:torn')).toBe(false)
    // Loading compacts the journal: one line per item.
    expect(readFileSync(join(dir, 'outbox.jsonl'), 'utf8').trim().split('\n').length).toBeLessThanOrEqual(items(report('a', 1)) + 20)
  })

  it('finds an upload it lost the address of through HEAD /media, and acknowledges media the server already holds', async () => {
    const clock = virtualClock()
    const server = new ScriptedServer(clock)
    const items = [...report('a', 1), ...report('b', 2)]
    // Another device sent b's original; this one began a's but died before the creation answer.
    server.held.add(sha('bo'))
    server.uploads.set('https://server/api/v1/uploads/lost', { sha256: sha('ao'), length: 5_000_000, offset: 3_000_000 })
    const result = await session(tmpDir(), server, clock, items)
    expect(result.items.every((i) => i.outcome === 'acknowledged')).toBe(true)
    expect(server.log).toContain('patch https://server/api/v1/uploads/lost @3000000')
    expect(mediaOrder(server.log).sort()).toEqual([sha('bt'), sha('at'), sha('bp'), sha('ap')].sort())
    expect(result.bytesSent).toBe(2 * 2_000 + 6 * 900 + 2 * 15_000 + 2 * 200_000 + 2_000_000)
  })

  it('does not take a completion that names other bytes, or a batch answer of the wrong length, as acknowledged', async () => {
    const clock = virtualClock()
    const server = new ScriptedServer(clock)
    const patch = server.patchUpload.bind(server)
    server.patchUpload = async (req) => ({ ...(await patch(req)), sha256: sha('something else') })
    const sendBatch = server.sendBatch.bind(server)
    let short = 2
    server.sendBatch = async (items) => (short-- > 0 ? (await sendBatch(items)).slice(1) : sendBatch(items))
    const result = await session(tmpDir(), server, clock, report('a', 1))
    const original = result.items.find((i) => i.item.id === `media:${sha('ao')}`)!
    expect(original).toMatchObject({ outcome: 'failed', reason: expect.stringMatching(/sealed .* not/) })
    expect(result.items.filter((i) => i.outcome === 'acknowledged')).toHaveLength(6)
  })

  it('counts bytes sent again after an upload was lost as re-sent', async () => {
    const clock = virtualClock()
    const server = new ScriptedServer(clock)
    server.cutAt = 1_000_000
    const dir = tmpDir()
    const controller = new AbortController()
    const store = await openFileOutboxStore(join(dir, 'outbox.jsonl'))
    await runOutbox({ store, transport: server, clock, random: prng(1), onEvent: (e) => e.type === 'state' && e.record.state.state === 'failed' && controller.abort() }, report('a', 1), { maxInFlight: 1 }, controller.signal)
    await store.close()
    // The server expired the upload meanwhile: the next run starts over and counts the first megabyte as re-sent.
    server.uploads.clear()
    const result = await session(dir, server, clock, report('a', 1))
    expect(result.items.every((i) => i.outcome === 'acknowledged')).toBe(true)
    expect(result.bytesResent).toBe(1_000_000)
  })
})

function items(list: OutboxItem[]): number {
  return list.length
}
