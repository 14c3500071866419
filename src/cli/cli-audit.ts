import { userInfo } from 'node:os'
import { systemActor } from '../core/access/actor.ts'
import type { Action } from '../core/access/policy.ts'
import { auditEntry, resourceTypeOf } from '../core/audit/audit.ts'
import type { AuditEntry, AuditOutcome, Repositories, Store } from '../core/ports/repositories.ts'

/** Whoever runs `louder` on the data directory acts as Louder itself: there is no account to name. */
export const CLI_ACTOR = systemActor('cli')

/** What a command wants recorded beyond its action (the CLI's `req.auditExtra`). */
export interface CliAuditExtra {
  resourceType?: string
  resourceId?: string | null
  detail?: Record<string, unknown>
}

/** The operating-system account that ran the command: the CLI has no Louder account, so this is who did it. */
function osUser(): string | null {
  try {
    return userInfo().username
  } catch {
    return null // no passwd entry (some containers)
  }
}

/** An audit record of a CLI command: actor `system:cli`, via `cli`, the command in `route`. */
export function cliAuditEntry(command: string, action: Action, outcome: AuditOutcome, extra: CliAuditExtra = {}): AuditEntry {
  const entry = auditEntry(CLI_ACTOR, action, outcome, { ip: null, method: null, route: `louder ${command}`, reason: null }, {
    resourceType: extra.resourceType ?? resourceTypeOf(action),
    resourceId: extra.resourceId ?? null,
    detail: { ...extra.detail, osUser: osUser() },
  })
  return { ...entry, via: 'cli' }
}

/**
 * Runs a command's write and its audit record in one transaction, as the API's idempotentWrite does; `write`
 * fills in `audit`. A command that fails is recorded too (outside the transaction that rolled back), then
 * the error goes on to be printed.
 */
export async function auditedCliWrite<T>(store: Store, command: string, action: Action, write: (repos: Repositories, audit: CliAuditExtra) => Promise<T>): Promise<T> {
  const audit: CliAuditExtra = {}
  try {
    return await store.transaction(async (repos) => {
      const result = await write(repos, audit)
      await repos.audit.append(cliAuditEntry(command, action, 'ok', audit))
      return result
    })
  } catch (err) {
    const code = typeof (err as { code?: unknown }).code === 'string' ? (err as { code: string }).code : 'error'
    try {
      await store.repos.audit.append(cliAuditEntry(command, action, 'failed', { ...audit, detail: { ...audit.detail, error: code } }))
    } catch {
      // The database itself is what failed; the error below says so.
    }
    throw err
  }
}
