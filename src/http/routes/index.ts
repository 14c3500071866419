import type { FastifyInstance } from 'fastify'
import type { AppContext } from '../../app-context.ts'
import { registerAreaRoutes } from './areas.ts'
import { registerAuditRoutes } from './audit.ts'
import { registerAuthRoutes } from './auth.ts'
import { registerCaptureRoutes } from './captures.ts'
import { registerDeviceRoutes } from './devices.ts'
import { registerHealthRoutes } from './health.ts'
import { registerIncidentRoutes } from './incidents.ts'
import { registerJobRoutes } from './jobs.ts'
import { registerMatchRoutes } from './match.ts'
import { registerExportRoutes } from './exports.ts'
import { registerLogRoutes } from './log.ts'
import { registerMediaRoutes } from './media.ts'
import { registerObservationRoutes } from './observations.ts'
import { registerOrgRoutes } from './orgs.ts'
import { registerPartyRoutes } from './parties.ts'
import { registerPublicIncidentRoutes } from './public-incidents.ts'
import { registerSettingsRoutes } from './settings.ts'
import { registerSyncRoutes } from './sync.ts'
import { registerTokenRoutes } from './tokens.ts'
import { registerUploadRoutes } from './uploads.ts'
import { registerUserRoutes } from './users.ts'

/** Every route of the API. Each declares its policy action in `config.action`. */
export function registerRoutes(app: FastifyInstance, ctx: AppContext): void {
  registerHealthRoutes(app, ctx)
  registerAuthRoutes(app, ctx)
  registerTokenRoutes(app, ctx)
  registerUserRoutes(app, ctx)
  registerOrgRoutes(app, ctx)
  registerAuditRoutes(app, ctx)
  registerSettingsRoutes(app, ctx)
  registerObservationRoutes(app, ctx)
  registerPartyRoutes(app, ctx)
  registerAreaRoutes(app, ctx)
  registerIncidentRoutes(app, ctx)
  registerPublicIncidentRoutes(app, ctx)
  registerJobRoutes(app, ctx)
  registerMatchRoutes(app, ctx)
  registerLogRoutes(app, ctx)
  registerDeviceRoutes(app, ctx)
  registerCaptureRoutes(app, ctx)
  registerMediaRoutes(app, ctx)
  registerExportRoutes(app, ctx)
  registerSyncRoutes(app, ctx)
  registerUploadRoutes(app, ctx)
}
