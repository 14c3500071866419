import { type Static, Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import type { AppContext } from '../../app-context.ts'
import { throwNotFound } from '../../core/errors.ts'
import { decodeCursor } from '../../core/pagination.ts'
import { toRfc3339 } from '../../core/time.ts'
import { JOB_STATUSES, type Job } from '../../jobs/job-types.ts'
import { PageOf, PageQuery, problemResponses, Strict, Uuid } from '../schemas/common.ts'

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()])

const JobSchema = Type.Object(
  {
    id: Uuid,
    name: Type.String(),
    status: Type.Union(JOB_STATUSES.map((s) => Type.Literal(s))),
    priority: Type.Integer(),
    attempts: Type.Integer(),
    maxAttempts: Type.Integer(),
    runAt: Type.String({ format: 'date-time' }),
    lastError: Nullable(Type.String()),
    lockedBy: Nullable(Type.String()),
    createdAt: Type.String({ format: 'date-time' }),
    finishedAt: Nullable(Type.String({ format: 'date-time' })),
  },
  { title: 'Job', description: 'Payloads are not shown: they may name restricted records.' },
)

const ListQuery = Strict({ status: Type.Optional(Type.Union(JOB_STATUSES.map((s) => Type.Literal(s)))), name: Type.Optional(Type.String({ maxLength: 100 })), ...PageQuery })

function presentJob(j: Job): Static<typeof JobSchema> {
  return {
    id: j.id,
    name: j.name,
    status: j.status,
    priority: j.priority,
    attempts: j.attempts,
    maxAttempts: j.maxAttempts,
    runAt: toRfc3339(j.runAt),
    lastError: j.lastError,
    lockedBy: j.lockedBy,
    createdAt: toRfc3339(j.createdAt),
    finishedAt: j.finishedAt === null ? null : toRfc3339(j.finishedAt),
  }
}

/** Admins see the queue, including dead jobs, and can send a dead job round again. */
export function registerJobRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.get<{ Querystring: Static<typeof ListQuery> }>(
    '/api/v1/jobs',
    {
      config: { action: 'job.list' },
      schema: { tags: ['platform'], summary: 'Background jobs, newest first', security: [{ bearer: [] }], querystring: ListQuery, response: { 200: PageOf(JobSchema), ...problemResponses(400, 401, 403) } },
    },
    async (req) => {
      const after = req.query.cursor ? (decodeCursor(req.query.cursor, ['string'])[0] as string) : undefined
      const page = await ctx.jobs.list({ status: req.query.status, name: req.query.name, limit: req.query.limit ?? 50, after })
      return { items: page.items.map(presentJob), next: page.next }
    },
  )

  app.post<{ Params: { id: string } }>(
    '/api/v1/jobs/:id/retry',
    {
      config: { action: 'job.retry' },
      schema: { tags: ['platform'], summary: 'Queue a dead or finished job again', security: [{ bearer: [] }], params: Strict({ id: Uuid }), response: { 200: JobSchema, ...problemResponses(400, 401, 403, 404) } },
    },
    async (req) => presentJob((await ctx.jobs.retry(req.params.id)) ?? throwNotFound('dead or finished job', req.params.id)),
  )
}
