/**
 * Idempotency across processes: two `louder serve` processes on one database get the same write with the
 * same key at the same moment. Neither knows what the other has in flight, so only the database can decide:
 * the key row commits with the write, the loser's unique violation rolls its write back, and it answers
 * with the winner's stored response.
 */
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { createTestDatabase } from '../support/postgres.ts'
import { adminToken, killAllServers, startServer, type Where } from './server-process.ts'

const dirs: string[] = []
afterEach(async () => {
  await killAllServers()
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

describe.each(['sqlite', 'postgres'] as const)('one key, two server processes [%s]', (dialect) => {
  it('writes once and gives every caller the same answer', { timeout: 60_000 }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'louder-idem-'))
    dirs.push(dataDir)
    const where: Where = { dataDir, databaseUrl: dialect === 'postgres' ? await createTestDatabase() : null }
    const a = await startServer(where)
    const b = await startServer(where)
    const token = await adminToken(where)

    const post = (url: string, key: string, body: object) =>
      fetch(`${url}/api/v1/observations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'idempotency-key': key },
        body: JSON.stringify(body),
      }).then(async (res) => ({ status: res.status, replayed: res.headers.get('idempotent-replayed') === 'true', body: (await res.json()) as { id?: string; code?: string } }))

    const narratives: string[] = []
    for (let round = 0; round < 15; round++) {
      const key = randomUUID()
      const body = { narrative: `two servers ${round} ${randomUUID()}`, occurredAt: '2024-05-01T12:00:00Z' }
      narratives.push(body.narrative)
      const answers = await Promise.all([a.url, b.url, a.url, b.url].map((url) => post(url, key, body)))
      for (const answer of answers) expect([201, 409], JSON.stringify(answer)).toContain(answer.status)
      const ok = answers.filter((x) => x.status === 201)
      expect(ok.filter((x) => !x.replayed), JSON.stringify(answers)).toHaveLength(1)
      for (const x of ok) expect(x.body).toEqual(ok[0]!.body)
      for (const x of answers.filter((y) => y.status === 409)) expect(x.body.code).toBe('idempotency_in_flight')
    }

    const res = await fetch(`${a.url}/api/v1/observations?limit=500`, { headers: { authorization: `Bearer ${token}` } })
    const rows = ((await res.json()) as { items: { narrative: string }[] }).items.map((o) => o.narrative).sort()
    expect(rows).toEqual(narratives.sort())
  })
})
