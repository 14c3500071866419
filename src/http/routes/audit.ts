import { Readable } from 'node:stream'
import { type Static, Type } from '@sinclair/typebox'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { AppContext } from '../../app-context.ts'
import type { Action } from '../../core/access/policy.ts'
import { auditEntry } from '../../core/audit/audit.ts'
import { decodeCursor, toPage } from '../../core/pagination.ts'
import type { AuditEntry, AuditFilter } from '../../core/ports/repositories.ts'
import { toRfc3339 } from '../../core/time.ts'
import { auditOrigin } from '../audit.ts'
import { csvRow } from '../csv.ts'
import { PageOf, PageQuery, parseTimestamp, problemResponses, Strict, Timestamp, Uuid } from '../schemas/common.ts'

const Nullable = <T extends ReturnType<typeof Type.String | typeof Type.Integer>>(t: T) => Type.Union([t, Type.Null()])
const OUTCOMES = ['ok', 'denied', 'failed'] as const
const VIAS = ['token', 'session', 'cli', 'system'] as const

export const AuditEntrySchema = Type.Object(
  {
    id: Uuid,
    at: Timestamp,
    actor: Type.String({ description: '`user:<id>`, `system:<name>` (jobs, the CLI) or `anonymous`' }),
    userId: Nullable(Type.String()),
    via: Type.Union([...VIAS.map((v) => Type.Literal(v)), Type.Null()]),
    action: Type.String({ description: 'the policy action (src/core/access/policy.ts)' }),
    outcome: Type.Union(OUTCOMES.map((o) => Type.Literal(o))),
    status: Nullable(Type.Integer()),
    method: Nullable(Type.String()),
    route: Nullable(Type.String()),
    resourceType: Nullable(Type.String()),
    resourceId: Nullable(Type.String()),
    ip: Nullable(Type.String()),
    reason: Nullable(Type.String({ description: 'what the caller gave in the Louder-Reason header' })),
    detail: Type.Union([Type.Object({}, { additionalProperties: true }), Type.Null()], { description: 'what was touched (fields, counts, ids), never restricted values' }),
  },
  { title: 'AuditEntry' },
)

const Filters = {
  userId: Type.Optional({ ...Uuid, description: 'the user who acted' }),
  action: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  outcome: Type.Optional(Type.Union(OUTCOMES.map((o) => Type.Literal(o)))),
  resourceType: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  resourceId: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  from: Type.Optional({ ...Timestamp, description: 'entries at or after this time' }),
  to: Type.Optional({ ...Timestamp, description: 'entries before this time' }),
}
const ListQuery = Strict({ ...Filters, ...PageQuery })
const ExportQuery = Strict({ ...Filters, format: Type.Optional(Type.Union([Type.Literal('jsonl'), Type.Literal('csv')], { default: 'jsonl', description: 'JSON Lines (default) or CSV' })) })

/** Column order of the CSV export: every field of an entry. */
const COLUMNS = ['id', 'at', 'actor', 'userId', 'via', 'action', 'outcome', 'status', 'method', 'route', 'resourceType', 'resourceId', 'ip', 'reason', 'detail'] as const satisfies readonly (keyof AuditEntry)[]

/** Entries read per query while exporting: the export holds one page in memory, whatever the log's size. */
const EXPORT_PAGE = 500

export function presentAuditEntry(e: AuditEntry): Static<typeof AuditEntrySchema> {
  return { ...e, at: toRfc3339(e.at) }
}

function filterOf(q: Static<typeof ListQuery> | Static<typeof ExportQuery>): Omit<AuditFilter, 'limit' | 'before'> {
  return {
    userId: q.userId,
    action: q.action,
    outcome: q.outcome,
    resourceType: q.resourceType,
    resourceId: q.resourceId,
    from: q.from === undefined ? undefined : parseTimestamp(q.from, '/querystring/from'),
    to: q.to === undefined ? undefined : parseTimestamp(q.to, '/querystring/to'),
  }
}

/** The audit log, for admins. Reading it is itself recorded: who watches the watchers is in the log too. */
export function registerAuditRoutes(app: FastifyInstance, ctx: AppContext): void {
  const secured = { security: [{ bearer: [] }], tags: ['audit'] }

  async function recordRead(req: FastifyRequest, action: Action, detail: Record<string, unknown>) {
    await ctx.store.repos.audit.append(auditEntry(req.actor, action, 'ok', auditOrigin(req), { status: 200, resourceType: 'audit', detail }))
    req.audited = true
  }

  app.get<{ Querystring: Static<typeof ListQuery> }>(
    '/api/v1/audit',
    {
      config: { action: 'audit.read' },
      schema: { ...secured, summary: 'Audit entries, newest first, by who, what, outcome, record and time', querystring: ListQuery, response: { 200: PageOf(AuditEntrySchema), ...problemResponses(400, 401, 403) } },
    },
    async (req) => {
      const { limit: rawLimit, cursor, ...filters } = req.query
      const limit = rawLimit ?? 50
      const before = cursor ? (decodeCursor(cursor, ['string'])[0] as string) : undefined
      const page = toPage(await ctx.store.repos.audit.list({ ...filterOf(req.query), limit, before }), limit, (e) => [e.id])
      await recordRead(req, 'audit.read', { filters, count: page.items.length, ...(before ? { page: 'next' } : {}) })
      return { items: page.items.map(presentAuditEntry), next: page.next }
    },
  )

  app.get<{ Querystring: Static<typeof ExportQuery> }>(
    '/api/v1/audit/export',
    {
      config: { action: 'audit.export' },
      schema: {
        ...secured,
        summary: 'Every matching audit entry, newest first, streamed as JSON Lines or CSV',
        description: 'CSV follows RFC 4180; a cell starting with = + - or @ is prefixed with an apostrophe so spreadsheets do not run it as a formula.',
        querystring: ExportQuery,
        response: {
          200: {
            description: 'The entries, one per line (JSON Lines) or row (CSV, with a header row)',
            content: { 'application/x-ndjson': { schema: AuditEntrySchema }, 'text/csv': { schema: Type.String() } },
          },
          ...problemResponses(400, 401, 403),
        },
      },
    },
    async (req, reply) => {
      const { format: rawFormat, ...filters } = req.query
      const format = rawFormat ?? 'jsonl'
      const filter = filterOf(req.query)
      const repos = ctx.store.repos
      // The first page is read before the export is recorded, so the export does not list itself; later
      // pages go strictly older by id, so entries written while it streams are not mixed in either.
      let rows = await repos.audit.list({ ...filter, limit: EXPORT_PAGE })
      await recordRead(req, 'audit.export', { filters, format })
      const line = format === 'csv' ? (e: AuditEntry) => csvRow(COLUMNS.map((c) => (c === 'at' ? toRfc3339(e.at) : e[c]))) : (e: AuditEntry) => `${JSON.stringify(presentAuditEntry(e))}\n`
      async function* body() {
        if (format === 'csv') yield csvRow(COLUMNS)
        for (;;) {
          const page = rows.slice(0, EXPORT_PAGE)
          if (page.length) yield page.map(line).join('')
          if (rows.length <= EXPORT_PAGE) return
          rows = await repos.audit.list({ ...filter, limit: EXPORT_PAGE, before: page[page.length - 1]!.id })
        }
      }
      const stamp = new Date().toISOString().replace(/[:.]/g, '-')
      return reply
        .type(format === 'csv' ? 'text/csv; charset=utf-8; header=present' : 'application/x-ndjson; charset=utf-8')
        .header('content-disposition', `attachment; filename="louder-audit-${stamp}.${format === 'csv' ? 'csv' : 'jsonl'}"`)
        .send(Readable.from(body(), { objectMode: false }))
    },
  )
}
