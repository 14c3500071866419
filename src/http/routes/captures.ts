import { type Static, Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import type { AppContext } from '../../app-context.ts'
import { parseCaptureSubmission, registerCapture, reserveCaptureSealing } from '../../core/evidence/capture.service.ts'
import { CAPTURE_SCHEMA } from '../../core/evidence/capture-record.ts'
import { idempotentWrite } from '../idempotency.ts'
import { IdempotencyHeaders, problemResponses, Restricted, Strict } from '../schemas/common.ts'

const Sha256 = Type.String({ pattern: '^[0-9a-f]{64}$', description: 'SHA-256, lower-case hex' })

// The record is checked field by field in the core (parseCaptureRecord), the one place its rules live, so the
// schema here only says it is an object; it is restricted as a whole (location, notes, collector).
export const CaptureBody = Strict({
  record: Restricted(Type.Object({}, { additionalProperties: true, description: `a ${CAPTURE_SCHEMA} version 1 capture record; every field present (null when unknown), no others` })),
  signature: Type.String({ maxLength: 200, description: "base64 Ed25519 signature by the device's registered key over the record's RFC 8785 canonical JSON" }),
})

const ReceiptSchema = Type.Object(
  {
    sha256: Sha256,
    recordSha256: { ...Sha256, description: "SHA-256 of the record's canonical JSON, as the custody event names it" },
    logIndex: Type.Integer({ description: 'the capture.registered entry in the custody log' }),
    leafHash: Sha256,
  },
  // The API documents one success status per operation; a repeat is the same receipt with 200 instead of 201.
  { title: 'CaptureReceipt', description: 'Logged now (201), or already logged: the same record again answers 200 with the first receipt' },
)

/** Hash first: a signed capture record is logged before its media arrives. */
export function registerCaptureRoutes(app: FastifyInstance, ctx: AppContext): void {
  const deps = { store: ctx.store, isUniqueViolation: ctx.db.isUniqueViolation, sealer: ctx.sealer }

  app.post<{ Body: Static<typeof CaptureBody> }>(
    '/api/v1/captures',
    {
      config: { action: 'capture.register' },
      schema: {
        tags: ['evidence'],
        summary: 'Log a signed capture record (201; the same record again: 200, nothing new logged)',
        security: [{ bearer: [] }],
        headers: IdempotencyHeaders,
        body: CaptureBody,
        response: { 201: ReceiptSchema, ...problemResponses(400, 401, 403, 409, 413, 415, 422) },
      },
    },
    async (req, reply) => {
      // Checked before a data key is reserved: a malformed submission stores nothing at all.
      const { record } = parseCaptureSubmission(req.body)
      // The answer's status is decided before the transaction, so the audit record says the same; a race with
      // an identical submission only turns its 200 into a 201 with the same body.
      const known = (await ctx.store.repos.captures.get(record.sha256)) !== undefined
      const sealing = await reserveCaptureSealing(ctx.sealer)
      return idempotentWrite(deps, req, reply, known ? 200 : 201, async (repos) => {
        const { created: _, ...receipt } = await registerCapture(repos, sealing, req.actor, req.body)
        req.auditExtra = { ...req.auditExtra, resourceId: receipt.sha256 }
        return receipt
      })
    },
  )
}
