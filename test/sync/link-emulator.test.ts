/**
 * The link emulator (test/support/link-emulator.ts) does what the sync tests and benches rely on: bytes
 * arrive intact and in order, the rate limit and the delay hold, a cut is a reset at both ends, a blackout
 * stalls and then resumes with nothing lost, and a fast sender is held back instead of filling a queue.
 * Time is asserted only as lower bounds the emulator guarantees, and generous upper bounds.
 */
import { randomBytes } from 'node:crypto'
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { LINK_READ_CHUNK, type LinkEmulator, type LinkOptions, startLinkEmulator } from '../support/link-emulator.ts'

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

/** A target server; `onSocket` sees each accepted socket. */
async function target(onSocket: (s: Socket) => void): Promise<number> {
  const server: Server = createServer({ allowHalfOpen: true }, onSocket)
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok))
  const sockets = new Set<Socket>()
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
    s.on('error', () => {})
  })
  cleanups.push(
    () =>
      new Promise<void>((ok) => {
        for (const s of sockets) s.destroy()
        server.close(() => ok())
      }),
  )
  return (server.address() as AddressInfo).port
}

/** Echoes every byte back, then closes when the client does. */
const echo = () => target((s) => s.pipe(s))

/** Collects what arrives until the client ends, then answers with a one-line count. */
function sink(received: Buffer[]): Promise<number> {
  return target((s) => {
    s.on('data', (b: Buffer) => received.push(b))
    s.on('end', () => s.end(`${Buffer.concat(received).length}\n`))
  })
}

async function link(options: LinkOptions): Promise<LinkEmulator> {
  const l = await startLinkEmulator(options)
  cleanups.push(() => l.close())
  return l
}

function dial(l: LinkEmulator): Promise<Socket> {
  return new Promise((ok, fail) => {
    const s = connect({ host: l.host, port: l.port, allowHalfOpen: true }, () => ok(s))
    s.once('error', fail)
    cleanups.push(() => void s.destroy())
  })
}

/** Writes `payload`, ends, and resolves with everything the other side sent back until it closed. */
function exchange(s: Socket, payload: Buffer): Promise<Buffer> {
  return new Promise((ok, fail) => {
    const back: Buffer[] = []
    s.on('data', (b: Buffer) => back.push(b))
    s.on('end', () => ok(Buffer.concat(back)))
    s.on('error', fail)
    s.end(payload)
  })
}

const errorOf = (s: Socket) => new Promise<NodeJS.ErrnoException>((ok) => s.once('error', ok))

describe('link emulator', () => {
  it('delivers every byte intact and in order, both ways, and counts them', async () => {
    const l = await link({ targetPort: await echo(), rate: 20_000_000, delay: 5 })
    const payload = randomBytes(1_000_000)
    const back = await exchange(await dial(l), payload)
    expect(back.equals(payload)).toBe(true)
    expect(l.stats.up).toMatchObject({ received: payload.length, passed: payload.length, delivered: payload.length })
    expect(l.stats.down).toMatchObject({ received: payload.length, passed: payload.length, delivered: payload.length })
    expect(l.stats.connections).toBe(1)
  })

  it('holds the rate: a few hundred KB take at least (bytes − burst) / rate', async () => {
    const received: Buffer[] = []
    const rate = 1_000_000
    const burst = 16 * 1024
    const l = await link({ targetPort: await sink(received), up: { rate, burst } })
    const payload = randomBytes(400_000)
    const started = performance.now()
    const answer = await exchange(await dial(l), payload)
    const seconds = (performance.now() - started) / 1000
    expect(answer.toString()).toBe(`${payload.length}\n`)
    expect(Buffer.concat(received).equals(payload)).toBe(true)
    // A token bucket never lets more than burst + rate × t through: this bound cannot flake.
    expect(seconds).toBeGreaterThanOrEqual((payload.length - burst) / rate - 0.01)
    // Generous: a loaded 2-core machine may be slow, but not 10× slow.
    expect(seconds).toBeLessThan(10)
  })

  it('has one rate per direction, shared by connections sending at once', async () => {
    const rate = 1_000_000
    const burst = 16 * 1024
    // A sink per connection: each answers with the count of its own bytes.
    const counting = await target((s) => {
      let n = 0
      s.on('data', (b: Buffer) => (n += b.length))
      s.on('end', () => s.end(`${n}\n`))
    })
    const l = await link({ targetPort: counting, up: { rate, burst } })
    const payloads = [randomBytes(200_000), randomBytes(200_000), randomBytes(200_000)]
    const sockets = await Promise.all(payloads.map(() => dial(l)))
    const started = performance.now()
    const answers = await Promise.all(sockets.map((s, i) => exchange(s, payloads[i]!)))
    const seconds = (performance.now() - started) / 1000
    expect(answers.map((a) => a.toString())).toEqual(payloads.map((p) => `${p.length}\n`))
    expect(l.stats.up.passed).toBe(600_000)
    // Three connections through one bucket: all their bytes less one burst at the link's rate, not three times it.
    expect(seconds).toBeGreaterThanOrEqual((600_000 - burst) / rate - 0.01)
    expect(seconds).toBeLessThan(15)
  })

  it('applies the one-way delay each way', async () => {
    const l = await link({ targetPort: await echo(), delay: 150 })
    const s = await dial(l)
    const started = performance.now()
    const back = await exchange(s, Buffer.from('ping'))
    const ms = performance.now() - started
    expect(back.toString()).toBe('ping')
    expect(ms).toBeGreaterThanOrEqual(299)
    expect(ms).toBeLessThan(5_000)
  })

  it('cuts with a reset that both ends see, and takes the next connection', async () => {
    const accepted: Socket[] = []
    const l = await link({ targetPort: await target((s) => accepted.push(s)) })
    const client = await dial(l)
    client.write('hello')
    while (accepted.length === 0) await new Promise((r) => setTimeout(r, 5))
    const server = accepted[0]!
    await new Promise<void>((ok) => server.once('data', () => ok()))
    const clientError = errorOf(client)
    const serverError = errorOf(server)
    l.cut()
    expect((await clientError).code).toBe('ECONNRESET')
    expect((await serverError).code).toBe('ECONNRESET')
    expect(l.stats.cuts).toBe(1)
    expect(l.open).toBe(0)

    const again = await dial(l)
    again.write('x')
    while (accepted.length === 1) await new Promise((r) => setTimeout(r, 5))
    const answered = new Promise<Buffer>((ok) => again.once('data', ok))
    accepted[1]!.write('y')
    expect((await answered).toString()).toBe('y')
  })

  it('stalls everything in a blackout, then resumes with nothing lost', async () => {
    const received: Buffer[] = []
    const l = await link({ targetPort: await sink(received), rate: 1_000_000, delay: 10 })
    const payload = randomBytes(300_000)
    const s = await dial(l)
    const done = exchange(s, payload)
    await new Promise<void>((ok) => {
      const check = () => (l.stats.up.delivered > 50_000 ? ok() : setTimeout(check, 2))
      check()
    })
    const blackout = l.blackout(400)
    // Timers fire in order of expiry: both samples are taken before the blackout's own timer ends it.
    const at = async (ms: number) => {
      await new Promise((r) => setTimeout(r, ms))
      return l.stats.up.delivered
    }
    const first = await at(50)
    const second = await at(250)
    expect(second).toBe(first)
    expect(first).toBeLessThan(payload.length)
    await blackout
    expect((await done).toString()).toBe(`${payload.length}\n`)
    expect(Buffer.concat(received).equals(payload)).toBe(true)
    expect(l.stats.up.passed).toBe(payload.length)
  })

  it('a blackout that drops ends in a reset at both ends', async () => {
    const accepted: Socket[] = []
    const l = await link({ targetPort: await target((s) => accepted.push(s)) })
    const client = await dial(l)
    client.write('hi')
    while (accepted.length === 0) await new Promise((r) => setTimeout(r, 5))
    const clientError = errorOf(client)
    const serverError = errorOf(accepted[0]!)
    await l.blackout(50, { then: 'drop' })
    expect((await clientError).code).toBe('ECONNRESET')
    expect((await serverError).code).toBe('ECONNRESET')
  })

  it('cuts on a schedule', async () => {
    const l = await link({ targetPort: await echo(), cutEvery: 50 })
    const client = await dial(l)
    expect((await errorOf(client)).code).toBe('ECONNRESET')
    expect(l.stats.cuts).toBeGreaterThanOrEqual(1)
  })

  it('keeps its queue within about one bandwidth-delay product under a fast sender', async () => {
    const received: Buffer[] = []
    const rate = 4_000_000
    const l = await link({ targetPort: await sink(received), rate, delay: 20 })
    // rate × delay = 80 KB, plus the burst (80 KB at 20 ms): the bound the emulator advertises.
    expect(l.queueLimit.up).toBe(Math.round(rate * 0.02) + Math.round(rate / 50))
    const payload = randomBytes(2_000_000)
    const s = await dial(l)
    const done = exchange(s, payload)
    // The sender wrote everything at once; the emulator's hold on it stays bounded, TCP holds the rest.
    expect((await done).toString()).toBe(`${payload.length}\n`)
    expect(Buffer.concat(received).equals(payload)).toBe(true)
    expect(l.stats.up.pauses).toBeGreaterThan(0)
    expect(l.stats.up.peakHeld).toBeLessThanOrEqual(l.queueLimit.up + LINK_READ_CHUNK)
  })

  it('stalls at random, reproducibly, without losing bytes', async () => {
    const l = await link({ targetPort: await echo(), rate: 5_000_000, stalls: { every: 30, duration: 20, seed: 7 } })
    const payload = randomBytes(300_000)
    const back = await exchange(await dial(l), payload)
    expect(back.equals(payload)).toBe(true)
    expect(l.stats.stalls).toBeGreaterThan(0)
  })
})
