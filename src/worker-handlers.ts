import type { AppContext } from './app-context.ts'
import type { JobHandlers } from './jobs/worker.ts'

/** Which code runs each job; every capability adds its handlers here. */
export function jobHandlers(ctx: AppContext): JobHandlers {
  return {
    'platform.prune-idempotency': async ({ olderThanMs }) => {
      await ctx.store.repos.idempotency.deleteOlderThan(Date.now() - olderThanMs)
    },
  }
}

/** How long a stored idempotent response is replayed: longer than any field device's retry horizon. */
export const IDEMPOTENCY_RETENTION_MS = 30 * 24 * 3600_000
