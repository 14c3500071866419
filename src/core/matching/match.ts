import type { Actor } from '../access/actor.ts'
import { authorize } from '../access/policy.ts'
import { RuleError, throwNotFound, ValidationError } from '../errors.ts'
import type { Repositories } from '../ports/repositories.ts'
import type { DihedralTransform } from './dihedral.ts'
import type { HammingIndex } from './hamming-index.ts'
import type { MediaHashes } from './hash-media.ts'
import { MAX_UNMATCHABLE_QUALITY } from './pdq.ts'

/** PDQ's usual threshold for "the same picture": edits, crops and re-encodes stay within it. */
export const DEFAULT_MATCH_DISTANCE = 31
export const MAX_MATCH_DISTANCE = 64
export const MAX_MATCHES = 500

export interface MediaMatch {
  mediaSha256: string
  mediaType: string | null
  kind: string | null
  incidentId: string | null
  distance: number
  /** The rotation or flip of the query that matched. */
  transform: DihedralTransform
  /** Where in the matched video the frame is (null for an image). */
  frameMs: number | null
  /** Where in the query video the matching frame is (null for an image). */
  queryFrameMs: number | null
}

export interface MatchAnswer {
  matches: MediaMatch[]
  /** Query frames too featureless to match (quality ≤ 49), left out as PDQ advises. */
  lowQualityFrames: number
  queryFrames: number
}

/**
 * Everything in the locker within `maxDistance` of a query's hashes (an uploaded image or video, or an item
 * already held), best first, one entry per matched item and frame. What a caller learns follows its role:
 * the desk (researchers, editors, legal officers, admins) sees every item; a partner sees only items that
 * belong to a published incident, never that restricted material exists.
 */
export async function matchMedia(
  repos: Repositories,
  index: HammingIndex,
  actor: Actor,
  query: MediaHashes,
  options: { maxDistance?: number; excludeSha256?: string } = {},
): Promise<MatchAnswer> {
  authorize(actor, 'media.match')
  const maxDistance = options.maxDistance ?? DEFAULT_MATCH_DISTANCE
  if (!Number.isInteger(maxDistance) || maxDistance < 0 || maxDistance > MAX_MATCH_DISTANCE)
    throw new ValidationError([{ field: 'maxDistance', message: `must be an integer from 0 to ${MAX_MATCH_DISTANCE}` }])
  const best = new Map<string, MediaMatch>()
  let lowQualityFrames = 0
  for (const [n, frame] of query.frames.entries()) {
    if (frame.quality <= MAX_UNMATCHABLE_QUALITY) {
      lowQualityFrames++
      continue
    }
    // An image's eight rotations and flips are known; a video frame is matched as it is.
    const hash = n === 0 && query.dihedral ? query.dihedral : frame.hash
    for (const m of index.query(hash, maxDistance, { dihedral: typeof hash !== 'string' })) {
      if (m.mediaSha256 === options.excludeSha256) continue
      const key = `${m.mediaSha256}\u0000${m.frameMs ?? ''}`
      const seen = best.get(key)
      if (!seen || m.distance < seen.distance)
        best.set(key, { mediaSha256: m.mediaSha256, mediaType: null, kind: null, incidentId: null, distance: m.distance, transform: m.transform, frameMs: m.frameMs, queryFrameMs: frame.frameMs })
    }
  }
  const ranked = [...best.values()].sort((a, b) => a.distance - b.distance || a.mediaSha256.localeCompare(b.mediaSha256) || (a.frameMs ?? 0) - (b.frameMs ?? 0))
  const desk = actor.kind === 'system' || (actor.kind === 'user' && actor.roles.some((r) => r !== 'partner'))
  const matches: MediaMatch[] = []
  for (const m of ranked) {
    if (matches.length === MAX_MATCHES) break
    const item = await repos.mediaItems.bySha256(m.mediaSha256)
    if (!item) continue
    if (!desk) {
      const incident = item.incidentId ? await repos.incidents.byId(item.incidentId) : null
      if (incident?.status !== 'published') continue
    }
    matches.push({ ...m, mediaType: item.mediaType, kind: item.kind, incidentId: item.incidentId })
  }
  return { matches, lowQualityFrames, queryFrames: query.frames.length }
}

/** The stored hashes of an item in the locker, as a query (its own entry is left out of the answer). */
export async function hashesOfHeldItem(repos: Repositories, actor: Actor, sha256: string): Promise<MediaHashes> {
  authorize(actor, 'media.match')
  const item = (await repos.mediaItems.bySha256(sha256)) ?? throwNotFound('media item', sha256)
  const frames = await repos.mediaHashes.forMedia(sha256)
  if (frames.length === 0)
    throw new RuleError('not_hashed_yet', `The locker holds ${sha256} (${item.mediaType}) but has no PDQ hash of it yet: hashing runs in the background after ingest, or the item is not an image or video.`)
  return { kind: frames[0]!.frameMs === null ? 'image' : 'video', frames: frames.map((f) => ({ frameMs: f.frameMs, hash: f.hash, quality: f.quality })) }
}
