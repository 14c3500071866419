/**
 * Durability of acknowledged writes: a test `kill -9`s the server while concurrent clients write with
 * idempotency keys and retries; after restart every acknowledged write is there exactly once.
 *
 * The server is the real `louder serve` process. Clients behave as the field app must: each write has its own
 * Idempotency-Key, and a write that got no answer (connection refused or reset, timeout, 5xx, 409) is sent
 * again with the same key and the same body until it gets a 201, from whichever server is up now. Some
 * clients also resend writes that did get a 201, as a client does when the answer is lost on the way back.
 */
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { createTestDatabase } from '../support/postgres.ts'
import { adminToken, killAllServers, type ServerProcess, startServer, type Where } from './server-process.ts'

const CLIENTS = 8
const WRITES_PER_CLIENT = 30
const KILL_AFTER_ACKS = 70
const CLIENT_DEADLINE_MS = 45_000

interface Write {
  key: string
  body: { narrative: string; occurredAt: string; location: { lat: number; lon: number } }
}
interface Ack {
  write: Write
  id: string
  /** Attempts it took, and whether the 201 that finally came was a replay of an earlier, unseen one. */
  attempts: number
  replayed: boolean
  /** Acknowledged by the server that was later killed. */
  beforeKill: boolean
}

const dirs: string[] = []
afterEach(async () => {
  await killAllServers()
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

describe.each(['sqlite', 'postgres'] as const)('kill -9 during concurrent writes [%s]', (dialect) => {
  it('keeps every acknowledged write exactly once, and every write is acknowledged after restart', { timeout: 90_000 }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'louder-kill9-'))
    dirs.push(dataDir)
    const where: Where = { dataDir, databaseUrl: dialect === 'postgres' ? await createTestDatabase() : null }

    let server: ServerProcess = await startServer(where)
    const first = server
    const token = await adminToken(where)
    const acks: Ack[] = []
    const failures: string[] = []
    let sentAfterAck = 0

    const writesOf = (client: number): Write[] =>
      Array.from({ length: WRITES_PER_CLIENT }, (_, i) => ({
        key: randomUUID(),
        body: { narrative: `client ${client} write ${i} ${randomUUID()}`, occurredAt: new Date(Date.UTC(2024, 4, 1, 12, client, i)).toISOString(), location: { lat: client, lon: i } },
      }))

    /** Sends one write until some server answers 201; never gives up before the deadline, never changes key or body. */
    async function deliver(write: Write, deadline: number): Promise<{ id: string; attempts: number; replayed: boolean; by: ServerProcess; status: number; body: unknown }> {
      for (let attempts = 1; ; attempts++) {
        if (Date.now() > deadline) throw new Error(`write ${write.key} not acknowledged after ${attempts - 1} attempts`)
        const target = server
        try {
          const res = await fetch(`${target.url}/api/v1/observations`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'idempotency-key': write.key },
            body: JSON.stringify(write.body),
            signal: AbortSignal.timeout(5_000),
          })
          const text = await res.text()
          if (res.status === 201) {
            const body = JSON.parse(text) as { id: string }
            return { id: body.id, attempts, replayed: res.headers.get('idempotent-replayed') === 'true', by: target, status: res.status, body }
          }
          // 409: the same key is still being processed (by us, on a connection that died); 5xx: try again.
          if (res.status !== 409 && res.status < 500) throw new Error(`write ${write.key} refused: ${res.status} ${text}`)
        } catch (err) {
          if (err instanceof Error && err.message.startsWith(`write ${write.key} refused`)) throw err
          // Connection refused or reset, timeout: the server is gone or going. Retry, same key, same body.
        }
        await sleep(20 + Math.random() * 40)
      }
    }

    async function client(n: number): Promise<void> {
      const deadline = Date.now() + CLIENT_DEADLINE_MS
      for (const [i, write] of writesOf(n).entries()) {
        const got = await deliver(write, deadline)
        acks.push({ write, id: got.id, attempts: got.attempts, replayed: got.replayed, beforeKill: got.by === first })
        // Odd clients resend every third acknowledged write, as if the 201 had been lost: it must replay, not write.
        if (n % 2 === 1 && i % 3 === 0) {
          const again = await deliver(write, deadline)
          sentAfterAck++
          if (!again.replayed || JSON.stringify(again.body) !== JSON.stringify(got.body))
            failures.push(`resent write ${write.key} was not replayed: replayed=${again.replayed} ${JSON.stringify(again.body)} ≠ ${JSON.stringify(got.body)}`)
        }
      }
    }

    async function killAndRestart(): Promise<void> {
      while (acks.length < KILL_AFTER_ACKS) await sleep(2)
      const victim = server
      expect(await victim.kill('SIGKILL')).toBe('SIGKILL')
      // Clients keep hammering the dead address meanwhile, and must not lose their writes.
      server = await startServer(where)
    }

    await Promise.all([...Array.from({ length: CLIENTS }, (_, n) => client(n)), killAndRestart()])

    expect(failures).toEqual([])
    const total = CLIENTS * WRITES_PER_CLIENT
    expect(acks).toHaveLength(total)
    const ackedBeforeKill = acks.filter((a) => a.beforeKill)
    expect(ackedBeforeKill.length).toBeGreaterThanOrEqual(KILL_AFTER_ACKS)
    expect(ackedBeforeKill.length, 'some writes must have been in flight or waiting when the server died').toBeLessThan(total)
    expect(acks.some((a) => a.attempts > 1), 'some writes must have needed a retry').toBe(true)
    expect(sentAfterAck).toBeGreaterThan(0)

    // Read everything back through the API of the restarted server, page by page.
    const seen: { id: string; narrative: string }[] = []
    for (let cursor: string | null = null, pages = 0; pages === 0 || cursor !== null; pages++) {
      const url = `${server.url}/api/v1/observations?limit=97${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`
      const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } })
      expect(res.status).toBe(200)
      const page = (await res.json()) as { items: { id: string; narrative: string }[]; next: string | null }
      seen.push(...page.items)
      cursor = page.next
      expect(pages).toBeLessThan(100)
    }

    const byNarrative = new Map<string, string[]>()
    for (const row of seen) byNarrative.set(row.narrative, [...(byNarrative.get(row.narrative) ?? []), row.id])
    const duplicated = [...byNarrative].filter(([, ids]) => ids.length > 1)
    expect(duplicated, 'no narrative may be stored twice').toEqual([])
    expect(new Set(seen.map((r) => r.id)).size).toBe(seen.length)
    // Exactly the writes the clients made, each under the id its acknowledgement gave.
    expect(seen).toHaveLength(total)
    for (const ack of acks) expect(byNarrative.get(ack.write.body.narrative), ack.write.body.narrative).toEqual([ack.id])
    // And a write acknowledged before the kill is still answered by replay from the new server.
    const early = ackedBeforeKill[0]!
    const replay = await fetch(`${server.url}/api/v1/observations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'idempotency-key': early.write.key },
      body: JSON.stringify(early.write.body),
    })
    expect(replay.status).toBe(201)
    expect(replay.headers.get('idempotent-replayed')).toBe('true')
    expect(((await replay.json()) as { id: string }).id).toBe(early.id)

    await server.kill('SIGTERM')
  })
})
