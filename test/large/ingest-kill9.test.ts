/**
 * The locker under a crash: `kill -9` of the real server during 500 concurrent ingests over HTTP. After a
 * restart every acknowledged item is in the locker and its `media.received` event is in the custody log
 * exactly once (clients resend unacknowledged uploads, as the field app does), every original reads back
 * byte for byte, and a checkpoint signed after the restart is consistent with the last one published before
 * the crash.
 */
import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { parseCheckpointBody } from '../../src/core/custody/checkpoint.ts'
import { verifyConsistency } from '../../src/core/custody/verify.ts'
import { openDatabase } from '../../src/db/database.ts'
import { createTestDatabase } from '../support/postgres.ts'
import { adminToken, killAllServers, type ServerProcess, startServer, type Where } from './server-process.ts'

const ITEMS = 500
const KILL_AFTER_ACKS = 120
const DEADLINE_MS = 150_000

const dirs: string[] = []
afterEach(async () => {
  await killAllServers()
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

describe.each(['sqlite', 'postgres'] as const)('kill -9 during 500 concurrent ingests [%s]', (dialect) => {
  it('keeps every acknowledged item, logged exactly once, and the log stays consistent across the crash', { timeout: 240_000 }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'louder-ingest-kill9-'))
    dirs.push(dataDir)
    const where: Where = { dataDir, databaseUrl: dialect === 'postgres' ? await createTestDatabase() : null }
    let server: ServerProcess = await startServer(where)
    const first = server
    const token = await adminToken(where)

    // Various sizes, all different: mostly 1 KiB to 32 KiB, and one in 25 of 1 to 3 MiB, whose sealed copies are
    // written from the sealing ring's aligned blocks (direct I/O from where they lie) when the server dies.
    const items = Array.from({ length: ITEMS }, (_, i) => randomBytes(i % 25 === 5 ? (1 << 20) + ((i * 7919) % (2 << 20)) : 1024 + ((i * 7919) % (31 * 1024))))
    const hashOf = (b: Buffer) => createHash('sha256').update(b).digest('hex')
    const acked = new Map<string, { beforeKill: boolean }>()
    let lastPublished: { size: number; root: Buffer } | null = null
    let killed = false

    async function deliver(bytes: Buffer): Promise<void> {
      const deadline = Date.now() + DEADLINE_MS
      for (;;) {
        if (Date.now() > deadline) throw new Error(`upload ${hashOf(bytes)} never acknowledged`)
        const target = server
        try {
          const res = await fetch(`${target.url}/api/v1/media`, {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
            body: bytes,
            signal: AbortSignal.timeout(20_000),
          })
          const text = await res.text()
          if (res.status === 201 || res.status === 200) {
            const body = JSON.parse(text) as { sha256: string }
            expect(body.sha256).toBe(hashOf(bytes))
            acked.set(body.sha256, { beforeKill: target === first })
            return
          }
          if (res.status < 500) throw new Error(`upload refused: ${res.status} ${text}`)
        } catch (err) {
          if (err instanceof Error && err.message.startsWith('upload refused')) throw err
          // The server is gone or going: send the same bytes again, to whichever server is up.
        }
        await sleep(20 + Math.random() * 60)
      }
    }

    /** Publishes checkpoints while the first server lives, as a monitor polling the public endpoint would. */
    async function monitor(): Promise<void> {
      while (!killed) {
        try {
          const res = await fetch(`${first.url}/api/v1/log/checkpoint`, { signal: AbortSignal.timeout(5_000) })
          if (res.status === 200) {
            const parsed = parseCheckpointBody(await res.text())
            if (parsed && !killed) lastPublished = { size: parsed.size, root: parsed.root }
          }
        } catch {}
        await sleep(50)
      }
    }

    async function killAndRestart(): Promise<void> {
      while (acked.size < KILL_AFTER_ACKS) await sleep(5)
      killed = true
      expect(await first.kill('SIGKILL')).toBe('SIGKILL')
      server = await startServer(where)
    }

    // One checkpoint published before the load starts, so the test never depends on a monitor poll getting
    // through a loaded server in time; the monitor then publishes newer ones while it can.
    await deliver(items[0]!)
    const initial = parseCheckpointBody(await (await fetch(`${first.url}/api/v1/log/checkpoint`)).text())
    if (initial) lastPublished = { size: initial.size, root: initial.root }
    await Promise.all([...items.slice(1).map((b) => deliver(b)), monitor(), killAndRestart()])

    expect(acked.size).toBe(ITEMS)
    const beforeKill = [...acked.values()].filter((a) => a.beforeKill).length
    expect(beforeKill).toBeGreaterThanOrEqual(KILL_AFTER_ACKS)
    expect(beforeKill, "some uploads must have been in flight when the server died").toBeLessThan(ITEMS)
    expect(lastPublished, 'a checkpoint was published before the crash').not.toBeNull()

    // Every item is held (HEAD through the restarted server), opens to the bytes it was acknowledged for, and is
    // logged as received exactly once.
    for (const sha of acked.keys()) {
      expect((await fetch(`${server.url}/api/v1/media/${sha}`, { method: 'HEAD', headers: { authorization: `Bearer ${token}` } })).status, sha).toBe(200)
      const original = await fetch(`${server.url}/api/v1/media/${sha}/content`, { headers: { authorization: `Bearer ${token}`, 'louder-reason': 'crash test: read back' } })
      expect(original.status, sha).toBe(200)
      expect(hashOf(Buffer.from(await original.arrayBuffer())), sha).toBe(sha)
    }
    const db = await openDatabase({ dataDir: where.dataDir, databaseUrl: where.databaseUrl ?? null })
    try {
      const rows = await db.kysely.selectFrom('custody_events').select('body').execute()
      const received = new Map<string, number>()
      for (const { body } of rows) {
        const event = JSON.parse(body) as { type: string; sha256?: string }
        if (event.type === 'media.received') received.set(event.sha256!, (received.get(event.sha256!) ?? 0) + 1)
      }
      for (const sha of acked.keys()) expect(received.get(sha), sha).toBe(1)
      expect(received.size).toBe(ITEMS)
      expect(Number((await db.kysely.selectFrom('media_items').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n)).toBe(ITEMS)
    } finally {
      await db.close()
    }

    // A checkpoint signed now extends the last one published before the crash.
    await sleep(1_100) // the public endpoint signs at most once a second
    const now = parseCheckpointBody(await (await fetch(`${server.url}/api/v1/log/checkpoint`)).text())!
    const old = lastPublished!
    expect(now.size).toBeGreaterThanOrEqual(old.size)
    const proof = (await (await fetch(`${server.url}/api/v1/log/proofs/consistency?from=${old.size}&to=${now.size}`)).json()) as { hashes: string[] }
    expect(verifyConsistency(old.size, now.size, old.root, now.root, proof.hashes.map((h) => Buffer.from(h, 'hex')))).toBe(true)

    await server.kill('SIGTERM')
  })
})
