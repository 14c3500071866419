import { type Command, Option } from 'commander'
import { buildConfig, type Config } from '../config/build-config.ts'
import { readEnv, type RawSettings } from '../config/read-env.ts'

/** Adds the flags that mirror the LOUDER_* environment variables (flags win). */
export function withDataOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--data <dir>', 'data directory (LOUDER_DATA_DIR, default ./data)'))
    .addOption(new Option('--database-url <url>', 'postgres:// URL (LOUDER_DATABASE_URL); unset = embedded SQLite in the data directory'))
    .addOption(new Option('--master-key-file <file>', 'master key file (LOUDER_MASTER_KEY_FILE, default DATA/keys/master.key)'))
}

export function withServerOptions(cmd: Command): Command {
  return withDataOptions(cmd)
    .addOption(new Option('--port <port>', 'port to listen on (LOUDER_PORT, default 8080)'))
    .addOption(new Option('--host <host>', 'address to listen on (LOUDER_HOST, default localhost)'))
    .addOption(new Option('--public-url <url>', 'URL the public reaches this server at (LOUDER_PUBLIC_URL)'))
}

/** Builds the validated config from environment and flags; a bad value throws one line naming it. */
export function configFrom(opts: Record<string, unknown>): Config {
  const flags: RawSettings = {
    dataDir: opts.data as string | undefined,
    databaseUrl: opts.databaseUrl as string | undefined,
    masterKeyFile: opts.masterKeyFile as string | undefined,
    port: opts.port as string | undefined,
    host: opts.host as string | undefined,
    publicUrl: opts.publicUrl as string | undefined,
  }
  return buildConfig(readEnv(), flags)
}

/** Resolves when the process is asked to stop (Ctrl-C, SIGTERM from a service manager). */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      resolve(signal)
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  })
}
