import { Readable } from 'node:stream'
import { type Static, Type } from '@sinclair/typebox'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { AppContext } from '../../app-context.ts'
import { ValidationError } from '../../core/errors.ts'
import { ingestMedia, MediaTooLargeError } from '../../core/evidence/ingest.ts'
import { custodyTrail, mediaItemOrThrow, readMediaMetadata, readOriginal } from '../../core/evidence/media-access.ts'
import type { MediaItem } from '../../core/evidence/media-item.ts'
import { toRfc3339 } from '../../core/time.ts'
import { auditOrigin, auditWrite } from '../audit.ts'
import { idempotentWrite } from '../idempotency.ts'
import { bodyTooLarge } from '../problem.ts'
import { problemResponses, Restricted, Strict } from '../schemas/common.ts'
import { unfinishedUploadHeaders } from './uploads.ts'

/** The most `POST /media` takes in one request; larger material comes by the CLI, or by resumable upload (tus). */
export const MEDIA_UPLOAD_LIMIT = 64 * 1024 * 1024

const Hash = Type.String({ pattern: '^[0-9a-f]{64}$', description: 'SHA-256 of the original bytes, lower-case hex' })
const ItemParams = Strict({ sha256: Hash })

const ItemSchema = Type.Object(
  {
    sha256: Hash,
    status: Type.Union([Type.Literal('new'), Type.Literal('existing')], { description: 'existing: the locker already held these bytes; nothing new was logged' }),
    mediaType: Type.String({ description: 'sniffed from the bytes, whatever the client said' }),
    byteLength: Type.Integer(),
    kind: Type.String(),
    receivedAt: Type.String({ format: 'date-time' }),
  },
  { title: 'MediaItem' },
)

const TrailSchema = Type.Object(
  {
    sha256: Hash,
    checkpoint: Type.Union([Type.Object({ size: Type.Integer(), root: Type.String(), note: Type.String() }), Type.Null()]),
    entries: Type.Array(
      Type.Object({
        index: Type.Integer(),
        leafHash: Type.String(),
        event: Type.Object({}, { additionalProperties: true }),
        inclusion: Type.Union([Type.Array(Type.String()), Type.Null()], { description: 'RFC 9162 inclusion path against `checkpoint`; null for events after it' }),
      }),
    ),
  },
  { title: 'MediaCustodyTrail' },
)

const MetadataSchema = Type.Object(
  {
    sha256: Hash,
    status: Type.String({ description: 'pending, done or failed (with `error`)' }),
    error: Type.Union([Type.String(), Type.Null()]),
    pixelWidth: Type.Union([Type.Integer(), Type.Null()]),
    pixelHeight: Type.Union([Type.Integer(), Type.Null()]),
    durationMs: Type.Union([Type.Integer(), Type.Null()]),
    metadata: Restricted(Type.Union([Type.Object({}, { additionalProperties: true }), Type.Null()])),
  },
  { title: 'MediaMetadata' },
)

function present(item: MediaItem, status: 'new' | 'existing'): Static<typeof ItemSchema> {
  return { sha256: item.sha256, status, mediaType: item.mediaType, byteLength: item.byteLength, kind: item.kind, receivedAt: toRfc3339(item.receivedAt) }
}

/** The expected hash a client may declare; anything but 64 lower-case hex digits is refused rather than ignored. */
function expectedHash(req: FastifyRequest): string | null {
  const value = req.headers['x-content-sha256']
  if (value === undefined) return null
  if (typeof value !== 'string' || !/^[0-9a-f]{64}$/.test(value)) throw new ValidationError([{ field: '/headers/x-content-sha256', message: 'must be a SHA-256 in lower-case hex' }])
  return value
}

/**
 * The evidence locker over HTTP. Uploads are sealed as they stream (never parsed, never decoded here: the web
 * process does not touch an original's content beyond hashing and encrypting it); reads of originals are
 * custody events.
 */
export function registerMediaRoutes(app: FastifyInstance, ctx: AppContext): void {
  const tags = ['evidence']
  const ingestDeps = ctx.ingest

  // Its own scope: here any content type is the evidence itself, streamed from the socket by the use case.
  void app.register(async (scoped) => {
    scoped.removeAllContentTypeParsers()
    scoped.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined))
    scoped.post(
      '/api/v1/media',
      {
        config: { action: 'media.ingest' },
        schema: {
          tags,
          summary: 'Seal a small file (up to 64 MiB) into the locker: the raw bytes as the body, any Content-Type; optional X-Content-SHA256 is checked. 201 when new; 200 with the same body when the locker already held these bytes',
          security: [{ bearer: [] }],
          response: { 201: ItemSchema, ...problemResponses(400, 401, 403, 409, 413) },
        },
      },
      async (req, reply) => {
        const declared = Number(req.headers['content-length'])
        if (Number.isFinite(declared) && declared > MEDIA_UPLOAD_LIMIT) throw tooLarge()
        const expectedSha256 = expectedHash(req)
        try {
          const result = await ingestMedia(ingestDeps, req.actor, { body: req.raw, expectedSha256, maxBytes: MEDIA_UPLOAD_LIMIT }, { inTransaction: (repos, item) => auditWrite(repos, req, 201, { id: item.sha256 }) })
          if (result.status === 'existing') req.auditExtra = { resourceId: result.item.sha256, detail: { existing: true } }
          // 200 (same body) is left out of the typed responses: the document lists one success per operation.
          return reply.code((result.status === 'new' ? 201 : 200) as 201).send(present(result.item, result.status))
        } catch (err) {
          if (err instanceof MediaTooLargeError) throw tooLarge()
          throw err
        }
      },
    )
  })

  app.head<{ Params: Static<typeof ItemParams> }>(
    '/api/v1/media/:sha256',
    { config: { action: 'media.exists' }, schema: { tags, summary: "Whether the locker holds an item (200) or not (404); no body. A 404 names the caller's unfinished upload of these bytes, if any (Louder-Upload-Location, Upload-Offset)", security: [{ bearer: [] }], params: ItemParams } },
    async (req, reply) => {
      const held = await ctx.store.repos.mediaItems.bySha256(req.params.sha256)
      if (held) return reply.code(200).send()
      // A client killed before its upload's creation answer arrived resumes it instead of sending it again.
      return reply.code(404).headers(await unfinishedUploadHeaders(ctx, req.actor, req.params.sha256)).send()
    },
  )

  app.get<{ Params: Static<typeof ItemParams> }>(
    '/api/v1/media/:sha256/content',
    {
      config: { action: 'media.content.read' },
      schema: { tags, summary: 'The original bytes (legal officers and admins); each read is a custody event and an audit record, with Louder-Reason as its purpose', security: [{ bearer: [] }], params: ItemParams, response: { 200: { description: 'the original bytes, as sniffed (Content-Type) and sealed', content: { 'application/octet-stream': { schema: Type.String({ format: 'binary' }) } } }, ...problemResponses(400, 401, 403, 404) } },
    },
    async (req, reply) => {
      // HEAD (Fastify answers it with this handler, after the same authorisation) reads nothing: no access to log.
      if (req.method === 'HEAD') {
        const held = await mediaItemOrThrow(ctx.store.repos, req.params.sha256)
        return reply.header('content-type', held.mediaType).header('content-length', String(held.byteLength)).send()
      }
      const { item, body } = await readOriginal({ store: ctx.store, blobs: ctx.blobs, sealer: ctx.envelope }, req.actor, req.params.sha256, auditOrigin(req))
      req.audited = true
      // An attachment in a sandbox: an SVG with script or an HTML polyglot must never run in the reader's browser.
      return reply
        .header('content-type', item.mediaType)
        .header('content-length', String(item.byteLength))
        .header('content-disposition', `attachment; filename="${item.sha256}"`)
        .header('content-security-policy', "sandbox; default-src 'none'")
        .header('x-content-sha256', item.sha256)
        .send(Readable.from(body))
    },
  )

  app.get<{ Params: Static<typeof ItemParams> }>(
    '/api/v1/media/:sha256/custody',
    { config: { action: 'media.custody.read' }, schema: { tags, summary: "The item's custody trail: its log entries, with inclusion proofs against the latest checkpoint", security: [{ bearer: [] }], params: ItemParams, response: { 200: TrailSchema, ...problemResponses(400, 401, 403, 404) } } },
    async (req) => {
      const trail = await custodyTrail(ctx.store.repos, req.actor, req.params.sha256)
      return {
        sha256: trail.item.sha256,
        checkpoint: trail.checkpoint ? { size: trail.checkpoint.size, root: trail.checkpoint.root.toString('hex'), note: trail.checkpoint.note } : null,
        entries: trail.entries,
      }
    },
  )

  app.get<{ Params: Static<typeof ItemParams> }>(
    '/api/v1/media/:sha256/metadata',
    { config: { action: 'media.metadata.read' }, schema: { tags, summary: 'Metadata extracted from the original (restricted: legal officers and admins; audited)', security: [{ bearer: [] }], params: ItemParams, response: { 200: MetadataSchema, ...problemResponses(400, 401, 403, 404) } } },
    async (req) => {
      const { item, metadata } = await readMediaMetadata({ store: ctx.store, blobs: ctx.blobs, sealer: ctx.envelope }, req.actor, req.params.sha256, auditOrigin(req))
      return { sha256: item.sha256, status: item.metadataStatus, error: item.metadataError, pixelWidth: item.pixelWidth, pixelHeight: item.pixelHeight, durationMs: item.durationMs, metadata }
    },
  )

  app.post<{ Params: Static<typeof ItemParams> }>(
    '/api/v1/media/:sha256/working-copy',
    {
      config: { action: 'media.working-copy.create' },
      schema: { tags, summary: 'Queue a re-encoded working copy of an item (a derivative of its own, logged); editors never work on originals', security: [{ bearer: [] }], params: ItemParams, response: { 202: Type.Object({ jobId: Type.String() }), ...problemResponses(400, 401, 403, 404) } },
    },
    async (req, reply) => {
      const actor = req.actor
      const requestedBy = actor.kind === 'user' ? { kind: 'user' as const, userId: actor.userId } : { kind: 'system' as const, name: actor.kind === 'system' ? actor.name : 'anonymous' }
      return idempotentWrite({ store: ctx.store, isUniqueViolation: ctx.db.isUniqueViolation, sealer: ctx.sealer }, req, reply, 202, async (repos) => {
        await mediaItemOrThrow(repos, req.params.sha256)
        return { jobId: await repos.mediaItems.queueWorkingCopy(req.params.sha256, requestedBy) }
      })
    },
  )
}

function tooLarge(): Error {
  return bodyTooLarge(`media over ${MEDIA_UPLOAD_LIMIT} bytes: send larger files with louder ingest`)
}
