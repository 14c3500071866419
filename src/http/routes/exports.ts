import { createReadStream } from 'node:fs'
import { mkdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { type Static, Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import type { AppContext } from '../../app-context.ts'
import { NotFoundError } from '../../core/errors.ts'
import { uuidv7 } from '../../core/ids.ts'
import { exportCaseBag } from '../../court/export-bag.ts'
import { auditOrigin, auditWrite } from '../audit.ts'
import { problemResponses, Strict } from '../schemas/common.ts'

const Uuid = Type.String({ pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' })
const CreateBody = Strict({
  incidents: Type.Array(Uuid, { minItems: 1, maxItems: 50, description: 'the incidents whose court-consented material goes in' }),
  recipients: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { maxItems: 20, description: 'age recipients: the tar is then encrypted to them' })),
})
const IdParams = Strict({ id: Uuid })
const ExportSchema = Type.Object(
  {
    id: Type.String(),
    sha256: Type.String({ description: "SHA-256 of the bag's tagmanifest-sha256.txt, as logged in the export.created custody event" }),
    originals: Type.Integer(),
    derivatives: Type.Integer(),
    events: Type.Integer(),
    logIndex: Type.Integer({ description: 'custody log index of the export.created event' }),
    encrypted: Type.Boolean(),
    download: Type.String(),
  },
  { title: 'CourtExport' },
)

/**
 * Court exports for legal officers: made synchronously (a case is a few items; a bag streams from the locker to
 * disk), kept under DATA/exports/<id>.tar[.age] and downloaded by id. Both steps are legal's and admins' only.
 */
export function registerExportRoutes(app: FastifyInstance, ctx: AppContext): void {
  const tags = ['evidence']
  const security = [{ bearer: [] }]
  const dir = join(ctx.config.dataDir, 'exports')
  const fileOf = async (id: string) => {
    for (const name of [`${id}.tar`, `${id}.tar.age`]) {
      const path = join(dir, name)
      if (await stat(path).then(() => true, () => false)) return { path, name }
    }
    throw new NotFoundError('export', id)
  }

  app.post<{ Body: Static<typeof CreateBody> }>(
    '/api/v1/exports',
    {
      config: { action: 'court.export' },
      schema: { tags, summary: "Export incidents' court-consented evidence as a BagIt bag with every proof (a tar, optionally age-encrypted)", security, body: CreateBody, response: { 201: ExportSchema, ...problemResponses(400, 401, 403, 404, 413, 415) } },
    },
    async (req, reply) => {
      await mkdir(dir, { recursive: true, mode: 0o700 })
      const id = uuidv7()
      const encrypted = (req.body.recipients?.length ?? 0) > 0
      const out = join(dir, `${id}.tar${encrypted ? '.age' : ''}`)
      const r = await exportCaseBag(
        { store: ctx.store, blobs: ctx.blobs, sealer: ctx.sealer, streams: ctx.envelope, signer: await ctx.logKey.signer() },
        req.actor,
        auditOrigin(req),
        { incidents: req.body.incidents, out, tar: true, recipients: req.body.recipients, exportId: id },
      )
      // The use case wrote the audit record with the export.created event.
      req.audited = true
      return reply.code(201).send({ id, sha256: r.bagSha256, originals: r.originals, derivatives: r.derivatives, events: r.events, logIndex: r.logIndex, encrypted, download: `/api/v1/exports/${id}` })
    },
  )

  app.get<{ Params: Static<typeof IdParams> }>(
    '/api/v1/exports/:id',
    {
      config: { action: 'court.export' },
      schema: { tags, summary: 'Download a court export (the tar, or its age encryption)', security, params: IdParams, response: { 200: { description: 'the bag as a tar', content: { 'application/octet-stream': { schema: Type.String({ format: 'binary' }) } } }, ...problemResponses(400, 401, 403, 404) } },
    },
    async (req, reply) => {
      const { path, name } = await fileOf(req.params.id)
      // The bag holds decrypted originals: every download is recorded before the first byte goes out.
      await auditWrite(ctx.store.repos, req, 200, { id: req.params.id })
      return reply
        .header('content-type', 'application/octet-stream')
        .header('content-length', String((await stat(path)).size))
        .header('content-disposition', `attachment; filename="louder-export-${name}"`)
        .send(createReadStream(path))
    },
  )
}
