import { readFile } from 'node:fs/promises'
import { LouderError } from '../core/errors.ts'
import type { DialectName } from '../db/database.ts'

/**
 * The backup file, version 2: an age file (https://age-encryption.org/v1) encrypted to one or more
 * recipients, whose plaintext is a POSIX tar archive holding, in this order:
 *
 *   louder-backup.json           the manifest (BackupManifest)
 *   keys/master.key              the master key file: the backup carries the key that opens its sealed data
 *   db/<table>/<nnnnnnnn>.jsonl  each table's rows in dependency order, one JSON object per line, in parts
 *                                of a few MiB (a tar entry declares its size up front, and a table is
 *                                streamed, never held whole); concatenate the parts in name order
 *   blobs/<sha256>               every blob named by the SHA-256 of its bytes
 *   sealed/<name>                every named blob (sealed originals, named after their data key; version 2)
 *   SHA256SUMS                   `sha256sum -c` lines for every file above except blobs/ (their names are
 *                                their checksums)
 *
 * So an operator can always recover by hand, without Louder:
 *
 *   age -d -i key.txt backup.age | tar x && sha256sum -c SHA256SUMS
 *
 * The format version changes whenever a reader of the previous version would misread a new file.
 */
export const BACKUP_FORMAT = 'louder-backup'
export const BACKUP_FORMAT_VERSION = 2
/** Version 1 had no sealed/ entries; it reads the same way. */
const READABLE_VERSIONS = [1, 2]

export const MANIFEST_PATH = 'louder-backup.json'
export const MASTER_KEY_PATH = 'keys/master.key'
export const SUMS_PATH = 'SHA256SUMS'
export const DB_PART = /^db\/([a-z][a-z0-9_]*)\/(\d{8})\.jsonl$/
export const BLOB_PATH = /^blobs\/([0-9a-f]{64})$/
export const SEALED_PATH = /^sealed\/([0-9a-f]{64})$/

export function dbPartPath(table: string, part: number): string {
  return `db/${table}/${String(part).padStart(8, '0')}.jsonl`
}

/** What a backup holds; written first so a restore can refuse a backup it cannot read before doing any work. */
export interface BackupManifest {
  format: typeof BACKUP_FORMAT
  formatVersion: number
  louderVersion: string
  /** RFC 3339 UTC: the moment of the database snapshot. */
  createdAt: string
  source: { dialect: DialectName }
  /** Schema migrations applied to the source database, in order; a restore loads the rows at this schema. */
  migrations: string[]
  /** Every table in the order a restore loads it, with its row count in the snapshot. */
  tables: { name: string; rows: number }[]
  /** Fingerprints of the master keys in keys/master.key. */
  masterKeyIds: string[]
  blobs: { count: number; bytes: number }
}

/** Why a backup or restore stopped; `code` is stable for scripts. */
export class BackupError extends LouderError {}

/** Reads and checks a manifest; an unknown format version is refused before anything is written. */
export function parseManifest(text: string): BackupManifest {
  let m: unknown
  try {
    m = JSON.parse(text)
  } catch {
    throw damaged('its manifest is not JSON')
  }
  if (!isObject(m) || m.format !== BACKUP_FORMAT) throw damaged('it has no Louder backup manifest')
  if (!READABLE_VERSIONS.includes(m.formatVersion as number))
    throw new BackupError(
      'backup_unsupported',
      `this backup has format version ${String(m.formatVersion)}${typeof m.louderVersion === 'string' ? ` (made by Louder ${m.louderVersion})` : ''}; ` +
        `this Louder reads versions ${READABLE_VERSIONS.join(' and ')}: restore it with the Louder version that made it, or a newer one`,
    )
  const ok =
    typeof m.louderVersion === 'string' &&
    typeof m.createdAt === 'string' &&
    isObject(m.source) &&
    (m.source.dialect === 'sqlite' || m.source.dialect === 'postgres') &&
    Array.isArray(m.migrations) &&
    m.migrations.every((n) => typeof n === 'string') &&
    Array.isArray(m.tables) &&
    m.tables.every((t) => isObject(t) && typeof t.name === 'string' && isCount(t.rows)) &&
    Array.isArray(m.masterKeyIds) &&
    m.masterKeyIds.every((id) => typeof id === 'string') &&
    isObject(m.blobs) &&
    isCount(m.blobs.count) &&
    isCount(m.blobs.bytes)
  if (!ok) throw damaged('its manifest is incomplete')
  return m as unknown as BackupManifest
}

export function damaged(why: string): BackupError {
  return new BackupError('backup_damaged', `the backup is damaged or not a Louder backup: ${why}`)
}

/**
 * Reads age recipients: `age1…` strings given directly, and files with one per line where blank lines and
 * lines starting with # are ignored (the format of `age -R`).
 */
export async function readRecipients(recipients: string[], files: string[]): Promise<string[]> {
  const out: { value: string; from: string }[] = recipients.map((r, i) => ({ value: r.trim(), from: `--recipient #${i + 1}` }))
  for (const file of files) {
    let text: string
    try {
      text = await readFile(file, 'utf8')
    } catch (err) {
      throw new BackupError('backup_recipients', `cannot read recipients file ${file}: ${(err as Error).message}`)
    }
    text.split(/\r?\n/).forEach((line, i) => {
      const value = line.trim()
      if (value !== '' && !value.startsWith('#')) out.push({ value, from: `${file} line ${i + 1}` })
    })
  }
  for (const { value, from } of out)
    if (!/^age1[0-9a-z]+$/.test(value))
      throw new BackupError('backup_recipients', `${from}: '${value.slice(0, 80)}' is not an age recipient (age1…)`)
  return [...new Set(out.map((r) => r.value))]
}

/** Reads an age identity file: AGE-SECRET-KEY-… lines; blank lines and # comments are ignored. */
export async function readIdentities(file: string): Promise<string[]> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    throw new BackupError('backup_identity', `cannot read identity file ${file}: ${(err as Error).message}`)
  }
  const identities: string[] = []
  text.split(/\r?\n/).forEach((line, i) => {
    const value = line.trim()
    if (value === '' || value.startsWith('#')) return
    // Never echo the line: it may be a secret key with a typo.
    if (!value.startsWith('AGE-SECRET-KEY-')) throw new BackupError('backup_identity', `${file} line ${i + 1} is not an age identity (AGE-SECRET-KEY-…)`)
    identities.push(value)
  })
  if (identities.length === 0) throw new BackupError('backup_identity', `${file} holds no age identity (AGE-SECRET-KEY-…)`)
  return identities
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
}
