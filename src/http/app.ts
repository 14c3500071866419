import cookie from '@fastify/cookie'
import swagger from '@fastify/swagger'
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { AppContext } from '../app-context.ts'
import { ValidationError } from '../core/errors.ts'
import { auditHook } from './audit.ts'
import { authHook } from './auth.ts'
import { parseJsonBody, unstorableString } from './json-body.ts'
import { clientErrorHandler, errorHandler, problem, sendProblem } from './problem.ts'
import { registerRoutes } from './routes/index.ts'
import { validatorCompiler } from './validation.ts'

export const JSON_BODY_LIMIT = 1024 * 1024

/** The HTTP API: thin routes over the core, OpenAPI generated from the same schemas that validate requests. */
export async function buildHttpApp(ctx: AppContext): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: ctx.logger.child({ module: 'http' }) as FastifyBaseLogger,
    bodyLimit: JSON_BODY_LIMIT,
    // Behind a proxy, LOUDER_PUBLIC_URL says where we are; client addresses come from the socket.
    trustProxy: false,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    // No limit on how long a request may take to arrive (Node's own default is 5 minutes): a tus PATCH over a
    // 450 kbit/s satellite link runs for an hour. Stalled uploads end by tus's lock hand-over and expiry instead.
    requestTimeout: 0,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    // URLs the router cannot decode, and requests the HTTP parser refuses, get problem documents like the rest.
    frameworkErrors: errorHandler,
    clientErrorHandler,
  })

  app.setValidatorCompiler(validatorCompiler())
  app.setErrorHandler(errorHandler)
  app.setNotFoundHandler((req, reply) => sendProblem(reply, problem(404, 'not_found', `Nothing at ${req.method} ${req.url.split('?')[0]}.`)))
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) => {
    try {
      done(null, parseJsonBody(body as Buffer))
    } catch (err) {
      done(err as Error, undefined)
    }
  })

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Louder API', version: ctx.version, description: 'Field reports, sealed evidence, publishing and humanitarian outputs. Errors are RFC 9457 problem documents.' },
      servers: [{ url: ctx.config.publicUrl }],
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
    // Each operation names its policy action, so the permission matrix can be generated from this document.
    transform: ({ schema, url, route }) => {
      const action = (route.config as { action?: string } | undefined)?.action
      return { schema: { ...schema, ...(action ? { 'x-louder-action': action } : {}) } as typeof schema, url }
    },
  })

  await app.register(cookie)
  app.addHook('onRequest', authHook(ctx.store.repos))
  app.addHook('onResponse', auditHook(ctx.store.repos))
  // Query strings and path parameters reach SQL as text too: the same NUL and lone-surrogate rule as bodies.
  app.addHook('preValidation', async (req) => {
    const bad = unstorableString(req.query, '/querystring') ?? unstorableString(req.params, '/params')
    if (bad) throw new ValidationError([bad], 'The URL holds text that cannot be stored as sent.')
  })
  // A route that declares no body takes none: fields sent to it would otherwise be dropped without a word.
  // `{}` passes, because many HTTP clients send it on every POST.
  app.addHook('preValidation', async (req) => {
    const body = req.body as unknown
    if (req.routeOptions.schema?.body !== undefined || body === undefined || body === null) return
    const isObject = typeof body === 'object' && !Array.isArray(body)
    if (isObject && Object.keys(body).length === 0) return
    throw new ValidationError(
      isObject ? Object.keys(body).map((key) => ({ field: `/body/${key}`, message: 'is not a known field' })) : [{ field: '/body', message: 'is not accepted: this endpoint takes no body' }],
      'This endpoint takes no body.',
    )
  })
  app.addHook('onSend', async (_req, reply, payload) => {
    reply.header('cache-control', reply.getHeader('cache-control') ?? 'no-store')
    reply.header('x-content-type-options', 'nosniff')
    return payload
  })

  registerRoutes(app, ctx)
  return app
}
