import { type Command, InvalidArgumentError, Option } from 'commander'
import { ROLES } from '../../core/access/actor.ts'
import { configFrom, withDataOptions } from '../config-options.ts'

/** `30d`, `12h`, `45m` or an RFC 3339 date → epoch ms; anything else (or not in the future) is bad usage. */
export function parseExpiry(value: string, now = Date.now()): number {
  const rel = /^(\d+)([dhm])$/.exec(value)
  if (rel && Number(rel[1]) > 0) return now + Number(rel[1]) * { d: 86_400_000, h: 3_600_000, m: 60_000 }[rel[2] as 'd' | 'h' | 'm']
  const at = rel ? Number.NaN : Date.parse(value)
  if (Number.isNaN(at) || at <= now) throw new InvalidArgumentError(`expected a duration like 30d, 12h, 45m or a future date, got '${value}'`)
  return at
}

const roleOption = (description: string) => new Option('--role <role...>', `${description} (${ROLES.join(', ')}); repeat or list several`).choices(ROLES)

/**
 * `louder admin …`: accounts and keys, on a data directory (safe while a server runs). Each command loads
 * its implementation when it runs (src/cli/admin-accounts.ts), so `louder --help` and other commands start fast.
 */
export function registerAdmin(program: Command): void {
  const admin = program.command('admin').description('administration on a data directory (safe while a server runs)')

  withDataOptions(admin.command('create-user').description('create an account; its password is the first line of stdin, or, from a terminal, generated and printed once'))
    .requiredOption('--email <email>', 'the sign-in email')
    .addOption(roleOption('roles to hold').makeOptionMandatory())
    .option('--org <name-or-id>', 'the organisation the user belongs to (partners)')
    .option('--name <display-name>', 'the name others see (default: the email)')
    .option('--generate-password', 'generate the password (printed once) even when stdin is not a terminal')
    .option('--json', 'machine-readable output')
    .action(async (opts) => (await import('../admin-accounts.ts')).createUserCommand(opts))

  withDataOptions(admin.command('create-token').description('create an API token for a user and print it once'))
    .requiredOption('--email <email>', 'the user')
    .addOption(roleOption("restrict the token to these of the user's roles"))
    .addOption(new Option('--expires <when>', 'expiry: 30d, 12h, 45m or an RFC 3339 date (default: never)').argParser((value) => parseExpiry(value)))
    .option('--name <name>', 'a label to recognise the token by', 'cli')
    .option('--json', 'machine-readable output')
    .action(async (opts) => (await import('../admin-accounts.ts')).createTokenCommand(opts))

  withDataOptions(admin.command('reset-2fa').description("remove a user's lost second factor; they enrol again at next sign-in"))
    .requiredOption('--email <email>', 'the user')
    .option('--json', 'machine-readable output')
    .action(async (opts) => (await import('../admin-accounts.ts')).resetTwoFactorCommand(opts))

  withDataOptions(admin.command('create-org').description('create an organisation (partners belong to one)'))
    .requiredOption('--name <name>', 'its name, unique ignoring case')
    .option('--json', 'machine-readable output')
    .action(async (opts) => (await import('../admin-accounts.ts')).createOrgCommand(opts))

  withDataOptions(admin.command('import-areas').description('import administrative boundaries (OCHA COD-AB or geoBoundaries GeoJSON, ADM1 or ADM2), all or nothing'))
    .argument('<file>', 'a GeoJSON FeatureCollection of Polygons/MultiPolygons')
    .addOption(
      new Option('--level <level>', 'the level of every feature, 1 or 2 (default: detected from its properties)').argParser((v) => {
        if (v !== '1' && v !== '2') throw new InvalidArgumentError(`expected 1 or 2, got '${v}'`)
        return Number(v) as 1 | 2
      }),
    )
    .option('--source <source>', 'where the file came from, kept with each area (default: the file name)')
    .option('--json', 'machine-readable output')
    .action(async (file: string, opts) => (await import('../admin-areas.ts')).importAreasCommand(file, opts))

  withDataOptions(admin.command('rotate-master-key').description('add a new master key and re-wrap every data key under it (data is not re-encrypted)'))
    .option('--retire', 'afterwards, remove the old keys from the key file')
    .option('--json', 'machine-readable output')
    .action(async (opts) => {
      const { createAppContext } = await import('../../app-context.ts')
      const { createLogger } = await import('../../log.ts')
      const ctx = await createAppContext(configFrom(opts), createLogger({ level: 'warn' }))
      try {
        const tty = process.stderr.isTTY
        const result = await ctx.envelope.rotateMasterKey((done, total) => {
          if (tty) process.stderr.write(`\rre-wrapping data keys ${done}/${total}`)
        })
        if (tty) process.stderr.write('\n')
        const retired = opts.retire ? ctx.keyring.retireOldKeys() : []
        const { cliAuditEntry } = await import('../cli-audit.ts')
        await ctx.store.repos.audit.append(
          cliAuditEntry('admin rotate-master-key', 'key.rotate', 'ok', { resourceType: 'master_key', resourceId: result.masterKeyId, detail: { rewrapped: result.rewrapped, retired } }),
        )
        if (opts.json) process.stdout.write(`${JSON.stringify({ ...result, retired })}\n`)
        else process.stdout.write(`master key ${result.masterKeyId} active; ${result.rewrapped} data keys re-wrapped${retired.length ? `; retired ${retired.join(', ')}` : ''}. Escrow the new key file now.\n`)
      } finally {
        await ctx.close()
      }
    })
}
