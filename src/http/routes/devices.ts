import { type Static, Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import type { AppContext } from '../../app-context.ts'
import { DEVICE_STATUSES, type Device } from '../../core/evidence/device.ts'
import { approveDevice, getDevice, listDevices, MAX_DEVICE_NAME, requestDevice, revokeDevice } from '../../core/evidence/device.service.ts'
import { toRfc3339 } from '../../core/time.ts'
import { idempotentWrite } from '../idempotency.ts'
import { IdempotencyHeaders, PageOf, PageQuery, problemResponses, Strict, Timestamp } from '../schemas/common.ts'

const PublicKey = Type.String({ minLength: 1, maxLength: 100, description: 'standard base64 of the raw 32-byte Ed25519 public key (what `louder device init` prints)' })
// Loose here, exact in the use case: an unknown id is a 404 whatever its shape.
const KeyIdParams = Strict({ keyId: Type.String({ minLength: 1, maxLength: 64, description: 'the device key id: first 16 bytes of SHA-256 of the raw public key, hex' }) })
export const DeviceRequestBody = Strict({ publicKey: PublicKey, name: Type.String({ minLength: 1, maxLength: MAX_DEVICE_NAME, description: 'what people call the device (“Amal’s phone”)' }) })
const RevokeBody = Strict({ reason: Type.Union([Type.String({ maxLength: 1_000 }), Type.Null()], { description: 'why; recorded in the key.revoked custody event' }) })
const ListQuery = Strict({ status: Type.Optional(Type.Union(DEVICE_STATUSES.map((s) => Type.Literal(s)))), ...PageQuery })

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()])
const DeviceSchema = Type.Object(
  {
    keyId: Type.String(),
    publicKey: Type.String(),
    name: Type.String(),
    status: Type.Union(DEVICE_STATUSES.map((s) => Type.Literal(s))),
    requestedBy: Type.String(),
    requestedAt: Timestamp,
    registeredBy: Nullable(Type.String()),
    registeredAt: Nullable(Timestamp),
    registeredLogIndex: Nullable(Type.Integer({ description: 'custody log index of the key.registered event: the key vouches for captures logged after it' })),
    revokedBy: Nullable(Type.String()),
    revokedAt: Nullable(Timestamp),
    revokedLogIndex: Nullable(Type.Integer({ description: 'custody log index of the key.revoked event: captures logged after it are refused' })),
    revokeReason: Nullable(Type.String()),
  },
  { title: 'Device' },
)

const time = (ms: number | null) => (ms === null ? null : toRfc3339(ms))

export function presentDevice(d: Device): Static<typeof DeviceSchema> {
  return {
    keyId: d.keyId,
    publicKey: d.publicKey,
    name: d.name,
    status: d.status,
    requestedBy: d.requestedBy,
    requestedAt: toRfc3339(d.requestedAt),
    registeredBy: d.registeredBy,
    registeredAt: time(d.registeredAt),
    registeredLogIndex: d.registeredLogIndex,
    revokedBy: d.revokedBy,
    revokedAt: time(d.revokedAt),
    revokedLogIndex: d.revokedLogIndex,
    revokeReason: d.revokeReason,
  }
}

/** Capture devices' keys: requested by whoever carries the device, approved or revoked by editors and admins. */
export function registerDeviceRoutes(app: FastifyInstance, ctx: AppContext): void {
  const deps = { store: ctx.store, isUniqueViolation: ctx.db.isUniqueViolation, sealer: ctx.sealer }
  const tags = ['evidence']
  const security = [{ bearer: [] }]

  app.post<{ Body: Static<typeof DeviceRequestBody> }>(
    '/api/v1/devices',
    {
      config: { action: 'device.request' },
      schema: { tags, summary: "Request registration of a device's key (idempotent per key)", security, headers: IdempotencyHeaders, body: DeviceRequestBody, response: { 202: DeviceSchema, ...problemResponses(400, 401, 403, 409, 413, 415, 422) } },
    },
    async (req, reply) =>
      idempotentWrite(deps, req, reply, 202, async (repos) => {
        const device = await requestDevice(repos, req.actor, req.body)
        req.auditExtra = { ...req.auditExtra, resourceId: device.keyId }
        return presentDevice(device)
      }),
  )

  app.post<{ Params: Static<typeof KeyIdParams> }>(
    '/api/v1/devices/:keyId/approve',
    {
      config: { action: 'device.approve' },
      schema: { tags, summary: 'Register a requested key (a key.registered custody event)', security, headers: IdempotencyHeaders, params: KeyIdParams, response: { 200: DeviceSchema, ...problemResponses(400, 401, 403, 404, 409, 422) } },
    },
    async (req, reply) => {
      req.auditExtra = { ...req.auditExtra, resourceId: req.params.keyId }
      return idempotentWrite(deps, req, reply, 200, async (repos) => presentDevice(await approveDevice(repos, req.actor, req.params.keyId)))
    },
  )

  app.post<{ Params: Static<typeof KeyIdParams>; Body: Static<typeof RevokeBody> }>(
    '/api/v1/devices/:keyId/revoke',
    {
      config: { action: 'device.revoke' },
      schema: { tags, summary: 'Revoke a key (a key.revoked custody event): captures logged after it are refused', security, headers: IdempotencyHeaders, params: KeyIdParams, body: RevokeBody, response: { 200: DeviceSchema, ...problemResponses(400, 401, 403, 404, 409, 413, 415, 422) } },
    },
    async (req, reply) => {
      req.auditExtra = { ...req.auditExtra, resourceId: req.params.keyId }
      return idempotentWrite(deps, req, reply, 200, async (repos) => presentDevice(await revokeDevice(repos, req.actor, req.params.keyId, req.body.reason)))
    },
  )

  app.get<{ Querystring: Static<typeof ListQuery> }>(
    '/api/v1/devices',
    { config: { action: 'device.list' }, schema: { tags, summary: 'Device keys, by key id', security, querystring: ListQuery, response: { 200: PageOf(DeviceSchema), ...problemResponses(400, 401, 403) } } },
    async (req) => {
      const page = await listDevices(ctx.store.repos, req.actor, { limit: req.query.limit ?? 50, cursor: req.query.cursor, status: req.query.status })
      return { items: page.items.map(presentDevice), next: page.next }
    },
  )

  app.get<{ Params: Static<typeof KeyIdParams> }>(
    '/api/v1/devices/:keyId',
    { config: { action: 'device.list' }, schema: { tags, summary: 'One device key', security, params: KeyIdParams, response: { 200: DeviceSchema, ...problemResponses(400, 401, 403, 404) } } },
    async (req) => presentDevice(await getDevice(ctx.store.repos, req.actor, req.params.keyId)),
  )
}
