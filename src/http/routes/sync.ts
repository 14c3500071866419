import { type Static, type TSchema, Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import type { AppContext } from '../../app-context.ts'
import { auditEntry } from '../../core/audit/audit.ts'
import { ValidationError } from '../../core/errors.ts'
import { parseCaptureSubmission, registerCapture, reserveCaptureSealing } from '../../core/evidence/capture.service.ts'
import { requestDevice } from '../../core/evidence/device.service.ts'
import { createObservation, hasRestrictedInput } from '../../core/observations/observation.service.ts'
import { MAX_SYNC_ITEMS, runSyncBatch, SYNC_KINDS, type SyncHandlers, SyncKeyReusedError, UnknownSyncKindError } from '../../core/sync/batch.ts'
import { auditOrigin } from '../audit.ts'
import { type AjvError, IdempotencyKeyReusedError, problem, type ProblemDocument, schemaFieldErrors, toProblem } from '../problem.ts'
import { Problem, problemResponses, Restricted, Strict } from '../schemas/common.ts'
import { validatorCompiler } from '../validation.ts'
import { CaptureBody } from './captures.ts'
import { DeviceRequestBody, presentDevice } from './devices.ts'
import { ObservationBody, observationInput, presentObservation } from './observations.ts'

const SyncItem = Strict({
  // A string, not an enum: an item of a kind this server does not know (a newer client) fails alone.
  kind: Type.String({ minLength: 1, maxLength: 50, description: `one of ${SYNC_KINDS.join(', ')}` }),
  idempotencyKey: Type.String({ minLength: 1, maxLength: 255, pattern: '^[\\x21-\\x7e]+$', description: "the item's own key, scoped to the caller and the kind: sent again, the item answers as the first time" }),
  body: Restricted(Type.Object({}, { additionalProperties: true, description: 'what POST /observations, POST /captures or POST /devices takes, checked by the same schema' })),
})
const BatchBody = Strict({ items: Type.Array(SyncItem, { minItems: 1, maxItems: MAX_SYNC_ITEMS }) })

const ItemResult = Type.Object(
  {
    idempotencyKey: Type.String(),
    status: Type.Integer({ description: 'what the single-item endpoint would have answered: 201 (or 200, a capture already logged; 202, a device request), or a 4xx/5xx' }),
    replayed: Type.Optional(Type.Boolean({ description: 'true when the key was seen before: the stored answer, nothing written again' })),
    body: Type.Optional(Type.Unknown({ description: 'on success: the observation, capture receipt or device, as the single-item endpoint answers' })),
    problem: Type.Optional(Problem),
  },
  { title: 'SyncItemResult' },
)
const BatchResult = Type.Object({ results: Type.Array(ItemResult, { description: 'one per item, in the order sent' }) }, { title: 'SyncBatchResult' })

type AjvCheck = ((data: unknown) => boolean) & { errors?: AjvError[] | null }

/** An item's body checked by the single-item endpoint's own schema, errors pointing into the batch. */
function checker<T extends TSchema>(schema: T): (body: unknown, at: string) => Static<T> {
  const check = validatorCompiler()({ schema, method: 'POST', url: '/api/v1/sync/batch', httpPart: 'body' }) as unknown as AjvCheck
  return (body, at) => {
    if (check(body)) return body as Static<T>
    throw new ValidationError(schemaFieldErrors(check.errors ?? [], at), 'The item does not match the schema; see `errors`.')
  }
}

/** An item's error as the single-item endpoint would answer it, its field pointers into this request. */
function itemProblem(err: unknown, index: number): ProblemDocument {
  const at = `/body/items/${index}`
  if (err instanceof UnknownSyncKindError) return problem(400, err.code, err.message, [{ field: `${at}/kind`, message: 'is not a kind this server takes' }])
  if (err instanceof SyncKeyReusedError) return toProblem(new IdempotencyKeyReusedError())
  if (err instanceof ValidationError) return toProblem(new ValidationError(err.errors.map((e) => (e.field.startsWith('/') ? e : { ...e, field: `${at}/body/${e.field}` })), err.message))
  return toProblem(err)
}

/** Field sync: many small writes in one round trip over a slow link, each acknowledged on its own. */
export function registerSyncRoutes(app: FastifyInstance, ctx: AppContext): void {
  const deps = { store: ctx.store, sealer: ctx.sealer, isUniqueViolation: ctx.db.isUniqueViolation }
  const checkObservation = checker(ObservationBody)
  const checkCapture = checker(CaptureBody)
  const checkDevice = checker(DeviceRequestBody)

  app.post<{ Body: Static<typeof BatchBody> }>(
    '/api/v1/sync/batch',
    {
      config: { action: 'sync.batch' },
      schema: {
        tags: ['sync'],
        summary: `Observations, signed capture records and device requests, up to ${MAX_SYNC_ITEMS} at once: each its own write with its own idempotency key and its own answer, in order`,
        security: [{ bearer: [] }],
        body: BatchBody,
        response: { 200: BatchResult, ...problemResponses(400, 401, 403, 413, 415) },
      },
    },
    async (req, reply) => {
      const actor = req.actor
      const status = 200
      const handlers: SyncHandlers = {
        observation: async (body, i) => {
          const at = `/body/items/${i}/body`
          const input = observationInput(checkObservation(body, at), at)
          const restricted = hasRestrictedInput(input)
          // As POST /observations: the data key is made before the transaction, which on SQLite holds the only connection.
          const sealing = restricted ? { sealer: ctx.sealer, dataKeyId: await ctx.sealer.reserveDataKey() } : null
          return {
            status: 201,
            secretRequest: restricted,
            write: async (repos) => {
              const o = presentObservation(await createObservation(repos, actor, input, sealing))
              return { body: o, resourceId: o.id }
            },
          }
        },
        capture: async (body, i) => {
          const submission = checkCapture(body, `/body/items/${i}/body`)
          const { record } = parseCaptureSubmission(submission)
          const known = (await ctx.store.repos.captures.get(record.sha256)) !== undefined
          const sealing = await reserveCaptureSealing(ctx.sealer)
          return {
            status: known ? 200 : 201,
            secretRequest: false,
            write: async (repos) => {
              const { created: _, ...receipt } = await registerCapture(repos, sealing, actor, submission)
              return { body: receipt, resourceId: receipt.sha256 }
            },
          }
        },
        device: async (body, i) => {
          const input = checkDevice(body, `/body/items/${i}/body`)
          return {
            status: 202,
            secretRequest: false,
            write: async (repos) => {
              const d = presentDevice(await requestDevice(repos, actor, input))
              return { body: d, resourceId: d.keyId }
            },
          }
        },
      }

      const origin = auditOrigin(req)
      const outcomes = await runSyncBatch(deps, actor, req.body.items, handlers, origin, status)
      const results: Static<typeof ItemResult>[] = outcomes.map((o) => {
        if ('error' in o) {
          const doc = itemProblem(o.error, o.index)
          if (doc.status >= 500) req.log.error({ err: { name: (o.error as Error)?.name, message: (o.error as Error)?.message, stack: (o.error as Error)?.stack }, item: o.index }, 'sync item failed')
          return { idempotencyKey: o.idempotencyKey, status: doc.status, problem: doc }
        }
        return { idempotencyKey: o.idempotencyKey, status: o.status, body: o.body, ...(o.replayed ? { replayed: true } : {}) }
      })

      // Every written item has its record already (in its own transaction). Refused items get one record between
      // them; a batch that only replayed is recorded by the audit hook, as any replay is.
      const wrote = outcomes.filter((o) => !('error' in o) && !o.replayed).length
      const failed = results.flatMap((r, item) => (r.problem ? [{ item, kind: outcomes[item]!.kind.slice(0, 50), status: r.status, code: r.problem.code }] : []))
      if (failed.length > 0) {
        await ctx.store.repos.audit.append(auditEntry(actor, 'sync.batch', 'failed', origin, { status, resourceType: 'sync', detail: { items: results.length, wrote, failed } }))
        req.audited = true
      } else if (wrote > 0) req.audited = true
      else req.auditExtra = { ...req.auditExtra, detail: { items: results.length, replayed: results.length } }

      reply.code(status)
      return { results }
    },
  )
}
