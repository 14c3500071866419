import type { FastifyInstance } from 'fastify'
import type { AppContext } from '../../app-context.ts'
import { registerAuthRoutes } from './auth.ts'
import { registerHealthRoutes } from './health.ts'
import { registerJobRoutes } from './jobs.ts'
import { registerObservationRoutes } from './observations.ts'
import { registerUserRoutes } from './users.ts'

/** Every route of the API. Each declares its policy action in `config.action`. */
export function registerRoutes(app: FastifyInstance, ctx: AppContext): void {
  registerHealthRoutes(app, ctx)
  registerAuthRoutes(app, ctx)
  registerUserRoutes(app, ctx)
  registerObservationRoutes(app, ctx)
  registerJobRoutes(app, ctx)
}
