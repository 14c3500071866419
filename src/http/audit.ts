import type { FastifyReply, FastifyRequest } from 'fastify'
import { ANONYMOUS } from '../core/access/actor.ts'
import { auditEntry, type AuditOrigin, resourceTypeOf } from '../core/audit/audit.ts'
import type { AuditOutcome, Repositories } from '../core/ports/repositories.ts'

declare module 'fastify' {
  interface FastifyRequest {
    /** Set once the request's audit record is written (inside the write's own transaction). */
    audited?: boolean
    /** What a route wants recorded beyond the defaults (e.g. the email a failed login named). */
    auditExtra?: { userId?: string | null; resourceId?: string | null; detail?: Record<string, unknown> }
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])
const REASON_HEADER = 'louder-reason'

export function auditOrigin(req: FastifyRequest): AuditOrigin {
  const reason = req.headers[REASON_HEADER]
  return {
    ip: req.ip ?? null,
    method: req.method,
    route: req.routeOptions.url ?? null,
    reason: typeof reason === 'string' ? reason.replace(/[\u0000-\u001f\u007f]/g, ' ').slice(0, 500) : null,
  }
}

function outcomeOf(status: number): AuditOutcome {
  return status < 400 ? 'ok' : status === 401 || status === 403 || status === 429 ? 'denied' : 'failed'
}

/**
 * Audits what the write path did not: every write that failed or was refused, writes that ran outside a
 * transaction (sign-in, sign-out), and every refused read. Runs after the response is sent.
 */
export function auditHook(repos: Repositories) {
  return async function audit(req: FastifyRequest, reply: FastifyReply) {
    if (req.audited) return
    const status = reply.statusCode
    const write = !SAFE_METHODS.has(req.method)
    if (!write && status !== 401 && status !== 403) return
    if (status === 404 && !req.routeOptions.url) return // no such route: nothing was touched
    const action = req.routeOptions.config.action ?? 'unknown'
    const params = (req.params ?? {}) as Record<string, unknown>
    const entry = auditEntry(req.actor ?? ANONYMOUS, action, outcomeOf(status), auditOrigin(req), {
      status,
      resourceType: resourceTypeOf(action),
      resourceId: req.auditExtra?.resourceId ?? (typeof params.id === 'string' ? params.id : null),
      userId: req.auditExtra?.userId,
      detail: req.auditExtra?.detail ?? null,
    })
    try {
      await repos.audit.append(entry)
    } catch (err) {
      req.log.error({ err: (err as Error).message }, 'audit append failed')
    }
  }
}

/** Appends the audit record of a successful write inside the write's transaction. */
export async function auditWrite(repos: Repositories, req: FastifyRequest, status: number, result: unknown): Promise<void> {
  const action = req.routeOptions.config.action ?? 'unknown'
  const params = (req.params ?? {}) as Record<string, unknown>
  const resultId = typeof result === 'object' && result !== null && typeof (result as { id?: unknown }).id === 'string' ? (result as { id: string }).id : null
  await repos.audit.append(
    auditEntry(req.actor, action, 'ok', auditOrigin(req), {
      status,
      resourceType: resourceTypeOf(action),
      resourceId: req.auditExtra?.resourceId ?? (typeof params.id === 'string' ? params.id : resultId),
      userId: req.auditExtra?.userId,
      detail: req.auditExtra?.detail ?? null,
    }),
  )
  req.audited = true
}
