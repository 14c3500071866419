import { setTimeout as sleep } from 'node:timers/promises'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import { decodeCursor } from '../../src/core/pagination.ts'
import type { DialectAdapter } from '../../src/db/dialect/dialect-adapter.ts'
import { JobQueue } from '../../src/jobs/job-queue.ts'
import type { Job, JobName } from '../../src/jobs/job-types.ts'
import { type JobHandlers, PermanentJobError, Worker } from '../../src/jobs/worker.ts'
import { spawnDbChildren } from '../support/db-children.ts'
import { forEachDialect } from '../support/dialects.ts'

// Job names of the test's own: the queue stores any name; only the handlers give them meaning.
const A = 'test.a' as JobName
const B = 'test.b' as JobName
const C = 'test.c' as JobName
const payload = (value: unknown) => value as never
const LEASE = 60_000

forEachDialect('JobQueue', (dialect) => {
  let db: DialectAdapter
  let queue: JobQueue

  beforeEach(async () => {
    db = await dialect.open()
    queue = new JobQueue(db)
  })

  /** Makes a job that is waiting out its back-off ready now, instead of sleeping through it. */
  async function makeReady(id: string) {
    await db.kysely.updateTable('jobs').set({ run_at: Date.now() - 1 }).where('id', '=', id).execute()
  }

  async function claimAll(workerId: string, names?: JobName[]): Promise<Job[]> {
    const jobs: Job[] = []
    for (let job = await queue.claim(workerId, LEASE, names); job; job = await queue.claim(workerId, LEASE, names)) jobs.push(job)
    return jobs
  }

  describe('enqueue and claim', () => {
    it('stores a queued job with its payload', async () => {
      const before = Date.now()
      const id = await queue.enqueue(A, payload({ n: 1, s: 'ü' }), { priority: 3, maxAttempts: 4 })
      const job = await queue.get(id)
      expect(job).toMatchObject({ id, name: A, payload: { n: 1, s: 'ü' }, status: 'queued', priority: 3, attempts: 0, maxAttempts: 4, lockedBy: null, lockedUntil: null, lastError: null, finishedAt: null })
      expect(job!.runAt).toBeGreaterThanOrEqual(before)
      expect(await queue.get('00000000-0000-7000-8000-000000000000')).toBeNull()
    })

    it('claims the most urgent ready job first: priority, then run_at, then age', async () => {
      const now = Date.now()
      const low = await queue.enqueue(A, payload({}), { runAt: now - 3_000 })
      const highLate = await queue.enqueue(A, payload({}), { priority: 5, runAt: now - 1_000 })
      const highEarly = await queue.enqueue(A, payload({}), { priority: 5, runAt: now - 2_000 })
      const lowSameTime1 = await queue.enqueue(A, payload({}), { runAt: now - 3_000 })
      await queue.enqueue(A, payload({}), { priority: 9, runAt: now + 3_600_000 })

      const order = (await claimAll('w1')).map((j) => j.id)
      // Same priority and run_at: the lower id (UUIDv7: the older job, to the millisecond) first.
      expect(order).toEqual([highEarly, highLate, ...[low, lowSameTime1].sort()])
    })

    it('hands out a claim as a lease, counting the attempt', async () => {
      const id = await queue.enqueue(A, payload({}))
      const before = Date.now()
      const job = await queue.claim('w1', LEASE)
      expect(job).toMatchObject({ id, status: 'running', lockedBy: 'w1', attempts: 1 })
      expect(job!.lockedUntil).toBeGreaterThanOrEqual(before + LEASE)
      expect(await queue.claim('w2', LEASE)).toBeNull()
    })

    it('claims only the names asked for', async () => {
      const a = await queue.enqueue(A, payload({}))
      const b = await queue.enqueue(B, payload({}))
      const c = await queue.enqueue(C, payload({}))
      expect(await queue.claim('w', LEASE, [])).toBeNull()
      expect((await claimAll('w', [B, C])).map((j) => j.id).sort()).toEqual([b, c].sort())
      expect((await claimAll('w', [A])).map((j) => j.id)).toEqual([a])
    })

    it('enqueues inside the caller\'s transaction: the job exists if and only if the write does', async () => {
      await expect(
        db.writeTransaction(async (trx) => {
          await queue.enqueue(A, payload({ kept: false }), {}, trx)
          throw new Error('rolled back')
        }),
      ).rejects.toThrow('rolled back')
      const kept = await db.writeTransaction((trx) => queue.enqueue(A, payload({ kept: true }), {}, trx))
      expect((await claimAll('w')).map((j) => j.id)).toEqual([kept])
    })
  })

  describe('completion and failure', () => {
    it('completes a job only for the worker that holds its lease', async () => {
      const id = await queue.enqueue(A, payload({}))
      await queue.claim('w1', LEASE)
      expect(await queue.complete(id, 'w2')).toBe(false)
      expect((await queue.get(id))!.status).toBe('running')
      expect(await queue.complete(id, 'w1')).toBe(true)
      const done = await queue.get(id)
      expect(done).toMatchObject({ status: 'done', lockedBy: null, lockedUntil: null })
      expect(done!.finishedAt).not.toBeNull()
      expect(await queue.complete(id, 'w1')).toBe(false)
    })

    it('retries a failed job after a back-off, and buries it once its attempts are spent', async () => {
      const id = await queue.enqueue(A, payload({}), { maxAttempts: 3 })
      for (let attempt = 1; attempt <= 2; attempt++) {
        expect((await queue.claim('w1', LEASE))?.attempts).toBe(attempt)
        const failedAt = Date.now()
        expect(await queue.fail(id, 'w1', `failure ${attempt}`)).toBe('queued')
        const job = await queue.get(id)
        expect(job).toMatchObject({ status: 'queued', lockedBy: null, lastError: `failure ${attempt}`, finishedAt: null })
        // Back-off: not ready again at once.
        expect(job!.runAt).toBeGreaterThanOrEqual(failedAt + 1_000)
        expect(await queue.claim('w1', LEASE)).toBeNull()
        await makeReady(id)
      }
      expect((await queue.claim('w1', LEASE))?.attempts).toBe(3)
      expect(await queue.fail(id, 'w1', 'failure 3')).toBe('dead')
      const dead = await queue.get(id)
      expect(dead).toMatchObject({ status: 'dead', lastError: 'failure 3', lockedBy: null })
      expect(dead!.finishedAt).not.toBeNull()
      await makeReady(id)
      expect(await queue.claim('w1', LEASE)).toBeNull()
    })

    it('buries a job at once when its failure is not retryable', async () => {
      const id = await queue.enqueue(A, payload({}), { maxAttempts: 5 })
      await queue.claim('w1', LEASE)
      expect(await queue.fail(id, 'w1', 'bad input', { retryable: false })).toBe('dead')
      expect((await queue.get(id))!.attempts).toBe(1)
    })

    it('ignores a failure reported by a worker without the lease', async () => {
      const id = await queue.enqueue(A, payload({}))
      await queue.claim('w1', LEASE)
      expect(await queue.fail(id, 'w2', 'not mine')).toBeNull()
      expect(await queue.get(id)).toMatchObject({ status: 'running', lockedBy: 'w1', lastError: null })
    })

    it('keeps only the start of a very long error', async () => {
      const id = await queue.enqueue(A, payload({}))
      await queue.claim('w1', LEASE)
      await queue.fail(id, 'w1', 'x'.repeat(100_000))
      expect((await queue.get(id))!.lastError).toHaveLength(2000)
    })

    it('puts a dead job back in the queue with fresh attempts', async () => {
      const id = await queue.enqueue(A, payload({}), { maxAttempts: 1 })
      await queue.claim('w1', LEASE)
      await queue.fail(id, 'w1', 'gave up')
      expect(await queue.retry(id)).toMatchObject({ id, status: 'queued', attempts: 0, finishedAt: null })
      expect(await queue.retry(id)).toBeNull()
      expect(await queue.claim('w2', LEASE)).toMatchObject({ id, attempts: 1, lockedBy: 'w2' })
      expect(await queue.retry(id)).toBeNull()
    })
  })

  describe('leases', () => {
    it('gives the job of a worker whose lease ran out to another worker', async () => {
      const id = await queue.enqueue(A, payload({}))
      await queue.claim('w1', 1)
      await sleep(5)
      expect(await queue.claim('w2', LEASE)).toMatchObject({ id, lockedBy: 'w2', attempts: 2 })
      expect(await queue.complete(id, 'w1')).toBe(false)
      expect(await queue.heartbeat(id, 'w1', LEASE)).toBe(false)
      expect(await queue.fail(id, 'w1', 'late')).toBeNull()
      expect(await queue.complete(id, 'w2')).toBe(true)
    })

    it('keeps a job whose worker extends its lease', async () => {
      const id = await queue.enqueue(A, payload({}))
      await queue.claim('w1', 30)
      expect(await queue.heartbeat(id, 'w1', LEASE)).toBe(true)
      await sleep(40)
      expect(await queue.claim('w2', LEASE)).toBeNull()
      expect(await queue.complete(id, 'w1')).toBe(true)
    })

    it('buries a job whose worker keeps dying once its attempts are spent', async () => {
      const id = await queue.enqueue(A, payload({}), { maxAttempts: 2 })
      await queue.claim('w1', 1)
      await sleep(5)
      expect(await queue.claim('w2', 1)).toMatchObject({ id, attempts: 2 })
      await sleep(5)
      expect(await queue.claim('w3', LEASE)).toBeNull()
      expect(await queue.get(id)).toMatchObject({ status: 'dead', lockedBy: null, attempts: 2 })
      expect((await queue.get(id))!.lastError).toMatch(/lease/)
    })
  })

  describe('listing', () => {
    it('counts jobs by status', async () => {
      expect(await queue.counts()).toEqual({ queued: 0, running: 0, done: 0, dead: 0 })
      const ids = []
      for (let i = 0; i < 5; i++) ids.push(await queue.enqueue(A, payload({ i })))
      const first = await queue.claim('w', LEASE)
      const second = await queue.claim('w', LEASE)
      await queue.complete(first!.id, 'w')
      await queue.fail(second!.id, 'w', 'no', { retryable: false })
      await queue.claim('w', LEASE)
      expect(await queue.counts()).toEqual({ queued: 2, running: 1, done: 1, dead: 1 })
    })

    it('lists newest first in pages, filtered by status and name', async () => {
      const ids: string[] = []
      for (let i = 0; i < 7; i++) ids.push(await queue.enqueue(i % 2 ? A : B, payload({ i })))
      const seen: string[] = []
      let after: string | undefined
      for (;;) {
        const page = await queue.list({ limit: 3, after })
        expect(page.items.length).toBeLessThanOrEqual(3)
        seen.push(...page.items.map((j) => j.id))
        if (!page.next) break
        after = decodeCursor(page.next, ['string'])[0] as string
      }
      // Newest first by id: UUIDv7 orders by creation to the millisecond, and by random bits within one.
      const newestFirst = (list: string[]) => [...list].sort().reverse()
      expect(seen).toEqual(newestFirst(ids))

      const onlyA = await queue.list({ name: A, limit: 10 })
      expect(onlyA).toEqual({ items: expect.any(Array), next: null })
      expect(onlyA.items.map((j) => j.id)).toEqual(newestFirst(ids.filter((_, i) => i % 2)))
      await queue.claim('w', LEASE)
      expect((await queue.list({ status: 'running', limit: 10 })).items).toHaveLength(1)
      expect((await queue.list({ status: 'queued', limit: 10 })).items).toHaveLength(6)
    })
  })

  describe('Worker', () => {
    it('drains ready jobs through their handlers', async () => {
      const seen: unknown[] = []
      const handlers = {
        'test.a': async (p: unknown, job: Job, signal: AbortSignal) => {
          expect(signal.aborted).toBe(false)
          expect(job.status).toBe('running')
          seen.push(p)
        },
        'test.b': async () => {
          throw new Error('flaky network')
        },
        'test.c': async () => {
          throw new PermanentJobError('this file will never parse')
        },
      } as unknown as JobHandlers
      const ok = [await queue.enqueue(A, payload(1)), await queue.enqueue(A, payload(2)), await queue.enqueue(A, payload(3))]
      const flaky = await queue.enqueue(B, payload({}))
      const broken = await queue.enqueue(C, payload({}))
      const unknown = await queue.enqueue('test.nobody-handles-this' as JobName, payload({}))

      const worker = new Worker(queue, handlers, { concurrency: 1 })
      expect(await worker.drain()).toBe(5)
      expect(seen.sort()).toEqual([1, 2, 3])
      for (const id of ok) expect((await queue.get(id))!.status).toBe('done')
      expect(await queue.get(flaky)).toMatchObject({ status: 'queued', lastError: 'Error: flaky network' })
      expect(await queue.get(broken)).toMatchObject({ status: 'dead', attempts: 1, lastError: 'PermanentJobError: this file will never parse' })
      // A worker claims only what it has a handler for.
      expect((await queue.get(unknown))!.status).toBe('queued')
      expect(await worker.drain()).toBe(0)
    })

    it('stops cleanly, aborting the job it is running, which goes back to the queue', async () => {
      let started!: () => void
      const running = new Promise<void>((resolve) => (started = resolve))
      let sawAbort = false
      const handlers = {
        [A]: async (_p: unknown, _job: Job, signal: AbortSignal) => {
          started()
          await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }))
          sawAbort = true
          throw signal.reason
        },
      } as unknown as JobHandlers
      const slow = await queue.enqueue(A, payload({}))
      const worker = new Worker(queue, handlers, { concurrency: 2, idlePollMs: 10 })
      worker.start()
      await running
      await worker.stop()
      expect(sawAbort).toBe(true)
      expect(await queue.get(slow)).toMatchObject({ status: 'queued', lockedBy: null, attempts: 1 })
      expect((await queue.counts()).running).toBe(0)
    })

    it('stops at once when idle, without waiting out its poll interval', async () => {
      const worker = new Worker(queue, { [A]: async () => {} } as unknown as JobHandlers, { concurrency: 3, idlePollMs: 10 * 60_000 })
      worker.start()
      await sleep(50)
      // The test's own timeout is far below the poll interval.
      await worker.stop()
    })

    it('picks up jobs enqueued while it runs', async () => {
      const done: number[] = []
      const worker = new Worker(queue, { [A]: async (p: number) => void done.push(p) } as unknown as JobHandlers, { concurrency: 3, idlePollMs: 10 })
      worker.start()
      for (let i = 0; i < 10; i++) await queue.enqueue(A, payload(i))
      await vi.waitFor(() => expect(done).toHaveLength(10), { timeout: 10_000, interval: 20 })
      await worker.stop()
      expect(done.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
      expect((await queue.counts()).done).toBe(10)
    })
  })

  describe('several workers at once', () => {
    const JOBS = 300

    it(`never gives the same job to two claimers, across processes and connections`, async () => {
      const location = dialect.locationOf(db)
      const ids = new Set<string>()
      // In one transaction, so no claimer can start on a half-filled queue.
      await db.writeTransaction(async (trx) => {
        for (let i = 0; i < JOBS; i++) ids.add(await queue.enqueue(A, payload({ i }), {}, trx))
      })
      const children = await spawnDbChildren(3, 'claim', location)

      // On PostgreSQL, also several concurrent claim loops in this process, on this pool and on a second one.
      // SQLite's extra connections are the child processes only: better-sqlite3 is synchronous, so a second handle
      // here would wait for a lock with the whole thread blocked, and this one would take most jobs before the
      // children are scheduled.
      const queues = dialect.name === 'postgres' ? [queue, new JobQueue(await dialect.open(location))] : []
      const loop = async (q: JobQueue, workerId: string) => {
        const claimed: string[] = []
        for (let job = await q.claim(workerId, 10 * 60_000); job; job = await q.claim(workerId, 10 * 60_000)) claimed.push(job.id)
        return { workerId, claimed }
      }
      const childResults = children.go()
      childResults.catch(() => {})
      const local = await Promise.all(queues.flatMap((q, qi) => [0, 1, 2].map((i) => loop(q, `local-${qi}-${i}`))))
      const remote = ((await childResults) as { claimed: string[] }[]).map((r, i) => ({ workerId: `child-${i}`, claimed: r.claimed }))

      const byClaimer = [...local, ...remote]
      const all = byClaimer.flatMap((r) => r.claimed)
      expect(all).toHaveLength(JOBS)
      expect(new Set(all)).toEqual(ids)
      // PostgreSQL shares the work out among all claimers; SQLite's lock is not fair, and one process may
      // (rarely) take nearly everything, so there only exactly-once is asserted.
      if (dialect.name === 'postgres') expect(byClaimer.filter((r) => r.claimed.length > 0).length).toBeGreaterThanOrEqual(3)
      // The database agrees: each job was claimed exactly once, by the claimer that reported it.
      const rows = await db.kysely.selectFrom('jobs').select(['id', 'status', 'attempts', 'locked_by']).execute()
      const claimerOf = new Map(byClaimer.flatMap((r) => r.claimed.map((id) => [id, r.workerId] as const)))
      for (const row of rows) {
        expect(row).toMatchObject({ status: 'running', attempts: 1 })
        expect(row.locked_by).toBe(claimerOf.get(row.id))
      }
    })
  })
})
