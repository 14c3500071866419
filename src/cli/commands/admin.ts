import { type Command, Option } from 'commander'
import { createAppContext } from '../../app-context.ts'
import { isRole, ROLES, type Role } from '../../core/access/actor.ts'
import { issueToken } from '../../core/accounts/tokens.ts'
import { createLogger } from '../../log.ts'
import { configFrom, withDataOptions } from '../config-options.ts'

/** `30d`, `12h`, `45m` or an RFC 3339 date → epoch ms. */
export function parseExpiry(value: string, now = Date.now()): number {
  const rel = /^(\d+)([dhm])$/.exec(value)
  if (rel) return now + Number(rel[1]) * { d: 86_400_000, h: 3_600_000, m: 60_000 }[rel[2] as 'd' | 'h' | 'm']
  const at = Date.parse(value)
  if (Number.isNaN(at) || at <= now) throw new Error(`--expires: expected a duration like 30d, 12h, 45m or a future date, got '${value}'`)
  return at
}

export function registerAdmin(program: Command): void {
  const admin = program.command('admin').description('administration on a data directory (safe while a server runs)')

  withDataOptions(admin.command('create-token').description('create an API token for a user and print it once'))
    .requiredOption('--email <email>', 'the user')
    .addOption(new Option('--role <role...>', `restrict the token to these of the user's roles (${ROLES.join(', ')})`))
    .option('--expires <when>', 'expiry: 30d, 12h, 45m or an RFC 3339 date (default: never)')
    .option('--name <name>', 'a label to recognise the token by', 'cli')
    .option('--json', 'machine-readable output')
    .action(async (opts) => {
      const roles = (opts.role as string[] | undefined)?.map((r) => {
        if (!isRole(r)) throw new Error(`--role: '${r}' is not one of ${ROLES.join(', ')}`)
        return r as Role
      })
      const expiresAt = opts.expires ? parseExpiry(opts.expires) : null
      const ctx = await createAppContext(configFrom(opts), createLogger({ level: 'warn' }))
      try {
        const user = await ctx.store.repos.users.byEmail(opts.email)
        if (!user) throw new Error(`no user with email ${opts.email}`)
        const issued = await issueToken(ctx.store.repos, user.id, { name: opts.name, roles: roles ?? null, expiresAt })
        if (opts.json) process.stdout.write(`${JSON.stringify({ token: issued.token, id: issued.record.id, expiresAt: expiresAt && new Date(expiresAt).toISOString() })}\n`)
        else process.stdout.write(`${issued.token}\n`)
      } finally {
        await ctx.close()
      }
    })

  withDataOptions(admin.command('rotate-master-key').description('add a new master key and re-wrap every data key under it (data is not re-encrypted)'))
    .option('--retire', 'afterwards, remove the old keys from the key file')
    .option('--json', 'machine-readable output')
    .action(async (opts) => {
      const ctx = await createAppContext(configFrom(opts), createLogger({ level: 'warn' }))
      try {
        const tty = process.stderr.isTTY
        const result = await ctx.envelope.rotateMasterKey((done, total) => {
          if (tty) process.stderr.write(`\rre-wrapping data keys ${done}/${total}`)
        })
        if (tty) process.stderr.write('\n')
        const retired = opts.retire ? ctx.keyring.retireOldKeys() : []
        if (opts.json) process.stdout.write(`${JSON.stringify({ ...result, retired })}\n`)
        else process.stdout.write(`master key ${result.masterKeyId} active; ${result.rewrapped} data keys re-wrapped${retired.length ? `; retired ${retired.join(', ')}` : ''}. Escrow the new key file now.\n`)
      } finally {
        await ctx.close()
      }
    })
}
