/**
 * The locker's jobs: metadata and PDQ hashes for each new item (`media.process`, queued by the ingest in its
 * own transaction) and working copies for editors (`media.working-copy`). They run in workers, so the web
 * process never decodes an original.
 */
import type { AppContext } from '../app-context.ts'
import { makeWorkingCopy } from '../core/evidence/media-derivative.ts'
import { processMediaItem } from '../core/evidence/media-processing.ts'
import { PermanentJobError } from '../jobs/worker.ts'
import type { JobHandlers } from '../jobs/worker.ts'
import { makeMediaDecoder } from './media-decoder.ts'
import { makeWorkingCopyMaker } from './media-working-copy.ts'
import { makeMetadataExtractor } from './metadata-extractor.ts'
import { makePlainWorkspace } from './metadata-workspace.ts'
import { MediaError } from '../core/matching/media-error.ts'

declare module '../jobs/job-types.ts' {
  interface JobTypes {
    /** Extract an item's metadata (sealed) and PDQ hashes. */
    'media.process': { sha256: string; mediaType: string }
    /** Make a re-encoded working copy of an item for the user who asked (an actor key). */
    'media.working-copy': { sha256: string; requestedBy: { kind: 'user'; userId: string } | { kind: 'system'; name: string } }
  }
}

export function mediaJobHandlers(ctx: AppContext): JobHandlers {
  const workspace = makePlainWorkspace()
  const deps = ctx.ingest
  return {
    'media.process': async ({ sha256 }) => {
      await processMediaItem({ ...deps, extractor: makeMetadataExtractor(), workspace, decoder: makeMediaDecoder() }, sha256)
    },
    'media.working-copy': async ({ sha256, requestedBy }) => {
      const operator = requestedBy.kind === 'user' ? { kind: 'user' as const, userId: requestedBy.userId, roles: [], orgId: null, via: 'token' as const, tokenId: null, sessionId: null, twoFactorPending: false } : requestedBy
      try {
        await makeWorkingCopy({ ...deps, signer: await ctx.logKey.signer(), workspace, maker: makeWorkingCopyMaker() }, operator, sha256)
      } catch (err) {
        // Hostile or unreadable media will not improve on a retry.
        if (err instanceof MediaError) throw new PermanentJobError(`${err.code}: ${err.message}`)
        throw err
      }
    },
  }
}
