import type { IncomingMessage } from 'node:http'
import { type Static, Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import type { AppContext } from '../../app-context.ts'
import { DEFAULT_MATCH_DISTANCE, hashesOfHeldItem, MAX_MATCH_DISTANCE, matchMedia } from '../../core/matching/match.ts'
import { hashMedia } from '../../core/matching/hash-media.ts'
import { bodyTooLarge } from '../problem.ts'
import { problemResponses, Strict } from '../schemas/common.ts'

/** The largest query file taken in one request: a photo or a short clip. */
export const MATCH_UPLOAD_LIMIT = 64 * 1024 * 1024

const MaxDistance = Type.Integer({ minimum: 0, maximum: MAX_MATCH_DISTANCE, default: DEFAULT_MATCH_DISTANCE, description: 'Hamming distance out of 256 bits; 31 is PDQ’s usual threshold' })
const ByItem = Strict({ sha256: Type.String({ pattern: '^[0-9a-f]{64}$', description: 'an image or video already in the locker' }), maxDistance: Type.Optional(MaxDistance) })

const MatchSchema = Type.Object(
  {
    matches: Type.Array(
      Type.Object({
        mediaSha256: Type.String(),
        mediaType: Type.Union([Type.String(), Type.Null()]),
        kind: Type.Union([Type.String(), Type.Null()]),
        incidentId: Type.Union([Type.String(), Type.Null()]),
        distance: Type.Integer(),
        transform: Type.String({ description: 'the rotation or flip of the query that matched: original, rotate90, rotate180, rotate270, flipX, flipY, flipPlus1, flipMinus1' }),
        frameMs: Type.Union([Type.Integer(), Type.Null()], { description: 'where in the matched video (null: an image)' }),
        queryFrameMs: Type.Union([Type.Integer(), Type.Null()], { description: 'where in the query video (null: an image)' }),
      }),
    ),
    queryFrames: Type.Integer(),
    lowQualityFrames: Type.Integer({ description: 'query frames too featureless to match (PDQ quality ≤ 49), left out' }),
  },
  { title: 'MediaMatches' },
)

const tooLarge = () => bodyTooLarge(`A query file may be up to ${MATCH_UPLOAD_LIMIT / 1024 / 1024} MiB; put a larger one in the locker first and send {"sha256"}.`)

async function readLimited(stream: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of stream) {
    size += (chunk as Buffer).length
    if (size > limit) {
      stream.destroy()
      throw tooLarge()
    }
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks)
}

/**
 * `POST /api/v1/match`: the same scene across the locker. The body is either JSON naming an item already
 * held, or the query image or video itself (any other Content-Type), which is hashed here and never kept.
 */
export function registerMatchRoutes(app: FastifyInstance, ctx: AppContext): void {
  void app.register(async (scoped) => {
    // JSON keeps the app's strict parser; any other type is the query file, read by the handler.
    scoped.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined))
    scoped.post<{ Body: Static<typeof ByItem> | undefined; Querystring: { maxDistance?: number } }>(
      '/api/v1/match',
      {
        config: { action: 'media.match' },
        schema: {
          tags: ['evidence'],
          summary: 'Find the same image or video frame across the locker (PDQ, rotations and flips included), best first',
          description:
            'Send `{"sha256": …}` for an item in the locker, or the query image or video itself as the body with its own Content-Type (up to 64 MiB; hashed, not kept). Partners see only items of published incidents.',
          security: [{ bearer: [] }],
          querystring: Strict({ maxDistance: Type.Optional(MaxDistance) }),
          body: { content: { 'application/json': { schema: ByItem } } },
          response: { 200: MatchSchema, ...problemResponses(400, 401, 403, 404, 409, 413, 415) },
        },
      },
      async (req) => {
        const index = await ctx.matchIndex.current()
        const repos = ctx.store.repos
        if (req.body) {
          const query = await hashesOfHeldItem(repos, req.actor, req.body.sha256)
          return matchMedia(repos, index, req.actor, query, { maxDistance: req.body.maxDistance ?? req.query.maxDistance, excludeSha256: req.body.sha256 })
        }
        const declared = Number(req.headers['content-length'])
        if (Number.isFinite(declared) && declared > MATCH_UPLOAD_LIMIT) throw tooLarge()
        const bytes = await readLimited(req.raw, MATCH_UPLOAD_LIMIT)
        const query = await hashMedia({ decoder: await ctx.mediaDecoder() }, bytes)
        return matchMedia(repos, index, req.actor, query, { maxDistance: req.query.maxDistance })
      },
    )
  })
}
