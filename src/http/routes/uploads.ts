import { Readable } from 'node:stream'
import { Type } from '@sinclair/typebox'
import { Server } from '@tus/server'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { AppContext } from '../../app-context.ts'
import { type Actor, actorKey } from '../../core/access/actor.ts'
import { LouderError, NotFoundError } from '../../core/errors.ts'
import { MediaHashMismatchError } from '../../core/evidence/ingest.ts'
import { uuidv7, UUID_PATTERN } from '../../core/ids.ts'
import { auditEntry } from '../../core/audit/audit.ts'
import { checkUploadDeclaration, logDeclaredCapture, ownedUpload, sealUpload, type Upload, UploadTooLargeError } from '../../core/sync/uploads.ts'
import { auditOrigin, auditWrite } from '../audit.ts'
import { problem, sendProblem } from '../problem.ts'
import { problemResponses, Strict } from '../schemas/common.ts'
import { EncryptedFileStore, OWNER_KEY } from '../tus/encrypted-file-store.ts'

export const UPLOADS_PATH = '/api/v1/uploads'
/** Names the item an upload became, on the answer that completed it (and on HEAD and retries after). */
export const MEDIA_SHA256_HEADER = 'louder-media-sha256'
/** On a creation that carried a capture record: the record's SHA-256, once it is logged for these bytes. */
export const CAPTURE_RECORD_HEADER = 'louder-capture-record'

const Params = Strict({ id: Type.String({ pattern: UUID_PATTERN, description: 'the upload id, from the Location of its creation' }) })

/** What a tus request carries into the hooks: the Fastify request (its actor) and what went wrong in our code. */
interface Pending {
  req: FastifyRequest
  error?: unknown
  /** The creation logged the capture record it carried (or found it logged): its hash, for the answer. */
  captureRecord?: string
}

/** tus's own refusals, as problem codes. */
const TUS_CODES: Record<number, string> = {
  400: 'bad_upload_request',
  403: 'forbidden',
  404: 'not_found',
  409: 'upload_offset_mismatch',
  410: 'upload_expired',
  412: 'tus_resumable_required',
  413: 'upload_too_large',
  415: 'unsupported_media_type',
  460: 'checksum_mismatch',
}

/**
 * tus 1.0 resumable uploads (creation, creation-with-upload, termination, expiration), docs/field-sync.md.
 * @tus/server speaks the protocol over Web Requests; our DataStore (src/http/tus/encrypted-file-store.ts)
 * keeps the bytes encrypted as they arrive. An upload belongs to whoever created it (others get 404). The
 * PATCH or POST that brings the last byte answers only after the locker sealed the bytes (`sealUpload`), with
 * `Louder-Media-Sha256`; bytes that do not hash to the declared SHA-256 get 422 `hash_mismatch` and are gone.
 */
export function registerUploadRoutes(app: FastifyInstance, ctx: AppContext): void {
  const { deps, limits, partials } = ctx.uploads
  const pending = new WeakMap<Request, Pending>()
  // One seal at a time per upload in this process; across processes the locker's primary key settles it.
  const sealing = new Map<string, Promise<{ mediaSha256: string }>>()

  const seal = (upload: Upload, actor: Actor, req: FastifyRequest | null) => {
    let running = sealing.get(upload.id)
    if (!running) {
      running = sealUpload(deps, actor, upload, req ? (repos) => auditWrite(repos, req, 204, { id: upload.id }) : undefined).finally(() => sealing.delete(upload.id))
      sealing.set(upload.id, running)
    }
    return running
  }

  const tus = new Server({
    path: UPLOADS_PATH,
    datastore: new EncryptedFileStore({ store: ctx.store, partials, reserveDataKey: () => ctx.envelope.reserveDataKey(), destroyDataKey: (id) => ctx.envelope.destroyDataKey(id), limits }),
    maxSize: limits.maxBytes,
    relativeLocation: true,
    namingFunction: () => uuidv7(),
    // Browsers are not served cross-origin: no origin is trusted.
    allowedOrigins: () => false,
    async onUploadCreate(req, upload) {
      const p = pending.get(req)!
      try {
        const declared = checkUploadDeclaration(upload.metadata, upload.size, limits)
        // The bytes' capture record came with them: logged before the upload exists, audited as POST /captures is.
        if (declared.capture) {
          const logged = await logDeclaredCapture(ctx, p.req.actor, declared.capture, (repos, receipt) =>
            repos.audit.append(
              auditEntry(p.req.actor, 'capture.register', 'ok', auditOrigin(p.req), {
                status: receipt.created ? 201 : 200,
                resourceType: 'capture',
                resourceId: receipt.sha256,
                detail: { via: 'upload-metadata' },
              }),
            ),
          )
          if (logged !== null) p.captureRecord = logged
          // The upload's own audit record says its bytes came with their record.
          p.req.auditExtra = { ...p.req.auditExtra, detail: { ...p.req.auditExtra?.detail, captureRecord: logged ?? 'another record stands' } }
        }
        const metadata: Record<string, string> = { sha256: declared.sha256, [OWNER_KEY]: actorKey(p.req.actor) }
        if (declared.filename !== null) metadata.filename = declared.filename
        if (declared.incidentId !== null) metadata.incidentId = declared.incidentId
        return { metadata }
      } catch (err) {
        p.error = err
        throw { status_code: 400, body: 'refused' }
      }
    },
    async onUploadFinish(req, upload) {
      const p = pending.get(req)!
      try {
        const row = await ctx.store.repos.uploads.get(upload.id)
        if (!row) throw new NotFoundError('upload', upload.id)
        const { mediaSha256 } = await seal(row, p.req.actor, p.req)
        return { headers: { 'Louder-Media-Sha256': mediaSha256 } }
      } catch (err) {
        p.error = err
        throw { status_code: 500, body: 'refused' }
      }
    },
  })

  /** Hands the request to tus and turns its answer into ours: errors as problem documents, headers kept. */
  async function viaTus(req: FastifyRequest, reply: FastifyReply, extraHeaders: Record<string, string> = {}) {
    const web = toWebRequest(req)
    const p: Pending = { req }
    pending.set(web, p)
    const res = await tus.handleWeb(web)
    reply.header('tus-resumable', '1.0.0')
    if (p.error !== undefined) return sendError(reply, p.error)
    if (res.status >= 400) {
      const detail = (await res.text()).trim()
      if (res.status >= 500) req.log.error({ status: res.status, detail }, 'upload failed')
      return sendProblem(reply, res.status >= 500 ? problem(500, 'internal', 'Something went wrong on the server; it has been logged.') : problem(res.status, TUS_CODES[res.status] ?? 'bad_upload_request', detail))
    }
    for (const [name, value] of res.headers) if (name !== 'content-length' && name !== 'connection') reply.header(name, value)
    for (const [name, value] of Object.entries(extraHeaders)) reply.header(name, value)
    if (p.captureRecord) reply.header(CAPTURE_RECORD_HEADER, p.captureRecord)
    return reply.code(res.status).send()
  }

  function sendError(reply: FastifyReply, err: unknown) {
    if (err instanceof MediaHashMismatchError) return sendProblem(reply, problem(422, err.code, err.message))
    if (err instanceof UploadTooLargeError) return sendProblem(reply, problem(413, err.code, err.message))
    if (err instanceof LouderError) throw err
    throw err instanceof Error ? err : new Error('upload failed')
  }

  /** The caller's own upload, or 404 for anyone else's and for none. */
  async function own(req: FastifyRequest<{ Params: { id: string } }>): Promise<Upload> {
    const upload = ownedUpload(await ctx.store.repos.uploads.get(req.params.id), req.actor)
    if (!upload) throw new NotFoundError('upload', req.params.id)
    return upload
  }

  const tags = ['sync']
  const security = [{ bearer: [] }]
  const tusNote = 'tus 1.0 (Tus-Resumable: 1.0.0); see docs/field-sync.md'

  // Its own scope: the body is the file itself, streamed by tus from the socket, never parsed.
  void app.register(async (scoped) => {
    scoped.removeAllContentTypeParsers()
    scoped.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined))

    scoped.post(
      UPLOADS_PATH,
      {
        config: { action: 'media.ingest' },
        schema: {
          tags,
          summary: `Start a resumable upload (${tusNote}): Upload-Length, and Upload-Metadata with sha256 (required), filename, incidentId, capture (the bytes' signed capture record as JSON, logged first as POST /captures would); optionally the first bytes as application/offset+octet-stream. 201 with Location and Upload-Offset; with the whole file, sealed before the answer (Louder-Media-Sha256)`,
          security,
          response: { 201: { type: 'null', description: 'Created: Location names the upload; no body. Louder-Capture-Record: the SHA-256 of the capture record it carried, once logged', headers: { location: { type: 'string' }, 'upload-offset': { type: 'string' }, 'louder-capture-record': { type: 'string' } } }, ...problemResponses(400, 401, 403, 409, 412, 413, 415, 422) },
        },
      },
      (req, reply) => viaTus(req, reply),
    )

    scoped.head<{ Params: { id: string } }>(
      `${UPLOADS_PATH}/:id`,
      { config: { action: 'media.ingest' }, schema: { tags, summary: `Where an upload stands (${tusNote}): Upload-Offset, Upload-Length; Louder-Media-Sha256 once sealed`, security, params: Params } },
      async (req, reply) => {
        let upload = await own(req)
        // All the bytes, no seal: the server stopped between the last byte and the seal. Seal it now.
        if (upload.status === 'receiving' && upload.offset === upload.length) {
          try {
            await seal(upload, req.actor, null)
          } catch (err) {
            return sendError(reply.header('tus-resumable', '1.0.0'), err)
          }
          upload = await own(req)
        }
        return viaTus(req, reply, upload.mediaSha256 ? { [MEDIA_SHA256_HEADER]: upload.mediaSha256 } : {})
      },
    )

    scoped.patch<{ Params: { id: string } }>(
      `${UPLOADS_PATH}/:id`,
      {
        config: { action: 'media.ingest' },
        schema: {
          tags,
          summary: `Send more bytes (${tusNote}): Upload-Offset must equal the server's, body application/offset+octet-stream. 204 with the new Upload-Offset; the last byte is answered after the seal, with Louder-Media-Sha256 (422 hash_mismatch: the bytes are discarded)`,
          security,
          params: Params,
          response: { 204: { type: 'null', description: 'Received: Upload-Offset says how many bytes the server holds' }, ...problemResponses(400, 401, 403, 404, 409, 410, 413, 415, 422) },
        },
      },
      async (req, reply) => {
        await own(req)
        return viaTus(req, reply)
      },
    )

    scoped.delete<{ Params: { id: string } }>(
      `${UPLOADS_PATH}/:id`,
      {
        config: { action: 'media.ingest' },
        schema: { tags, summary: `Abandon an upload (${tusNote}, termination): its bytes are discarded`, security, params: Params, response: { 204: { type: 'null', description: 'Terminated' }, ...problemResponses(400, 401, 403, 404, 412) } },
      },
      async (req, reply) => {
        await own(req)
        return viaTus(req, reply)
      },
    )
  })
}

/** The Fastify request as the Web Request @tus/server reads; the body streams from the socket as it arrives. */
function toWebRequest(req: FastifyRequest): Request {
  const headers = new Headers()
  for (const [name, value] of Object.entries(req.headers)) {
    if (typeof value === 'string') headers.set(name, value)
    else if (Array.isArray(value)) for (const v of value) headers.append(name, v)
  }
  const body = req.method === 'POST' || req.method === 'PATCH' ? (Readable.toWeb(req.raw) as ReadableStream<Uint8Array>) : null
  return new Request(`http://louder.invalid${req.url}`, { method: req.method, headers, body, duplex: 'half' } as RequestInit)
}

/** `HEAD /media/{sha256}` on a miss: where the caller's unfinished upload of these bytes stands, if any. */
export async function unfinishedUploadHeaders(ctx: AppContext, actor: Actor, sha256: string): Promise<Record<string, string>> {
  const upload = await ctx.store.repos.uploads.unfinishedFor(actorKey(actor), sha256)
  if (!upload || upload.expiresAt <= Date.now()) return {}
  return { 'louder-upload-location': `${UPLOADS_PATH}/${upload.id}`, 'upload-offset': String(upload.offset) }
}
