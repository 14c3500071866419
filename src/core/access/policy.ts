import { ForbiddenError, UnauthenticatedError } from '../errors.ts'
import type { Actor, Role } from './actor.ts'

/**
 * Every action Louder can take, and who may take it: the one place authorisation is decided.
 * Routes name their action in their config and jobs name theirs; nothing tests roles inline.
 * `public` needs no login; `authenticated` any signed-in user; otherwise one of the listed roles.
 */
export const POLICY = {
  'health.read': 'public',
  'openapi.read': 'public',
  'auth.token.create': 'public',
  'observation.create': ['researcher', 'editor', 'admin'],
  'observation.list': ['researcher', 'editor', 'legal', 'admin'],
  'job.list': ['admin'],
  'job.retry': ['admin'],
} as const satisfies Record<string, 'public' | 'authenticated' | readonly Role[]>

export type Action = keyof typeof POLICY

const DESCRIPTIONS: Partial<Record<Action, string>> = {}

export function isAllowed(actor: Actor, action: Action): boolean {
  const rule = POLICY[action] as 'public' | 'authenticated' | readonly Role[]
  if (rule === 'public') return true
  if (actor.kind === 'system') return true
  if (actor.kind !== 'user') return false
  if (rule === 'authenticated') return true
  return actor.roles.some((role) => rule.includes(role))
}

/** Throws 401 for nobody and 403 for somebody who may not; returns quietly otherwise. */
export function authorize(actor: Actor, action: Action): void {
  if (isAllowed(actor, action)) return
  if (actor.kind === 'anonymous') throw new UnauthenticatedError()
  throw new ForbiddenError(DESCRIPTIONS[action] ?? action.replace('.', ' '))
}
