import { type Kysely, sql } from 'kysely'
import { type Page, toPage } from '../core/pagination.ts'
import type { DialectAdapter } from '../db/dialect/dialect-adapter.ts'
import type { Database, JobsTable } from '../db/schema.ts'
import type { Job, JobName, JobStatus, JobTypes } from './job-types.ts'
import { insertJob, type NewJobOptions } from '../db/repositories/job-row.ts'

export type EnqueueOptions = NewJobOptions

export const BACKOFF_BASE_MS = 2_000
export const BACKOFF_CAP_MS = 60 * 60_000

/** Exponential back-off with full jitter between half and the whole step, capped (retries outlast outages without stampeding). */
export function backoffMs(attempts: number, random = Math.random): number {
  const step = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, attempts - 1))
  return Math.round(step / 2 + (step / 2) * random())
}

/**
 * A job queue in our own database, so a job commits with the write that caused it. SQLite claims under
 * its single write lock; PostgreSQL claims with FOR UPDATE SKIP LOCKED, so any number of workers in any
 * number of processes never take the same job. A claim is a lease: a worker that dies loses it when it expires.
 */
export class JobQueue {
  readonly #db: DialectAdapter

  constructor(db: DialectAdapter) {
    this.#db = db
  }

  /** `trx` enqueues inside the caller's transaction, so the job exists if and only if the write does. */
  async enqueue<N extends JobName>(name: N, payload: JobTypes[N], options: EnqueueOptions = {}, trx: Kysely<Database> = this.#db.kysely): Promise<string> {
    return insertJob(trx, name, payload, options)
  }

  /** Takes the most urgent ready job for `workerId` for `leaseMs`, or null when none is ready. */
  async claim(workerId: string, leaseMs: number, names?: readonly JobName[]): Promise<Job | null> {
    // No name to take: answer here, as `name in ()` is not SQL (and a placeholder name with NUL is refused by PostgreSQL).
    if (names?.length === 0) return null
    const now = Date.now()
    return this.#db.writeTransaction(async (trx) => {
      // Leases of dead workers run out; their jobs go back to the queue, or to the dead when that was the last
      // attempt, so a job that kills its worker every time (a decompression bomb) does not come back forever.
      await trx
        .updateTable('jobs')
        .set({ status: 'dead', locked_by: null, locked_until: null, last_error: 'lease expired on the last attempt: the worker stopped without reporting', finished_at: now, updated_at: now })
        .where('status', '=', 'running')
        .where('locked_until', '<', now)
        .whereRef('attempts', '>=', 'max_attempts')
        .execute()
      await trx
        .updateTable('jobs')
        .set({ status: 'queued', locked_by: null, locked_until: null, updated_at: now })
        .where('status', '=', 'running')
        .where('locked_until', '<', now)
        .execute()
      let pick = trx.selectFrom('jobs').select('id').where('status', '=', 'queued').where('run_at', '<=', now)
      if (names) pick = pick.where('name', 'in', [...names])
      pick = pick.orderBy('priority', 'desc').orderBy('run_at').orderBy('id').limit(1)
      if (this.#db.caps.skipLocked) pick = pick.forUpdate().skipLocked()
      const row = await trx
        .updateTable('jobs')
        .set((eb) => ({ status: 'running', locked_by: workerId, locked_until: now + leaseMs, attempts: eb('attempts', '+', 1), updated_at: now }))
        .where('id', '=', (eb) => eb.selectFrom(pick.as('next')).select('next.id'))
        .where('status', '=', 'queued')
        .returningAll()
        .executeTakeFirst()
      return row ? toJob(row) : null
    })
  }

  /** Marks a job done, if `workerId` still holds its lease. Returns false if the lease was lost. */
  async complete(id: string, workerId: string): Promise<boolean> {
    const now = Date.now()
    const result = await this.#db.kysely
      .updateTable('jobs')
      .set({ status: 'done', locked_by: null, locked_until: null, finished_at: now, updated_at: now, last_error: null })
      .where('id', '=', id)
      .where('locked_by', '=', workerId)
      .where('status', '=', 'running')
      .executeTakeFirst()
    return Number(result.numUpdatedRows) === 1
  }

  /** Records a failure: retried after back-off, or dead once attempts are spent (or at once when not retryable). */
  async fail(id: string, workerId: string, error: string, options: { retryable?: boolean } = {}): Promise<JobStatus | null> {
    const now = Date.now()
    return this.#db.writeTransaction(async (trx) => {
      const row = await trx.selectFrom('jobs').selectAll().where('id', '=', id).where('locked_by', '=', workerId).where('status', '=', 'running').executeTakeFirst()
      if (!row) return null
      const dead = options.retryable === false || row.attempts >= row.max_attempts
      const status: JobStatus = dead ? 'dead' : 'queued'
      const result = await trx
        .updateTable('jobs')
        .set({
          status,
          locked_by: null,
          locked_until: null,
          last_error: error.slice(0, 2000),
          run_at: dead ? row.run_at : now + backoffMs(row.attempts),
          finished_at: dead ? now : null,
          updated_at: now,
        })
        // Still ours: on PostgreSQL the read above locks nothing, and the lease may have run out and the job
        // gone to another worker meanwhile; overwriting that claim would let a third worker take it too.
        .where('id', '=', id)
        .where('locked_by', '=', workerId)
        .where('status', '=', 'running')
        .executeTakeFirst()
      return Number(result.numUpdatedRows) === 1 ? status : null
    })
  }

  /** Extends a lease for long work. */
  async heartbeat(id: string, workerId: string, leaseMs: number): Promise<boolean> {
    const result = await this.#db.kysely.updateTable('jobs').set({ locked_until: Date.now() + leaseMs }).where('id', '=', id).where('locked_by', '=', workerId).where('status', '=', 'running').executeTakeFirst()
    return Number(result.numUpdatedRows) === 1
  }

  /** Puts a dead (or done) job back in the queue with fresh attempts. */
  async retry(id: string): Promise<Job | null> {
    const now = Date.now()
    const row = await this.#db.kysely
      .updateTable('jobs')
      .set({ status: 'queued', attempts: 0, run_at: now, finished_at: null, updated_at: now })
      .where('id', '=', id)
      .where('status', 'in', ['dead', 'done'])
      .returningAll()
      .executeTakeFirst()
    return row ? toJob(row) : null
  }

  async get(id: string): Promise<Job | null> {
    const row = await this.#db.kysely.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst()
    return row ? toJob(row) : null
  }

  /** Newest first; `after` is the last id of the previous page. */
  async list(filter: { status?: JobStatus; name?: string; limit: number; after?: string }): Promise<Page<Job>> {
    let q = this.#db.kysely.selectFrom('jobs').selectAll()
    if (filter.status) q = q.where('status', '=', filter.status)
    if (filter.name) q = q.where('name', '=', filter.name)
    if (filter.after) q = q.where('id', '<', filter.after)
    const rows = await q.orderBy('id', 'desc').limit(filter.limit + 1).execute()
    return toPage(rows.map(toJob), filter.limit, (j) => [j.id])
  }

  async counts(): Promise<Record<JobStatus, number>> {
    const rows = await this.#db.kysely.selectFrom('jobs').select(['status', sql<number>`count(*)`.as('n')]).groupBy('status').execute()
    const counts: Record<JobStatus, number> = { queued: 0, running: 0, done: 0, dead: 0 }
    for (const r of rows) counts[r.status as JobStatus] = Number(r.n)
    return counts
  }
}

function toJob(row: JobsTable): Job {
  return {
    id: row.id,
    name: row.name as JobName,
    payload: JSON.parse(row.payload),
    status: row.status as JobStatus,
    priority: row.priority,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    runAt: row.run_at,
    lockedBy: row.locked_by,
    lockedUntil: row.locked_until,
    lastError: row.last_error,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    finishedAt: row.finished_at,
  }
}
