import type { Repositories } from '../ports/repositories.ts'
import { type Actor, actorKey, type Role } from '../access/actor.ts'
import { RuleError } from '../errors.ts'

/** Settings an admin controls over the API (`/settings`), with their defaults. */
export interface AccessSettings {
  /** Require two-factor login of admins, editors and legal officers. */
  requireTwoFactor: boolean
  /** A browser session ends after this long without a request… */
  sessionIdleMinutes: number
  /** …and after this long whatever happens. */
  sessionAbsoluteHours: number
}

export const DEFAULT_ACCESS_SETTINGS: AccessSettings = { requireTwoFactor: false, sessionIdleMinutes: 30, sessionAbsoluteHours: 12 }

/** The roles whose holders must use two-factor login when the policy is on. */
export const TWO_FACTOR_ROLES: readonly Role[] = ['admin', 'editor', 'legal']

const KEY = 'access'

export async function readAccessSettings(repos: Repositories): Promise<AccessSettings> {
  const raw = await repos.settings.get(KEY)
  return { ...DEFAULT_ACCESS_SETTINGS, ...(raw ? (JSON.parse(raw) as Partial<AccessSettings>) : {}) }
}

export async function writeAccessSettings(repos: Repositories, patch: Partial<AccessSettings>, by: string | null): Promise<AccessSettings> {
  const next = { ...(await readAccessSettings(repos)), ...patch }
  await repos.settings.set(KEY, JSON.stringify(next), by, Date.now())
  return next
}

export function needsTwoFactor(settings: AccessSettings, roles: readonly Role[]): boolean {
  return settings.requireTwoFactor && roles.some((r) => TWO_FACTOR_ROLES.includes(r))
}

/**
 * An admin changes the settings. Turning the two-factor requirement on is refused to an admin who has no
 * second factor: from their next request they could do nothing but enrol, a surprise better met first.
 */
export async function updateAccessSettings(repos: Repositories, actor: Actor, patch: Partial<AccessSettings>): Promise<AccessSettings> {
  if (patch.requireTwoFactor === true && actor.kind === 'user' && !(await repos.users.byId(actor.userId))?.twoFactorEnabled)
    throw new RuleError('enrol_first', 'Set up your own two-factor login (POST /api/v1/auth/totp/setup) before requiring it of others.')
  return writeAccessSettings(repos, patch, actorKey(actor))
}
