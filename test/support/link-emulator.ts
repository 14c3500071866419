/**
 * A user-space TCP proxy that behaves like a poor satellite link, for the field-sync tests and benches
 * (issue 7). This kernel has `tc tbf` but no netem, so delay, cuts and blackouts live here.
 *
 * Each direction of each connection runs: source socket → queue → token bucket (rate, burst) → delay line
 * (`delay` ms after a byte passed the limiter) → destination socket. The token bucket is the link's, one per
 * direction shared by every connection, as a satellite modem has one rate: three requests at once share it. What a direction holds (queue plus
 * delay line) is bounded to about one bandwidth-delay product: past it the source socket is paused, so a fast
 * sender is held back by TCP's own flow control instead of filling our memory, and a cut loses at most what a
 * real link would have in flight. Bytes are counted as they arrive, as they pass the limiter and as they are
 * delivered, per direction over the whole link: a bench measures bytes re-sent after cuts as `passed` beyond
 * the payload.
 *
 * `up` is client → target, `down` target → client.
 */
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import { prng } from '../../bench/api-dataset.ts'

export interface DirectionOptions {
  /** Bytes per second; Infinity (the default) for no limit. */
  rate?: number
  /** Token-bucket depth in bytes: how much may pass at once after a quiet spell. Default 20 ms at `rate`, at least 4 KiB. */
  burst?: number
  /** One-way delay in ms, applied after the rate limiter (propagation). Default 0. */
  delay?: number
  /**
   * The most bytes one direction of a connection holds (queue plus delay line) before it pauses its source.
   * Default: one bandwidth-delay product plus the burst, at least 64 KiB (1 MiB without a rate limit).
   */
  queueLimit?: number
}

export interface LinkOptions extends DirectionOptions {
  /** The port (on `targetHost`, default 127.0.0.1) behind the link. */
  targetPort: number
  targetHost?: string
  /** Overrides for client → target. */
  up?: DirectionOptions
  /** Overrides for target → client. */
  down?: DirectionOptions
  /** Cut every connection (RST both ways) every this many ms. */
  cutEvery?: number
  /** Random stalls: on average one every `every` ms (exponential gaps), each lasting `duration` ms. Seeded, so reproducible. */
  stalls?: { every: number; duration: number; seed?: number }
}

export interface DirectionCounters {
  /** Bytes read from the sending side. */
  received: number
  /** Bytes that went through the rate limiter (a byte sent twice, after a cut, counts twice). */
  passed: number
  /** Bytes written to the receiving side. */
  delivered: number
  /** The most bytes one connection's direction held at once (queue plus delay line). */
  peakHeld: number
  /** How often the sending side was paused because the direction held its bound (back-pressure at work). */
  pauses: number
}

export interface LinkStats {
  up: DirectionCounters
  down: DirectionCounters
  /** Connections accepted so far. */
  connections: number
  /** Cuts made so far (by `cut()`, a scheduled cut or a blackout that drops). */
  cuts: number
  /** Stalls begun so far (blackouts and random stalls). */
  stalls: number
}

export interface LinkEmulator {
  readonly host: '127.0.0.1'
  readonly port: number
  /** The bound each direction holds at most, plus one socket read (a read is at most 64 KiB). */
  readonly queueLimit: { up: number; down: number }
  readonly stats: LinkStats
  /** Connections open now. */
  readonly open: number
  /** Destroys both sides of every open connection with a TCP RST, as a lost satellite does. */
  cut(): void
  /** Stalls all traffic for `ms`, then resumes with nothing lost, or cuts every connection. */
  blackout(ms: number, options?: { then?: 'resume' | 'drop' }): Promise<void>
  close(): Promise<void>
}

const SLICE = 16 * 1024
const READ_CHUNK = 64 * 1024

interface Resolved {
  rate: number
  burst: number
  delay: number
  queueLimit: number
}

function resolve(base: DirectionOptions, over: DirectionOptions | undefined): Resolved {
  const o = { ...base, ...over }
  const rate = o.rate ?? Infinity
  const delay = o.delay ?? 0
  if (!(rate > 0)) throw new Error(`link emulator: rate must be positive, got ${rate}`)
  if (!(delay >= 0)) throw new Error(`link emulator: delay must be ≥ 0, got ${delay}`)
  const burst = o.burst ?? (Number.isFinite(rate) ? Math.max(4096, Math.round(rate / 50)) : Infinity)
  const bdp = Number.isFinite(rate) ? Math.round((rate * delay) / 1000) : Infinity
  const queueLimit = o.queueLimit ?? (Number.isFinite(bdp) ? Math.max(64 * 1024, bdp + (Number.isFinite(burst) ? burst : 0)) : 1024 * 1024)
  return { rate, burst, delay, queueLimit }
}

/** One direction's rate limiter, shared by all of its connections. */
interface Bucket {
  tokens: number
  refilledAt: number
}

/** One direction of one connection. */
class Pipe {
  private readonly queue: Buffer[] = []
  private queued = 0
  private readonly line: { chunk: Buffer; at: number }[] = []
  private lineBytes = 0
  private readonly bucket: Bucket
  private timer: NodeJS.Timeout | null = null
  private timerAt = Infinity
  private waitingDrain = false
  private sourceEnded = false
  private finished = false
  private paused = false
  closed = false
  private readonly opts: Resolved
  private readonly counters: DirectionCounters
  private readonly src: Socket
  private readonly dst: Socket
  private readonly stalled: () => boolean

  constructor(opts: Resolved, counters: DirectionCounters, bucket: Bucket, src: Socket, dst: Socket, stalled: () => boolean) {
    this.opts = opts
    this.counters = counters
    this.bucket = bucket
    this.src = src
    this.dst = dst
    this.stalled = stalled
    src.on('data', (chunk: Buffer) => this.onData(chunk))
    src.on('end', () => {
      this.sourceEnded = true
      this.pump()
    })
  }

  private get held(): number {
    return this.queued + this.lineBytes
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return
    this.counters.received += chunk.length
    this.queue.push(chunk)
    this.queued += chunk.length
    if (this.held > this.counters.peakHeld) this.counters.peakHeld = this.held
    if (this.held >= this.opts.queueLimit && !this.paused) {
      this.paused = true
      this.counters.pauses++
      this.src.pause()
    }
    this.pump()
  }

  stop(): void {
    this.closed = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
  }

  private write(chunk: Buffer): void {
    this.counters.delivered += chunk.length
    if (!this.dst.write(chunk)) {
      this.waitingDrain = true
      this.dst.once('drain', () => {
        this.waitingDrain = false
        this.pump()
      })
    }
  }

  private wakeAt(at: number, now: number): void {
    if (at === Infinity || (this.timer && this.timerAt <= at)) return
    if (this.timer) clearTimeout(this.timer)
    this.timerAt = at
    this.timer = setTimeout(
      () => {
        this.timer = null
        this.timerAt = Infinity
        this.pump()
      },
      Math.max(1, Math.ceil(at - now)),
    )
  }

  pump(): void {
    if (this.closed || this.stalled() || this.dst.destroyed) return
    const now = performance.now()
    const { rate, burst, delay } = this.opts

    // Propagation: release what has been on the wire long enough, in order.
    while (this.line.length > 0 && this.line[0]!.at <= now && !this.waitingDrain) {
      const { chunk } = this.line.shift()!
      this.lineBytes -= chunk.length
      this.write(chunk)
    }

    // The rate limiter: the direction's token bucket, sliced so one big read does not pass at once and
    // connections sending together take turns.
    const bucket = this.bucket
    if (Number.isFinite(rate)) {
      bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.refilledAt) * rate) / 1000)
    }
    bucket.refilledAt = now
    let nextAt = this.line.length > 0 ? this.line[0]!.at : Infinity
    while (this.queue.length > 0 && !this.waitingDrain) {
      const head = this.queue[0]!
      const want = Math.min(head.length, SLICE, burst)
      if (bucket.tokens < want) {
        nextAt = Math.min(nextAt, now + ((want - bucket.tokens) * 1000) / rate)
        break
      }
      const slice = want === head.length ? head : head.subarray(0, want)
      if (want === head.length) this.queue.shift()
      else this.queue[0] = head.subarray(want)
      this.queued -= want
      if (Number.isFinite(rate)) bucket.tokens -= want
      this.counters.passed += want
      if (delay > 0) {
        this.line.push({ chunk: slice, at: now + delay })
        this.lineBytes += want
        nextAt = Math.min(nextAt, this.line[0]!.at)
      } else this.write(slice)
    }
    if (this.paused && this.held < this.opts.queueLimit) {
      this.paused = false
      this.src.resume()
    }
    if (this.sourceEnded && this.held === 0 && !this.finished && !this.waitingDrain) {
      this.finished = true
      this.dst.end()
      return
    }
    this.wakeAt(nextAt, now)
  }
}

interface Connection {
  client: Socket
  target: Socket
  pipes: Pipe[]
}

/** Starts a link emulator on 127.0.0.1 (a free port) in front of `targetPort`. */
export async function startLinkEmulator(options: LinkOptions): Promise<LinkEmulator> {
  const upOpts = resolve(options, options.up)
  const downOpts = resolve(options, options.down)
  const stats: LinkStats = {
    up: { received: 0, passed: 0, delivered: 0, peakHeld: 0, pauses: 0 },
    down: { received: 0, passed: 0, delivered: 0, peakHeld: 0, pauses: 0 },
    connections: 0,
    cuts: 0,
    stalls: 0,
  }
  const buckets = { up: { tokens: upOpts.burst, refilledAt: performance.now() }, down: { tokens: downOpts.burst, refilledAt: performance.now() } }
  const connections = new Set<Connection>()
  let stallDepth = 0
  const stalled = () => stallDepth > 0
  const timers = new Set<NodeJS.Timeout>()
  let closing = false

  const later = (ms: number, fn: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t)
      fn()
    }, ms)
    timers.add(t)
  }

  const server: Server = createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
    if (closing) return client.destroy()
    stats.connections++
    const target = connect({ host: options.targetHost ?? '127.0.0.1', port: options.targetPort, allowHalfOpen: true, noDelay: true })
    const conn: Connection = { client, target, pipes: [] }
    conn.pipes.push(new Pipe(upOpts, stats.up, buckets.up, client, target, stalled), new Pipe(downOpts, stats.down, buckets.down, target, client, stalled))
    connections.add(conn)
    const finish = () => {
      if (!connections.delete(conn)) return
      for (const p of conn.pipes) p.stop()
    }
    // A reset (or a refused connection) on one side is passed on as a reset; an orderly close travels as the
    // FIN the pipe sends once it has delivered what it held, so a close never loses bytes still in the line.
    const onError = (other: Socket) => () => {
      finish()
      if (!other.destroyed) other.resetAndDestroy()
    }
    client.on('error', onError(target))
    target.on('error', onError(client))
    client.on('close', () => {
      if (target.destroyed) finish()
    })
    target.on('close', () => {
      if (client.destroyed) finish()
    })
  })
  server.on('error', () => {})
  await new Promise<void>((ok, fail) => {
    server.once('error', fail)
    server.listen(0, '127.0.0.1', () => {
      server.off('error', fail)
      ok()
    })
  })
  const port = (server.address() as AddressInfo).port

  const cut = () => {
    stats.cuts++
    for (const conn of [...connections]) {
      connections.delete(conn)
      for (const p of conn.pipes) p.stop()
      // Both ends must see a reset, not an orderly close: that is what a lost link looks like to TCP's peers.
      if (!conn.client.destroyed) conn.client.resetAndDestroy()
      if (!conn.target.destroyed) conn.target.resetAndDestroy()
    }
  }
  const resumeAll = () => {
    for (const conn of connections) for (const p of conn.pipes) p.pump()
  }
  const stall = (ms: number, then: 'resume' | 'drop') =>
    new Promise<void>((done) => {
      stallDepth++
      stats.stalls++
      later(ms, () => {
        stallDepth--
        if (then === 'drop') cut()
        if (!stalled()) resumeAll()
        done()
      })
    })

  if (options.cutEvery !== undefined) {
    const interval = setInterval(cut, options.cutEvery)
    timers.add(interval)
  }
  if (options.stalls) {
    const { every, duration } = options.stalls
    // Seeded: the same seed gives the same stalls, so a failing run can be replayed.
    const random = prng(options.stalls.seed ?? 1)
    const next = () =>
      later(-Math.log(1 - random()) * every, () => {
        void stall(duration, 'resume')
        next()
      })
    next()
  }

  return {
    host: '127.0.0.1',
    port,
    queueLimit: { up: upOpts.queueLimit, down: downOpts.queueLimit },
    stats,
    get open() {
      return connections.size
    },
    cut,
    blackout: (ms, opts = {}) => stall(ms, opts.then ?? 'resume'),
    async close() {
      closing = true
      for (const t of timers) clearTimeout(t)
      timers.clear()
      for (const conn of [...connections]) {
        connections.delete(conn)
        for (const p of conn.pipes) p.stop()
        conn.client.destroy()
        conn.target.destroy()
      }
      await new Promise<void>((ok) => server.close(() => ok()))
    },
  }
}

export { READ_CHUNK as LINK_READ_CHUNK }
