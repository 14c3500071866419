/** The settings Louder takes from the environment, as raw strings. The only reader of process.env. */
export interface RawSettings {
  dataDir?: string
  port?: string
  host?: string
  publicUrl?: string
  databaseUrl?: string
  masterKeyFile?: string
  uploadMaxBytes?: string
  uploadExpireHours?: string
}

export const ENV_NAMES: Record<keyof RawSettings, string> = {
  dataDir: 'LOUDER_DATA_DIR',
  port: 'LOUDER_PORT',
  host: 'LOUDER_HOST',
  publicUrl: 'LOUDER_PUBLIC_URL',
  databaseUrl: 'LOUDER_DATABASE_URL',
  masterKeyFile: 'LOUDER_MASTER_KEY_FILE',
  uploadMaxBytes: 'LOUDER_UPLOAD_MAX_BYTES',
  uploadExpireHours: 'LOUDER_UPLOAD_EXPIRE_HOURS',
}

export function readEnv(env: NodeJS.ProcessEnv = process.env): RawSettings {
  const raw: RawSettings = {}
  for (const [key, name] of Object.entries(ENV_NAMES) as [keyof RawSettings, string][]) {
    const value = env[name]
    if (value !== undefined && value !== '') raw[key] = value
  }
  return raw
}

/** The API token for CLI commands that talk to a server (`--token` wins). */
export function readTokenEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.LOUDER_TOKEN || undefined
}

/** The passphrase of a field folder's restricted files (`louder field`; `--passphrase-file` wins). */
export function readFieldPassphraseEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.LOUDER_FIELD_PASSPHRASE || undefined
}
