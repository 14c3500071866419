import { existsSync, statSync } from 'node:fs'
import { resolve } from 'node:path'
import { ENV_NAMES, type RawSettings } from './read-env.ts'

/** Validated, defaulted configuration; built once at start-up and passed down, never re-read. */
export interface Config {
  dataDir: string
  port: number
  host: string
  publicUrl: string
  /** A postgres:// URL selects PostgreSQL; absent means the embedded SQLite database in dataDir. */
  databaseUrl: string | null
  /** Where the master key lives; defaults to DATA/keys/master.key. */
  masterKeyFile: string
  /** Resumable uploads (tus): the largest Upload-Length accepted, and how long an upload that receives nothing is kept. */
  uploads: { maxBytes: number; expireAfterMs: number }
}

/** 4 GiB: a long video; larger declared lengths are refused at creation (413). */
export const DEFAULT_UPLOAD_MAX_BYTES = 4 * 1024 ** 3
/** Satellite sessions can be a night apart: an upload is kept three days after its last byte. */
export const DEFAULT_UPLOAD_EXPIRE_HOURS = 72

/** A setting that cannot be used; the message names the setting and what is allowed. */
export class ConfigError extends Error {
  readonly code = 'config_invalid'
  readonly setting: string
  constructor(setting: string, allowed: string, value?: string) {
    // Control characters are escaped so the message stays the one line the CLI promises.
    const shown = value?.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)
    super(`${setting}: ${shown === undefined ? 'missing' : `'${shown}' is not allowed`}; expected ${allowed}`)
    this.name = 'ConfigError'
    this.setting = setting
  }
}

/**
 * Merges flags over environment over defaults and validates each value.
 * `flags` use the same keys as the environment; a flag named in an error is shown as its env name
 * and its flag so the operator finds it either way.
 */
export function buildConfig(env: RawSettings, flags: RawSettings = {}): Config {
  const raw: RawSettings = { ...env, ...stripUndefined(flags) }
  const name = (key: keyof RawSettings) => `${ENV_NAMES[key]} (--${kebab(key)})`

  const dataDir = resolve(raw.dataDir ?? 'data')
  if (raw.dataDir !== undefined && raw.dataDir.trim() === '') throw new ConfigError(name('dataDir'), 'a directory path')

  const port = raw.port === undefined ? 8080 : Number(raw.port)
  if (!/^\d+$/.test(raw.port ?? '8080') || !Number.isInteger(port) || port < 0 || port > 65535)
    throw new ConfigError(name('port'), 'a port number 0–65535 (0 picks a free port)', raw.port)

  const host = raw.host ?? 'localhost'
  if (!/^[A-Za-z0-9.:\-[\]]+$/.test(host)) throw new ConfigError(name('host'), 'a host name or IP address', raw.host)

  const publicUrl = raw.publicUrl ?? `http://localhost:${port}`
  // The URL parser silently drops tabs and newlines; a URL holding them is a pasting accident, not an address.
  if (/[\u0000-\u0020\u007f]/.test(publicUrl)) throw new ConfigError(name('publicUrl'), 'an absolute http:// or https:// URL without spaces or control characters', raw.publicUrl)
  let parsedPublic: URL
  try {
    parsedPublic = new URL(publicUrl)
  } catch {
    throw new ConfigError(name('publicUrl'), 'an absolute http:// or https:// URL', raw.publicUrl)
  }
  if (!['http:', 'https:'].includes(parsedPublic.protocol) || parsedPublic.search || parsedPublic.hash)
    throw new ConfigError(name('publicUrl'), 'an absolute http:// or https:// URL without query or fragment', raw.publicUrl)

  const databaseUrl = raw.databaseUrl ?? null
  if (databaseUrl !== null && !/^postgres(ql)?:\/\/.+/.test(databaseUrl))
    throw new ConfigError(name('databaseUrl'), 'a postgres:// URL (leave it unset for the embedded SQLite database)', redactUrl(databaseUrl))

  // Checked here so the operator reads the setting's name, not an EEXIST or EISDIR from deep in start-up.
  if (existsSync(dataDir) && !statSync(dataDir).isDirectory()) throw new ConfigError(name('dataDir'), 'a directory (this path is a file)', raw.dataDir)

  const masterKeyFile = resolve(raw.masterKeyFile ?? `${dataDir}/keys/master.key`)
  if (existsSync(masterKeyFile) && !statSync(masterKeyFile).isFile())
    throw new ConfigError(name('masterKeyFile'), 'a file holding the master key (this path is not a regular file)', raw.masterKeyFile ?? masterKeyFile)

  const uploadMaxBytes = raw.uploadMaxBytes === undefined ? DEFAULT_UPLOAD_MAX_BYTES : Number(raw.uploadMaxBytes)
  if (!/^\d+$/.test(raw.uploadMaxBytes ?? '1') || !Number.isSafeInteger(uploadMaxBytes) || uploadMaxBytes < 1)
    throw new ConfigError(ENV_NAMES.uploadMaxBytes, 'a whole number of bytes, at least 1', raw.uploadMaxBytes)
  const uploadExpireHours = raw.uploadExpireHours === undefined ? DEFAULT_UPLOAD_EXPIRE_HOURS : Number(raw.uploadExpireHours)
  if (!/^\d+(\.\d+)?$/.test(raw.uploadExpireHours ?? '1') || !(uploadExpireHours > 0) || uploadExpireHours > 24 * 365)
    throw new ConfigError(ENV_NAMES.uploadExpireHours, 'a number of hours above 0, at most a year', raw.uploadExpireHours)

  return {
    dataDir,
    port,
    host,
    publicUrl: publicUrl.replace(/\/+$/, ''),
    databaseUrl,
    masterKeyFile,
    uploads: { maxBytes: uploadMaxBytes, expireAfterMs: Math.round(uploadExpireHours * 3_600_000) },
  }
}

function stripUndefined(flags: RawSettings): RawSettings {
  return Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined)) as RawSettings
}

function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)
}

/**
 * Database URLs carry passwords; never echo one back. People paste passwords unencoded, so everything
 * between the user name and the last `@` is hidden (a password holding `/`, `@` or `:` included), and so
 * is a libpq-style `password=` parameter.
 */
export function redactUrl(url: string): string {
  let out = url
  const start = out.indexOf('//')
  const at = out.lastIndexOf('@')
  if (start >= 0 && at > start) {
    const userinfo = out.slice(start + 2, at)
    const colon = userinfo.indexOf(':')
    if (colon >= 0) out = `${out.slice(0, start + 2)}${userinfo.slice(0, colon)}:***${out.slice(at)}`
  }
  return out.replace(/([?&]password=)[^&#]*/gi, '$1***')
}
