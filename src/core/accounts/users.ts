import { type Actor, type Role } from '../access/actor.ts'
import { ConflictError, NotFoundError, UnauthenticatedError, ValidationError } from '../errors.ts'
import { uuidv7 } from '../ids.ts'
import type { PasswordHasher } from '../ports/password-hasher.ts'
import type { Repositories, User, UserPatch } from '../ports/repositories.ts'
import type { Sealer } from '../ports/sealer.ts'
import { removeTwoFactor } from './two-factor.ts'

export const MIN_PASSWORD_LENGTH = 12
const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,190}\.[^\s@]{2,63}$/

export interface NewUserInput {
  email: string
  displayName: string
  roles: Role[]
  orgId?: string | null
  /** Absent: one is generated, returned once, and must be changed at first sign-in. */
  password?: string
}

export function checkPassword(password: string, field = 'password'): void {
  if (password.length < MIN_PASSWORD_LENGTH) throw new ValidationError([{ field, message: `must be at least ${MIN_PASSWORD_LENGTH} characters` }])
}

/** Creates an account (admins; the CLI). Returns the generated password when none was given, to show once. */
export async function createUser(repos: Repositories, hasher: PasswordHasher, input: NewUserInput): Promise<{ user: User; generatedPassword: string | null }> {
  const email = input.email.trim().toLowerCase()
  if (!EMAIL.test(email)) throw new ValidationError([{ field: 'email', message: 'is not an email address' }])
  if (input.roles.length === 0) throw new ValidationError([{ field: 'roles', message: 'give at least one role' }])
  if (input.password !== undefined) checkPassword(input.password)
  if (input.orgId && !(await repos.orgs.byId(input.orgId))) throw new ValidationError([{ field: 'orgId', message: 'no such organisation' }])
  if (await repos.users.byEmail(email)) throw new ConflictError('email_taken', `An account with ${email} exists already.`)
  const generatedPassword = input.password === undefined ? hasher.generate() : null
  const now = Date.now()
  const user: User = {
    id: uuidv7(now),
    email,
    displayName: input.displayName.trim() || email,
    roles: [...new Set(input.roles)],
    orgId: input.orgId ?? null,
    mustChangePassword: generatedPassword !== null,
    createdAt: now,
    disabledAt: null,
    twoFactorEnabled: false,
  }
  await repos.users.insert(user, await hasher.hash(input.password ?? generatedPassword!))
  return { user, generatedPassword }
}

/** Changes roles, organisation, name or status. Disabling ends every session and token at once. */
export async function updateUser(repos: Repositories, actor: Actor, id: string, patch: UserPatch & { disabled?: boolean }): Promise<User> {
  const user = (await repos.users.byId(id)) ?? throwMissing(id)
  if (patch.orgId && !(await repos.orgs.byId(patch.orgId))) throw new ValidationError([{ field: 'orgId', message: 'no such organisation' }])
  if (patch.roles?.length === 0) throw new ValidationError([{ field: 'roles', message: 'give at least one role (disable the account instead)' }])
  const selfDemotion = actor.kind === 'user' && actor.userId === id && (patch.disabled === true || (patch.roles && !patch.roles.includes('admin')))
  if (selfDemotion) throw new ConflictError('self_lockout', 'You cannot disable yourself or drop your own admin role; ask another admin.')
  const now = Date.now()
  const { disabled, ...rest } = patch
  await repos.users.update(id, { ...rest, roles: rest.roles ? [...new Set(rest.roles)] : undefined, ...(disabled === undefined ? {} : { disabledAt: disabled ? (user.disabledAt ?? now) : null }) }, now)
  if (disabled) {
    await repos.sessions.revokeAllForUser(id, now)
    // Revoked, not merely refused while disabled: an account disabled because it was compromised must not
    // get its leaked tokens back when it is enabled again.
    for (const token of await repos.tokens.listForUser(id)) if (token.revokedAt === null) await repos.tokens.revoke(token.id, now)
  }
  return (await repos.users.byId(id))!
}

/** An admin resets a user's lost second factor; the user enrols again at next sign-in. */
export async function resetTwoFactor(repos: Repositories, sealer: Sealer, id: string): Promise<User> {
  ;(await repos.users.byId(id)) ?? throwMissing(id)
  await removeTwoFactor({ repos, sealer }, id)
  await repos.users.resetLoginFailures(id)
  return (await repos.users.byId(id))!
}

/** The user changes their own password, proving the current one; every other session of theirs ends. */
export async function changePassword(deps: { repos: Repositories; hasher: PasswordHasher; sealer: Sealer }, actor: Actor, current: string, next: string): Promise<void> {
  if (actor.kind !== 'user') throw new UnauthenticatedError()
  checkPassword(next, 'newPassword')
  const secrets = await deps.repos.users.secretsOf(actor.userId)
  if (!secrets?.passwordHash || !(await deps.hasher.verify(secrets.passwordHash, current))) throw new UnauthenticatedError('The current password is wrong.')
  const now = Date.now()
  await deps.repos.users.setPassword(actor.userId, await deps.hasher.hash(next), now)
  for (const s of await deps.repos.sessions.listForUser(actor.userId)) if (s.id !== actor.sessionId && s.revokedAt === null) await deps.repos.sessions.revoke(s.id, now)
}

function throwMissing(id: string): never {
  throw new NotFoundError('user', id)
}
