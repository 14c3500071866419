import { type Static, Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import type { AppContext } from '../../app-context.ts'
import { readAccessSettings, updateAccessSettings } from '../../core/accounts/access-settings.ts'
import { idempotentWrite } from '../idempotency.ts'
import { IdempotencyHeaders, problemResponses } from '../schemas/common.ts'

const Fields = {
  requireTwoFactor: Type.Boolean({ description: 'require two-factor login of admins, editors and legal officers' }),
  sessionIdleMinutes: Type.Integer({ minimum: 5, maximum: 1440, description: 'a browser session ends after this long without a request' }),
  sessionAbsoluteHours: Type.Integer({ minimum: 1, maximum: 720, description: 'and after this long whatever happens (applies to sessions started from now on)' }),
}

const SettingsSchema = Type.Object(Fields, { title: 'AccessSettings' })

const SettingsPatch = Type.Object(
  { requireTwoFactor: Type.Optional(Fields.requireTwoFactor), sessionIdleMinutes: Type.Optional(Fields.sessionIdleMinutes), sessionAbsoluteHours: Type.Optional(Fields.sessionAbsoluteHours) },
  { additionalProperties: false, minProperties: 1 },
)

/** Access settings an admin controls: the two-factor policy and how long sessions last. */
export function registerSettingsRoutes(app: FastifyInstance, ctx: AppContext): void {
  const deps = { store: ctx.store, isUniqueViolation: ctx.db.isUniqueViolation, sealer: ctx.sealer }
  const secured = { security: [{ bearer: [] }], tags: ['accounts'] }

  app.get(
    '/api/v1/settings',
    { config: { action: 'settings.read' }, schema: { ...secured, summary: 'Access settings', response: { 200: SettingsSchema, ...problemResponses(401, 403) } } },
    async () => readAccessSettings(ctx.store.repos),
  )

  app.patch<{ Body: Static<typeof SettingsPatch> }>(
    '/api/v1/settings',
    {
      config: { action: 'settings.update' },
      schema: {
        ...secured,
        summary: 'Change access settings; fields left out keep their value',
        headers: IdempotencyHeaders,
        body: SettingsPatch,
        response: { 200: SettingsSchema, ...problemResponses(400, 401, 403, 409, 413, 415, 422) },
      },
    },
    async (req, reply) =>
      idempotentWrite(deps, req, reply, 200, async (repos) => {
        const before = await readAccessSettings(repos)
        const after = await updateAccessSettings(repos, req.actor, req.body)
        // Settings are not secret: the record keeps the old and new values of what changed.
        const changed = Object.fromEntries(Object.keys(req.body).filter((k) => before[k as keyof typeof before] !== after[k as keyof typeof after]).map((k) => [k, { from: before[k as keyof typeof before], to: after[k as keyof typeof after] }]))
        req.auditExtra = { resourceId: 'access', detail: { changed } }
        return after
      }),
  )
}
