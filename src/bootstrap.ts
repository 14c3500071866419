import { writeSecretFile } from './protection/keyring.ts'
import { join } from 'node:path'
import type { AppContext } from './app-context.ts'
import { createInitialAdmin } from './core/accounts/bootstrap.ts'

/**
 * First start on an empty database: creates the administrator and writes the one-time password to
 * DATA/initial-admin.txt (0600). Returns what to print once, or null when accounts already exist.
 */
export async function bootstrapFirstStart(ctx: AppContext): Promise<{ email: string; password: string; file: string } | null> {
  const created = await createInitialAdmin(ctx.store, ctx.passwords)
  if (!created) return null
  const file = join(ctx.config.dataDir, 'initial-admin.txt')
  writeSecretFile(
    file,
    `Louder initial administrator (created ${new Date(created.user.createdAt).toISOString()})\n` +
      `email: ${created.user.email}\npassword: ${created.password}\n` +
      'This password works once: change it at first sign-in, then delete this file.\n',
  )
  return { email: created.user.email, password: created.password, file }
}
