import { hostname } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import { randomBytes } from 'node:crypto'
import type { Logger } from 'pino'
import type { JobQueue } from './job-queue.ts'
import type { Job, JobName, JobTypes } from './job-types.ts'

/** A job handler: `signal` aborts when the worker is stopping; throw PermanentJobError for input that will never work. */
export type JobHandler<N extends JobName> = (payload: JobTypes[N], job: Job<N>, signal: AbortSignal) => Promise<void>
export type JobHandlers = { [N in JobName]?: JobHandler<N> }

export class PermanentJobError extends Error {
  readonly code = 'job_permanent'
  // The job's last_error starts with the name: "PermanentJobError: …" tells an operator no retry will help.
  override readonly name = 'PermanentJobError'
}

export interface WorkerOptions {
  concurrency?: number
  leaseMs?: number
  idlePollMs?: number
  logger?: Logger
}

/**
 * Runs jobs until stopped. `stop()` lets running jobs finish (they see the abort signal) instead of
 * exiting mid-write; a job cut short by a crash goes back to the queue when its lease runs out.
 */
export class Worker {
  readonly id = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`
  readonly #queue: JobQueue
  readonly #handlers: JobHandlers
  readonly #options: Required<Omit<WorkerOptions, 'logger'>> & { logger?: Logger }
  readonly #abort = new AbortController()
  #loops: Promise<void>[] = []

  constructor(queue: JobQueue, handlers: JobHandlers, options: WorkerOptions = {}) {
    this.#queue = queue
    this.#handlers = handlers
    this.#options = { concurrency: options.concurrency ?? 2, leaseMs: options.leaseMs ?? 5 * 60_000, idlePollMs: options.idlePollMs ?? 500, logger: options.logger }
  }

  start(): void {
    for (let i = 0; i < this.#options.concurrency; i++) this.#loops.push(this.#loop())
  }

  async stop(): Promise<void> {
    this.#abort.abort()
    await Promise.all(this.#loops)
  }

  /** Runs ready jobs until none is left; for tests and one-shot commands. Returns how many ran. */
  async drain(): Promise<number> {
    let ran = 0
    while (await this.#runOne()) ran++
    return ran
  }

  async #loop(): Promise<void> {
    const signal = this.#abort.signal
    while (!signal.aborted) {
      let worked = false
      try {
        worked = await this.#runOne()
      } catch (err) {
        // The database went away for a moment: wait and try again rather than die.
        this.#options.logger?.error({ err: errorMessage(err) }, 'job loop error')
      }
      if (!worked) await sleep(this.#options.idlePollMs, undefined, { signal }).catch(() => {})
    }
  }

  async #runOne(): Promise<boolean> {
    const names = Object.keys(this.#handlers) as JobName[]
    const job = await this.#queue.claim(this.id, this.#options.leaseMs, names)
    if (!job) return false
    const handler = this.#handlers[job.name] as JobHandler<JobName> | undefined
    const log = this.#options.logger?.child({ job: job.id, name: job.name, attempt: job.attempts })
    try {
      if (!handler) throw new PermanentJobError(`no handler for ${job.name}`)
      await handler(job.payload, job, this.#abort.signal)
      await this.#queue.complete(job.id, this.id)
      log?.info('job done')
    } catch (err) {
      const status = await this.#queue.fail(job.id, this.id, errorMessage(err), { retryable: !(err instanceof PermanentJobError) })
      log?.warn({ err: errorMessage(err), status }, 'job failed')
    }
    return true
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err)
}
