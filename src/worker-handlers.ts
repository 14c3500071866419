import type { AppContext } from './app-context.ts'
import type { JobHandlers } from './jobs/worker.ts'
import { relocateIncidents } from './core/incidents/relocate.ts'
import { expireUploads, sealAwaitingUploads } from './core/sync/uploads.ts'

/** Which code runs each job; every capability adds its handlers here. */
export function jobHandlers(ctx: AppContext): JobHandlers {
  return {
    'platform.prune-idempotency': async ({ olderThanMs }) => {
      await ctx.store.repos.idempotency.deleteOlderThan(Date.now() - olderThanMs)
    },
    // One batch per run, then the next batch as a job of its own: a million incidents never hold one lease.
    'register.relocate-incidents': async ({ afterId }) => {
      const { next } = await relocateIncidents(ctx.store, ctx.sealer, afterId)
      if (next) await ctx.jobs.enqueue('register.relocate-incidents', { afterId: next })
    },
    'sync.expire-uploads': async () => {
      await sealAwaitingUploads(ctx.uploads.deps)
      await expireUploads(ctx.uploads.deps)
    },
    // The locker's jobs load sharp and friends: only when one runs, so start-up stays fast.
    'media.process': async (payload, job, signal) => (await import('./media/metadata-jobs.ts')).mediaJobHandlers(ctx)['media.process']!(payload, job, signal),
    'media.working-copy': async (payload, job, signal) => (await import('./media/metadata-jobs.ts')).mediaJobHandlers(ctx)['media.working-copy']!(payload, job, signal),
  }
}

/** How long a stored idempotent response is replayed: longer than any field device's retry horizon. */
export const IDEMPOTENCY_RETENTION_MS = 30 * 24 * 3600_000

/** How often `louder serve` queues `sync.expire-uploads`. */
export const UPLOAD_EXPIRY_INTERVAL_MS = 3600_000
