import { ForbiddenError, UnauthenticatedError } from '../errors.ts'
import type { Actor, Role } from './actor.ts'

/**
 * Every action Louder can take, and who may take it: the one place authorisation is decided.
 * Routes name their action in their config and jobs name theirs; nothing tests roles inline.
 * `public` needs no login; `authenticated` any signed-in user; otherwise one of the listed roles.
 * Resource-level rules (a researcher edits only their own observations, a partner sees only what is
 * shared with their organisation) are checked by the use case, with the record in hand.
 */
export const POLICY = {
  'health.read': 'public',
  'openapi.read': 'public',

  'auth.login': 'public',
  'auth.token.create': 'public',
  'auth.logout': 'authenticated',
  'auth.session.read': 'authenticated',
  'auth.password.change': 'authenticated',
  'auth.totp.setup': 'authenticated',
  'auth.totp.confirm': 'authenticated',
  'auth.totp.disable': 'authenticated',

  'token.list': 'authenticated',
  'token.create': 'authenticated',
  'token.revoke': 'authenticated',

  'user.list': ['admin'],
  'user.read': ['admin'],
  'user.create': ['admin'],
  'user.update': ['admin'],
  'user.reset-2fa': ['admin'],
  'user.token.create': ['admin'],

  'org.list': ['admin', 'editor'],
  'org.create': ['admin'],
  'org.update': ['admin'],

  'audit.read': ['admin'],
  'audit.export': ['admin'],

  'settings.read': ['admin'],
  /** The CLI's `admin rotate-master-key`; no route: keys are handled on the machine that holds them. */
  'key.rotate': ['admin'],
  'settings.update': ['admin'],

  'observation.create': ['researcher', 'editor', 'admin'],
  'observation.list': ['researcher', 'editor', 'legal', 'admin'],
  // Witness identities, contacts and restricted notes: legal, and the researcher who recorded them (the use
  // case checks authorship). Reads are audited with the reason given.
  'observation.restricted.read': ['legal', 'researcher'],
  // Changing a witness's consent: the same people, the same authorship rule (checked in the use case).
  'observation.consent.update': ['legal', 'researcher'],

  // The parties thesaurus is reference data (names of armed groups, forces, crowds), not reporting: everyone
  // signed in reads it, partners too, since what is shared with them names parties.
  'party.list': 'authenticated',
  'party.create': ['editor', 'admin'],
  'party.update': ['editor', 'admin'],
  'party.archive': ['editor', 'admin'],

  // Administrative areas are reference data too (province and district names and boundaries); importing a
  // country's boundaries changes how every incident is placed and generalised, so only admins do it.
  'area.list': 'authenticated',
  'area.import': ['admin'],

  // Incidents: editors code and review them; researchers, legal and admins read the register and discuss it.
  // Verifying and publishing are separate actions so an organisation could give them to different roles;
  // the two-person rule (whoever verified does not publish) is checked in the use case.
  'incident.create': ['editor', 'admin'],
  'incident.list': ['researcher', 'editor', 'legal', 'admin'],
  'incident.update': ['editor', 'admin'],
  'incident.review': ['editor', 'admin'],
  'incident.publish': ['editor', 'admin'],
  'incident.comment': ['researcher', 'editor', 'legal', 'admin'],
  // Victims, restricted notes and a sensitive incident's exact point: legal, and the editor who coded it
  // (checked in the use case). Audited with the reason given.
  'incident.restricted.read': ['legal', 'editor'],
  // The public view: published incidents, generalised, without restricted fields, honouring consent.
  'public.incident.list': 'public',

  // Finding the same scene across the locker: the desk sees every item; partners may ask too, and see only
  // items of published incidents (checked in the use case).
  'media.match': ['researcher', 'editor', 'legal', 'admin', 'partner'],

  'job.list': ['admin'],
  'job.retry': ['admin'],

  // The custody log is public so anyone can check it with their own code: checkpoints, the log key, leaf
  // hashes and proofs. An event's body may name people and purposes: legal officers and admins only.
  'log.read': 'public',
  'log.event.read': ['legal', 'admin'],

  // Capture devices: whoever carries one asks for its key to be registered; editors and admins decide,
  // since a registered key makes captures count as evidence; legal sees which keys vouch for what.
  'device.request': ['researcher', 'editor', 'admin'],
  'device.approve': ['editor', 'admin'],
  'device.revoke': ['editor', 'admin'],
  'device.list': ['editor', 'admin', 'legal'],
  'capture.register': ['researcher', 'editor', 'admin'],
  // Field sync: the batch form of observation.create, capture.register and device.request, so the same people;
  // each item is authorised again as its own action.
  'sync.batch': ['researcher', 'editor', 'admin'],

  // The evidence locker: whoever gathers material seals it; legal sees whether it is held too. Originals and
  // their extracted metadata (names, places, serial numbers) go to legal and admins only, each read logged;
  // editors follow an item's custody trail and work on logged working copies, never on originals.
  'media.ingest': ['researcher', 'editor', 'admin'],
  'media.exists': ['researcher', 'editor', 'admin', 'legal'],
  'media.content.read': ['legal', 'admin'],
  'media.metadata.read': ['legal', 'admin'],
  'media.custody.read': ['legal', 'admin', 'editor'],
  'media.working-copy.create': ['editor', 'admin'],
  // Court bags hold decrypted originals: legal officers (who read originals anyway) and admins make them.
  'court.export': ['legal', 'admin'],
} as const satisfies Record<string, 'public' | 'authenticated' | readonly Role[]>

export type Action = keyof typeof POLICY

/** What a signed-in user who still has to enrol two-factor login may do: enrol, look at themselves, leave. */
const ENROLMENT_ACTIONS: ReadonlySet<Action> = new Set(['auth.session.read', 'auth.logout', 'auth.password.change', 'auth.totp.setup', 'auth.totp.confirm'])

/** What someone signed in with a one-time password may do before choosing their own. */
const PASSWORD_CHANGE_ACTIONS: ReadonlySet<Action> = new Set(['auth.session.read', 'auth.logout', 'auth.password.change'])

export function isAllowed(actor: Actor, action: Action): boolean {
  const rule = POLICY[action] as 'public' | 'authenticated' | readonly Role[]
  if (rule === 'public') return true
  if (actor.kind === 'system') return true
  if (actor.kind !== 'user') return false
  if (actor.passwordChangePending && !PASSWORD_CHANGE_ACTIONS.has(action)) return false
  if (actor.twoFactorPending && !ENROLMENT_ACTIONS.has(action)) return false
  if (rule === 'authenticated') return true
  return actor.roles.some((role) => rule.includes(role))
}

/** Throws 401 for nobody and 403 for somebody who may not; returns quietly otherwise. */
export function authorize(actor: Actor, action: Action): void {
  if (isAllowed(actor, action)) return
  if (actor.kind === 'anonymous') throw new UnauthenticatedError()
  if (actor.kind === 'user' && actor.passwordChangePending)
    throw new ForbiddenError(`${action.replace('.', ' ')} before replacing your one-time password (POST /api/v1/auth/password)`)
  if (actor.kind === 'user' && actor.twoFactorPending)
    throw new ForbiddenError(`${action.replace('.', ' ')} before setting up two-factor login (POST /api/v1/auth/totp/setup)`)
  throw new ForbiddenError(action.replace('.', ' '))
}
