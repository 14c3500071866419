import { actorKey, type Actor } from '../access/actor.ts'
import { uuidv7 } from '../ids.ts'
import type { AuditEntry, AuditOutcome } from '../ports/repositories.ts'

/** Where a request came from and why, as the edge knows it. */
export interface AuditOrigin {
  ip: string | null
  method: string | null
  route: string | null
  /** The reason the caller gave (header `Louder-Reason`), for reads of restricted data above all. */
  reason: string | null
}

export const NO_ORIGIN: AuditOrigin = { ip: null, method: null, route: null, reason: null }

/**
 * One audit record. `detail` says what was touched (field names, counts, ids), never the restricted values
 * themselves: the audit log is for accountability, and must not become a second copy of what it guards.
 */
export function auditEntry(
  actor: Actor,
  action: string,
  outcome: AuditOutcome,
  origin: AuditOrigin,
  extra: { status?: number; resourceType?: string | null; resourceId?: string | null; userId?: string | null; detail?: Record<string, unknown> | null } = {},
  now = Date.now(),
): AuditEntry {
  return {
    id: uuidv7(now),
    at: now,
    actor: actorKey(actor),
    userId: extra.userId ?? (actor.kind === 'user' ? actor.userId : null),
    via: actor.kind === 'user' ? actor.via : actor.kind === 'system' ? 'system' : null,
    action,
    outcome,
    status: extra.status ?? null,
    method: origin.method,
    route: origin.route,
    resourceType: extra.resourceType ?? null,
    resourceId: extra.resourceId ?? null,
    ip: origin.ip,
    reason: origin.reason,
    detail: extra.detail ?? null,
  }
}

/** The kind of record an action touches: `observation.create` → `observation`. */
export function resourceTypeOf(action: string): string {
  return action.split('.')[0]!
}
