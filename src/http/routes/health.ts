import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import type { AppContext } from '../../app-context.ts'

export function registerHealthRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.get(
    '/api/v1/health',
    {
      config: { action: 'health.read' },
      schema: {
        tags: ['platform'],
        summary: 'Is the server up, and on which database',
        response: {
          200: Type.Object({ status: Type.Literal('ok'), version: Type.String(), database: Type.Union([Type.Literal('sqlite'), Type.Literal('postgres')]), demo: Type.Boolean() }),
        },
      },
    },
    async () => ({ status: 'ok' as const, version: ctx.version, database: ctx.db.name, demo: (await ctx.store.repos.meta.get('demo_seeded_at')) !== null }),
  )

  app.get('/api/openapi.json', { config: { action: 'openapi.read' }, schema: { hide: true } }, async () => app.swagger())
}
