/**
 * What `louder admin create-user | create-token | reset-2fa | create-org` do, on a data directory. Loaded
 * only when one of them runs (src/cli/commands/admin.ts registers them), so other commands start fast.
 * Each write and its audit record (actor `system:cli`) commit together.
 */
import { type AppContext, createAppContext } from '../app-context.ts'
import type { Role } from '../core/access/actor.ts'
import { createOrg, findOrg } from '../core/accounts/orgs.ts'
import { issueToken } from '../core/accounts/tokens.ts'
import { createUser, MIN_PASSWORD_LENGTH, resetTwoFactor } from '../core/accounts/users.ts'
import { ValidationError } from '../core/errors.ts'
import type { Repositories } from '../core/ports/repositories.ts'
import { createLogger } from '../log.ts'
import { auditedCliWrite } from './cli-audit.ts'
import { configFrom } from './config-options.ts'

interface Output {
  json?: boolean
}

/** Core field names → the flags that set them, so an error names what the operator typed. */
const FLAGS: Record<string, string> = { email: '--email', roles: '--role', orgId: '--org', displayName: '--name', name: '--name', userId: '--email', password: 'the password' }

/** Runs a command's work on the data directory; a ValidationError becomes one line per field, naming its flag. */
async function onData<T>(opts: object, work: (ctx: AppContext) => Promise<T>): Promise<T> {
  const ctx = await createAppContext(configFrom(opts as Record<string, unknown>), createLogger({ level: 'warn' }))
  try {
    return await work(ctx)
  } catch (err) {
    if (err instanceof ValidationError) throw new Error(err.errors.map((e) => `${FLAGS[e.field] ?? e.field}: ${e.message}`).join('\n'))
    throw err
  } finally {
    await ctx.close()
  }
}

async function userByEmail(repos: Repositories, email: string) {
  const user = await repos.users.byEmail(email.trim())
  if (!user) throw new Error(`no user with email ${email}`)
  return user
}

function print(opts: Output, json: unknown, text: string): void {
  process.stdout.write(opts.json ? `${JSON.stringify(json)}\n` : text)
}

/**
 * The first line of a stream (without its line ending), read only as far as that line: a caller that keeps
 * the pipe open is not waited for. Null when the stream ends before any byte arrives.
 */
export async function readFirstLine(stream: NodeJS.ReadableStream & { destroy?: () => void }, maxBytes = 4096): Promise<string | null> {
  let text = ''
  let sawData = false
  for await (const chunk of stream) {
    sawData = true
    text += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8')
    if (text.includes('\n') || text.length > maxBytes) break
  }
  stream.destroy?.()
  if (!sawData) return null
  return text.split('\n')[0]!.replace(/\r$/, '')
}

export async function createUserCommand(opts: Output & { email: string; role: Role[]; org?: string; name?: string; generatePassword?: boolean }): Promise<void> {
  let password: string | undefined
  // A password comes on stdin (never as a flag: flags end up in shell history and `ps`); from a terminal, one is generated.
  if (!opts.generatePassword && !process.stdin.isTTY) {
    const line = await readFirstLine(process.stdin)
    if (line === null) throw new Error(`no password on stdin: send one line of at least ${MIN_PASSWORD_LENGTH} characters, or pass --generate-password`)
    if (line.length < MIN_PASSWORD_LENGTH) throw new Error(`the password on stdin is shorter than ${MIN_PASSWORD_LENGTH} characters`)
    password = line
  }
  await onData(opts, async (ctx) => {
    const { user, generatedPassword } = await auditedCliWrite(ctx.store, 'admin create-user', 'user.create', async (repos, audit) => {
      const org = opts.org === undefined ? null : await findOrg(repos, opts.org)
      if (opts.org !== undefined && !org) throw new Error(`no organisation named or with id ${opts.org}`)
      const created = await createUser(repos, ctx.passwords, { email: opts.email, displayName: opts.name ?? '', roles: opts.role, orgId: org?.id ?? null, password })
      Object.assign(audit, { resourceId: created.user.id, detail: { email: created.user.email, roles: created.user.roles, orgId: created.user.orgId } })
      return created
    })
    print(
      opts,
      { id: user.id, email: user.email, displayName: user.displayName, roles: user.roles, orgId: user.orgId, mustChangePassword: user.mustChangePassword, ...(generatedPassword ? { password: generatedPassword } : {}) },
      `created ${user.email} (${user.id}) with roles ${user.roles.join(', ')}\n` + (generatedPassword ? `password (shown once; to be changed at first sign-in): ${generatedPassword}\n` : ''),
    )
  })
}

export async function createTokenCommand(opts: Output & { email: string; role?: Role[]; expires?: number; name: string }): Promise<void> {
  const expiresAt = opts.expires ?? null
  const expiry = expiresAt === null ? null : new Date(expiresAt).toISOString()
  await onData(opts, async (ctx) => {
    const issued = await auditedCliWrite(ctx.store, 'admin create-token', 'user.token.create', async (repos, audit) => {
      const user = await userByEmail(repos, opts.email)
      audit.detail = { forUser: user.id }
      const issued = await issueToken(repos, user.id, { name: opts.name, roles: opts.role ?? null, expiresAt })
      Object.assign(audit, { resourceType: 'token', resourceId: issued.record.id, detail: { forUser: user.id, roles: issued.record.roles, expiresAt: expiry } })
      return issued
    })
    print(opts, { token: issued.token, id: issued.record.id, expiresAt: expiry }, `${issued.token}\n`)
  })
}

export async function resetTwoFactorCommand(opts: Output & { email: string }): Promise<void> {
  await onData(opts, async (ctx) => {
    const user = await auditedCliWrite(ctx.store, 'admin reset-2fa', 'user.reset-2fa', async (repos, audit) => {
      const found = await userByEmail(repos, opts.email)
      Object.assign(audit, { resourceId: found.id, detail: { email: found.email, hadTwoFactor: found.twoFactorEnabled } })
      return resetTwoFactor(repos, ctx.sealer, found.id)
    })
    print(opts, { id: user.id, email: user.email, twoFactorEnabled: user.twoFactorEnabled }, `two-factor login removed for ${user.email}; their sessions ended, and they enrol again at next sign-in\n`)
  })
}

export async function createOrgCommand(opts: Output & { name: string }): Promise<void> {
  await onData(opts, async (ctx) => {
    const org = await auditedCliWrite(ctx.store, 'admin create-org', 'org.create', async (repos, audit) => {
      const org = await createOrg(repos, { name: opts.name })
      Object.assign(audit, { resourceId: org.id, detail: { name: org.name } })
      return org
    })
    print(opts, { id: org.id, name: org.name, createdAt: new Date(org.createdAt).toISOString() }, `created organisation ${org.name} (${org.id})\n`)
  })
}
