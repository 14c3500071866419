import type { Kysely } from 'kysely'
import { uuidv7 } from '../../core/ids.ts'
import type { Database } from '../schema.ts'

export interface NewJobOptions {
  runAt?: number
  priority?: number
  maxAttempts?: number
}

/**
 * Writes one queued job on `db`: pass a transaction and the job exists if and only if the caller's write does.
 * The one place a `jobs` row is made (JobQueue.enqueue, and repositories that queue work inside a core transaction).
 */
export async function insertJob(db: Kysely<Database>, name: string, payload: unknown, options: NewJobOptions = {}): Promise<string> {
  const now = Date.now()
  const id = uuidv7(now)
  await db
    .insertInto('jobs')
    .values({
      id,
      name,
      payload: JSON.stringify(payload),
      status: 'queued',
      priority: options.priority ?? 0,
      attempts: 0,
      max_attempts: options.maxAttempts ?? 8,
      run_at: options.runAt ?? now,
      locked_by: null,
      locked_until: null,
      last_error: null,
      created_at: now,
      updated_at: now,
      finished_at: null,
    })
    .execute()
  return id
}
