/**
 * Every job name and its payload. Later capabilities add theirs by augmenting this interface from their
 * own module (`declare module '../jobs/job-types.ts' { interface JobTypes { … } }`), so the queue stays typed.
 */
export interface JobTypes {
  /** Forget stored idempotent responses older than the retention window. */
  'platform.prune-idempotency': { olderThanMs: number }
  /** Place incidents again after boundaries changed, a batch per run, continuing after `afterId`. */
  'register.relocate-incidents': { afterId: string | null }
  /** Discard resumable uploads that received nothing within their expiry window; seal any left complete but unsealed. */
  'sync.expire-uploads': Record<string, never>
}

export type JobName = keyof JobTypes

export const JOB_STATUSES = ['queued', 'running', 'done', 'dead'] as const
export type JobStatus = (typeof JOB_STATUSES)[number]

export interface Job<N extends JobName = JobName> {
  id: string
  name: N
  payload: JobTypes[N]
  status: JobStatus
  priority: number
  attempts: number
  maxAttempts: number
  runAt: number
  lockedBy: string | null
  lockedUntil: number | null
  lastError: string | null
  createdAt: number
  updatedAt: number
  finishedAt: number | null
}
