import { RuleError, UnauthenticatedError } from '../errors.ts'
import type { Repositories } from '../ports/repositories.ts'
import type { Sealer } from '../ports/sealer.ts'
import { hashRecoveryCode, totpContext } from './login.ts'
import { base32Encode, generateRecoveryCodes, generateTotpSecret, matchTotp, totpUri } from './totp.ts'

export interface TwoFactorDeps {
  repos: Repositories
  sealer: Sealer
  now?: number
}

/** Starts enrolment: a new secret, sealed, pending until a code from it is confirmed. Shown once to the user. */
export async function beginTotpEnrolment(deps: TwoFactorDeps, userId: string): Promise<{ secret: string; uri: string }> {
  const user = await deps.repos.users.byId(userId)
  if (!user) throw new UnauthenticatedError()
  if (user.twoFactorEnabled) throw new RuleError('two_factor_enabled', 'Two-factor login is already on; turn it off first to enrol a new device.')
  const secret = generateTotpSecret()
  await deps.repos.users.setTotp(userId, { pending: await deps.sealer.seal(secret, `${totpContext(userId)}:pending`) }, deps.now ?? Date.now())
  return { secret: base32Encode(secret), uri: totpUri(secret, user.email) }
}

/** Confirms enrolment with a code from the new secret; turns two-factor login on and returns ten recovery codes, shown once. */
export async function confirmTotpEnrolment(deps: TwoFactorDeps, userId: string, code: string): Promise<{ recoveryCodes: string[] }> {
  const now = deps.now ?? Date.now()
  const secrets = await deps.repos.users.secretsOf(userId)
  if (!secrets?.totpPendingSecret) throw new RuleError('no_enrolment', 'Start with POST /api/v1/auth/totp/setup.')
  const secret = await deps.sealer.open(secrets.totpPendingSecret, `${totpContext(userId)}:pending`)
  const step = matchTotp(secret, code, now)
  if (step === null) throw new RuleError('totp_invalid', 'That code does not match; check the device clock and try the current code.')
  const recoveryCodes = generateRecoveryCodes()
  await deps.repos.users.setTotp(userId, { secret: await deps.sealer.seal(secret, totpContext(userId)), pending: null, enabledAt: now, lastStep: step }, now)
  await deps.repos.recoveryCodes.replaceAll(userId, recoveryCodes.map((c) => hashRecoveryCode(userId, c)), now)
  return { recoveryCodes }
}

/** Turns two-factor login off (the user, with a current code; or an admin resetting a lost device). */
export async function removeTwoFactor(deps: TwoFactorDeps, userId: string): Promise<void> {
  const now = deps.now ?? Date.now()
  await deps.repos.users.setTotp(userId, { secret: null, pending: null, enabledAt: null, lastStep: null }, now)
  await deps.repos.recoveryCodes.removeAll(userId)
  // Whoever holds a session made with the old factor signs in again.
  await deps.repos.sessions.revokeAllForUser(userId, now)
}
