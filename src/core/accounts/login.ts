import { createHash } from 'node:crypto'
import { LouderError, UnauthenticatedError } from '../errors.ts'
import type { PasswordHasher } from '../ports/password-hasher.ts'
import type { Repositories, User, UserSecrets } from '../ports/repositories.ts'
import type { Sealer } from '../ports/sealer.ts'
import { needsTwoFactor, readAccessSettings } from './access-settings.ts'
import { matchTotp, normaliseRecoveryCode } from './totp.ts'

/** Failures allowed before the account starts to wait; then 1 s, 2 s, 4 s … up to 15 minutes, never for ever. */
export const FREE_ATTEMPTS = 5
export const LOCK_BASE_MS = 1_000
export const LOCK_CAP_MS = 15 * 60_000

export function lockDurationMs(failures: number): number {
  if (failures < FREE_ATTEMPTS) return 0
  return Math.min(LOCK_CAP_MS, LOCK_BASE_MS * 2 ** (failures - FREE_ATTEMPTS))
}

/** Too many failures in a row: wait, then try again (HTTP 429 with Retry-After). */
export class TooManyAttemptsError extends LouderError {
  readonly retryAfterSeconds: number
  constructor(retryAfterMs: number) {
    const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000))
    super('too_many_attempts', `Too many failed sign-ins. Try again in ${seconds} s.`)
    this.retryAfterSeconds = seconds
  }
}

/** The password was right and the account has two-factor login: send `totp` or `recoveryCode` too. */
export class SecondFactorRequiredError extends LouderError {
  constructor() {
    super('second_factor_required', 'Enter the 6-digit code from your authenticator app, or a recovery code.')
  }
}

export interface Credentials {
  email: string
  password: string
  totp?: string
  recoveryCode?: string
}

export interface LoginDeps {
  repos: Repositories
  hasher: PasswordHasher
  sealer: Sealer
  now?: number
}

const WRONG = 'Wrong email or password.'

/**
 * Failure counts for emails with no account, kept the same way as for real accounts, so that the answers
 * (401, then 429 with the same waits) do not tell an attacker which emails exist. Bounded; in memory.
 */
const phantomFailures = new Map<string, { failures: number; lockedUntil: number }>()

/**
 * Checks a sign-in: password, then the second factor when the account has one. A locked account is
 * refused before its password is even checked, so guessing cannot go on during the wait; the real user
 * gets in once the wait is over. Returns the user and whether two-factor enrolment is still owed.
 */
export async function verifyLogin(deps: LoginDeps, credentials: Credentials): Promise<{ user: User; twoFactorPending: boolean }> {
  const now = deps.now ?? Date.now()
  const email = credentials.email.trim().toLowerCase()
  const found = await deps.repos.users.byEmail(email)

  if (!found) {
    // Taken (or made) before the slow hash, so guesses arriving in parallel share one count, as they do for a real account.
    let phantom = phantomFailures.get(email)
    if (!phantom) {
      phantom = { failures: 0, lockedUntil: 0 }
      phantomFailures.set(email, phantom)
      if (phantomFailures.size > 10_000) phantomFailures.delete(phantomFailures.keys().next().value!)
    }
    if (phantom.lockedUntil > now) throw new TooManyAttemptsError(phantom.lockedUntil - now)
    // Hash anyway, so an unknown email costs what a known one does.
    await deps.hasher.hash(credentials.password)
    const lock = lockDurationMs(++phantom.failures)
    if (lock) phantom.lockedUntil = Math.max(phantom.lockedUntil, now + lock)
    throw new UnauthenticatedError(WRONG)
  }

  if (found.lockedUntil !== null && found.lockedUntil > now) throw new TooManyAttemptsError(found.lockedUntil - now)
  // An account without a password (made for tokens only) costs a hash too, or its fast answer would single it out.
  const passwordOk = found.passwordHash !== null ? await deps.hasher.verify(found.passwordHash, credentials.password) : (await deps.hasher.hash(credentials.password), false)
  if (!passwordOk || found.disabledAt !== null) {
    await fail(deps, found, now)
    throw new UnauthenticatedError(WRONG)
  }

  if (found.twoFactorEnabled) {
    if (!credentials.totp && !credentials.recoveryCode) throw new SecondFactorRequiredError()
    if (!(await secondFactorOk(deps, found, credentials, now))) {
      await fail(deps, found, now)
      throw new UnauthenticatedError('The two-factor code is not valid (codes work once, and for 30 seconds).')
    }
  }

  await deps.repos.users.resetLoginFailures(found.id)
  const settings = await readAccessSettings(deps.repos)
  const { passwordHash: _p, totpSecret: _t, totpPendingSecret: _q, totpLastStep: _s, failedLogins: _f, lockedUntil: _l, ...user } = found
  return { user, twoFactorPending: !found.twoFactorEnabled && needsTwoFactor(settings, found.roles) }
}

/**
 * The count comes back from the increment itself, not from the row read before the slow password check:
 * guesses sent in parallel all read the same old count, and each would otherwise set (or clear) the lock
 * as if it were the only one.
 */
async function fail(deps: LoginDeps, user: User, now: number): Promise<void> {
  const lock = lockDurationMs(await deps.repos.users.recordLoginFailure(user.id, now))
  if (lock) await deps.repos.users.extendLock(user.id, now + lock)
}

async function secondFactorOk(deps: LoginDeps, user: User & UserSecrets, c: Credentials, now: number): Promise<boolean> {
  if (c.totp) {
    if (!user.totpSecret) return false
    const secret = await deps.sealer.open(user.totpSecret, totpContext(user.id))
    const step = matchTotp(secret, c.totp, now)
    // A code works once: the step it matched must be later than the last one used.
    if (step === null || (user.totpLastStep !== null && step <= user.totpLastStep)) return false
    await deps.repos.users.setTotp(user.id, { lastStep: step }, now)
    return true
  }
  return deps.repos.recoveryCodes.use(user.id, hashRecoveryCode(user.id, c.recoveryCode!), now)
}

export function totpContext(userId: string): string {
  return `users.totp_secret:${userId}`
}

/** Salted with the user id, so one table of precomputed hashes does not serve every account. */
export function hashRecoveryCode(userId: string, code: string): string {
  return createHash('sha256').update(`louder-recovery:${userId}:${normaliseRecoveryCode(code)}`).digest('hex')
}
