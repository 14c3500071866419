import { uuidv7 } from '../ids.ts'
import type { PasswordHasher } from '../ports/password-hasher.ts'
import type { Store, User } from '../ports/repositories.ts'

export const INITIAL_ADMIN_EMAIL = 'admin@louder.local'

/**
 * On an empty database, creates the first administrator with a one-time password and returns it; the
 * caller shows it once. Returns null when any user exists (the bootstrap never runs twice).
 */
export async function createInitialAdmin(store: Store, hasher: PasswordHasher): Promise<{ user: User; password: string } | null> {
  const password = hasher.generate()
  const passwordHash = await hasher.hash(password)
  return store.transaction(async (repos) => {
    if ((await repos.users.count()) > 0) return null
    const now = Date.now()
    const user: User = { id: uuidv7(now), email: INITIAL_ADMIN_EMAIL, displayName: 'Administrator', roles: ['admin'], orgId: null, mustChangePassword: true, createdAt: now, disabledAt: null, twoFactorEnabled: false }
    await repos.users.insert(user, passwordHash)
    return { user, password }
  })
}
