import { createHash, type Hash } from 'node:crypto'
import { createReadStream, existsSync } from 'node:fs'
import { mkdir, readdir, rm, stat } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { Decrypter } from 'age-encryption'
import { type Kysely, sql } from 'kysely'
import { makeFsBlobStore } from '../blobs/fs-blob-store.ts'
import type { Config } from '../config/build-config.ts'
import { BlobHashMismatchError } from '../core/ports/blob-store.ts'
import { connectDatabase, type DialectAdapter } from '../db/database.ts'
import { checkDumpRow, type DumpRow, insertRows, isTableName, type TableName } from '../db/dump.ts'
import { appliedMigrations, listTables, migrateInTransaction, migrationNames } from '../db/migrations.ts'
import { TABLES_IN_DEPENDENCY_ORDER, type Database } from '../db/schema.ts'
import { Keyring, writeSecretFile } from '../protection/keyring.ts'
import { VERSION } from '../version.ts'
import {
  BackupError,
  type BackupManifest,
  BLOB_PATH,
  SEALED_PATH,
  damaged,
  DB_PART,
  MANIFEST_PATH,
  MASTER_KEY_PATH,
  parseManifest,
  SUMS_PATH,
} from './backup-format.ts'
import type { ProgressListener } from './progress.ts'
import { readTar, type TarEntry, TarFormatError } from './tar-stream.ts'

export interface RestoreOptions {
  /** Where to restore: an empty or new data directory, an empty database, a master key file that does not exist. */
  config: Pick<Config, 'dataDir' | 'databaseUrl' | 'masterKeyFile'>
  /** The backup file (made by `louder backup`). */
  input: string
  /** age identities (`AGE-SECRET-KEY-…`), one of which the backup was encrypted to. */
  identities: string[]
  /** Named in error messages (the identity file), never the identities themselves. */
  identitySource?: string
  signal?: AbortSignal
  onProgress?: ProgressListener
}

export interface RestoreReport {
  dataDir: string
  database: string
  masterKeyFile: string
  manifest: BackupManifest
}

const ROWS_PER_BATCH = 500
const BATCH_BYTES = 4 << 20
const MAX_LINE = 64 << 20
const MAX_SMALL_FILE = 16 << 20

/**
 * `louder restore`: the inverse of backup(), into a fresh place only, so a restore never merges into live
 * data. The rows, the schema and the key check commit in one database transaction that starts before the
 * first row and ends after the last byte of the file was authenticated (age detects a cut or altered file
 * only at the damaged chunk or at the end): a damaged backup leaves nothing behind, because the
 * transaction rolls back and the files this run created (data directory contents, key file) are removed.
 */
export async function restore(options: RestoreOptions): Promise<RestoreReport> {
  const dataDir = resolve(options.config.dataDir)
  const masterKeyFile = resolve(options.config.masterKeyFile)
  const { databaseUrl } = options.config
  const input = resolve(options.input)
  const idSource = options.identitySource ?? 'the identities given'

  // Refuse before anything is read or written.
  await checkEmptyDir(dataDir)
  if (existsSync(masterKeyFile))
    throw new BackupError('restore_target_not_empty', `master key file ${masterKeyFile} already exists; a restore never replaces a key`)
  try {
    if (!(await stat(input)).isFile()) throw new Error('not a file')
  } catch (err) {
    throw new BackupError('backup_missing', `cannot read backup ${input}: ${(err as Error).message}`)
  }

  const decrypter = new Decrypter()
  for (const identity of options.identities) {
    try {
      decrypter.addIdentity(identity)
    } catch {
      throw new BackupError('backup_identity', `${idSource} holds an identity that is not a valid age secret key`)
    }
  }
  let plain: ReadableStream<Uint8Array>
  const file = createReadStream(input)
  try {
    plain = await decrypter.decrypt(ReadableStream.from(file) as ReadableStream<Uint8Array>)
  } catch (err) {
    file.destroy()
    const message = (err as Error).message ?? ''
    if (/no identity matched/.test(message))
      throw new BackupError('backup_wrong_identity', `${idSource} cannot open ${input}: it was encrypted to other recipients (or its header is damaged)`)
    if (/HMAC/.test(message)) throw damaged(`its age header was altered (${input})`)
    throw damaged(`${input} is not an age-encrypted file (${message})`)
  }

  const entries = readTar(authenticated(plain, options.signal))
  // What this run created, so that a failure can take it away again.
  let dataDirCreated: string | null | undefined // the topmost directory mkdir made; null: it existed, empty
  let keyDirCreated: string | undefined
  let keyWritten = false
  let db: DialectAdapter | undefined
  try {
    const sums = new Map<string, string>()
    const manifestBytes = await readSmall(await nextEntry(entries, MANIFEST_PATH))
    sums.set(MANIFEST_PATH, sha256(manifestBytes))
    const manifest = parseManifest(manifestBytes.toString('utf8'))
    const tables = checkTables(manifest)
    checkMigrations(manifest, databaseUrl ? 'postgres' : 'sqlite')
    const keyText = await readSmall(await nextEntry(entries, MASTER_KEY_PATH))
    sums.set(MASTER_KEY_PATH, sha256(keyText))

    dataDirCreated = (await mkdir(dataDir, { recursive: true, mode: 0o700 })) ?? null
    if (!masterKeyFile.startsWith(`${dataDir}/`)) keyDirCreated = await mkdir(dirname(masterKeyFile), { recursive: true, mode: 0o700 })
    db = connectDatabase({ dataDir, databaseUrl, poolSize: 1 })
    await checkEmptyDatabase(db, manifest)
    const blobs = await makeFsBlobStore(join(dataDir, 'blobs'))

    const target = db
    await target.writeTransaction(async (trx) => {
      const any = trx as unknown as Kysely<any>
      // The rows are loaded at the schema they were dumped from, then migrated with this Louder's migrations,
      // all in this transaction: an old backup restores into a new Louder, and a failure leaves no schema behind.
      await migrateInTransaction(any, target.name, manifest.migrations[manifest.migrations.length - 1]!)

      const rowCounts = new Map<string, number>()
      const totalRows = manifest.tables.reduce((n, t) => n + t.rows, 0)
      let doneRows = 0
      let tableIndex = 0
      let lastPart = 0
      let blobCount = 0
      let blobBytes = 0
      let sumsText: string | null = null
      options.onProgress?.({ phase: 'database', done: 0, total: totalRows, unit: 'rows' })

      for await (const entry of entries) {
        if (sumsText !== null) throw damaged(`${entry.path.slice(0, 120)} follows ${SUMS_PATH}, which must come last`)
        const part = DB_PART.exec(entry.path)
        const blob = BLOB_PATH.exec(entry.path)
        const sealed = SEALED_PATH.exec(entry.path)
        if (part) {
          if (blobCount > 0) throw damaged(`${entry.path} follows the blobs`)
          const table = part[1] as TableName
          const index = tables.indexOf(table)
          if (index < 0) throw damaged(`${entry.path} is for a table the manifest does not list`)
          if (index < tableIndex) throw damaged(`${entry.path} is out of order`)
          if (index > tableIndex) {
            tableIndex = index
            lastPart = 0
          }
          if (Number(part[2]) !== ++lastPart) throw damaged(`${entry.path} is out of order (expected part ${lastPart})`)
          const hash = createHash('sha256')
          const loaded = await loadPart(trx, table, hashing(entry.body, hash), (n) => {
            doneRows += n
            options.onProgress?.({ phase: 'database', done: doneRows, total: totalRows, unit: 'rows' })
          })
          rowCounts.set(table, (rowCounts.get(table) ?? 0) + loaded)
          sums.set(entry.path, hash.digest('hex'))
        } else if (blob || sealed) {
          if (blobCount === 0) options.onProgress?.({ phase: 'blobs', done: 0, total: manifest.blobs.bytes, unit: 'bytes' })
          if (blob) {
            // The blob store checks the bytes against the name before the blob becomes visible.
            try {
              await blobs.put(blob[1]!, entry.body)
            } catch (err) {
              if (err instanceof BlobHashMismatchError) throw damaged(`${entry.path} does not match its name (${err.message})`)
              throw err
            }
          } else {
            // A named blob is checked against SHA256SUMS at the end, like the database parts.
            const hash = createHash('sha256')
            await blobs.putNamed(sealed![1]!, hashing(entry.body, hash))
            sums.set(entry.path, hash.digest('hex'))
          }
          blobCount++
          blobBytes += entry.size
          options.onProgress?.({ phase: 'blobs', done: blobBytes, total: manifest.blobs.bytes, unit: 'bytes' })
        } else if (entry.path === SUMS_PATH) {
          sumsText = (await readSmall(entry)).toString('utf8')
        } else {
          throw damaged(`it holds an unexpected file ${entry.path.slice(0, 120)}`)
        }
      }
      // The loop ran to the end of the file, so every byte has been authenticated.

      if (sumsText === null) throw damaged(`${SUMS_PATH} is missing (the file was cut short)`)
      checkSums(sumsText, sums)
      for (const { name, rows } of manifest.tables) {
        const got = rowCounts.get(name) ?? 0
        if (got !== rows) throw damaged(`table ${name} has ${got} rows; the manifest says ${rows}`)
      }
      if (blobCount !== manifest.blobs.count || blobBytes !== manifest.blobs.bytes)
        throw damaged(`it holds ${blobCount} blobs (${blobBytes} bytes); the manifest says ${manifest.blobs.count} (${manifest.blobs.bytes} bytes)`)

      await migrateInTransaction(any, target.name, null)

      // The key goes in last, and is checked against the manifest and against every data key restored.
      keyWritten = true
      writeSecretFile(masterKeyFile, keyText.toString('utf8'))
      let keyring: Keyring
      try {
        keyring = Keyring.open(masterKeyFile, { create: false })
      } catch (err) {
        throw damaged(`${MASTER_KEY_PATH}: ${(err as Error).message}`)
      }
      if ([...keyring.ids].sort().join() !== [...manifest.masterKeyIds].sort().join())
        throw damaged(`${MASTER_KEY_PATH} holds keys ${keyring.ids.join(', ')}; the manifest says ${manifest.masterKeyIds.join(', ')}`)
      const used = await trx.selectFrom('data_keys').select('kek_id').distinct().where('destroyed_at', 'is', null).execute()
      const missing = used.map((r) => r.kek_id).filter((id) => !keyring.ids.includes(id))
      if (missing.length) throw damaged(`data keys are wrapped by master key(s) ${missing.join(', ')}, which the backup lacks`)
    })
    const report: RestoreReport = { dataDir, database: db.describe(), masterKeyFile, manifest }
    await db.close()
    db = undefined
    return report
  } catch (err) {
    await entries.return(undefined).catch(() => {})
    await db?.close().catch(() => {})
    if (keyWritten) await rm(masterKeyFile, { force: true })
    if (keyDirCreated) await rm(keyDirCreated, { recursive: true, force: true })
    if (dataDirCreated) await rm(dataDirCreated, { recursive: true, force: true })
    else if (dataDirCreated === null) for (const name of await readdir(dataDir)) await rm(join(dataDir, name), { recursive: true, force: true })
    throw err instanceof TarFormatError ? damaged(err.message) : err
  }
}

/** Refuses a data directory that holds anything: a restore never merges into live data. */
async function checkEmptyDir(dir: string): Promise<void> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return
    if (code === 'ENOTDIR') throw new BackupError('restore_target_not_empty', `${dir} is a file, not a directory`)
    throw err
  }
  if (names.length > 0)
    throw new BackupError('restore_target_not_empty', `${dir} is not empty; restore into a new or empty directory (a restore never merges into live data)`)
}

/** Refuses a database that holds any Louder row, or a schema newer than the backup's. */
async function checkEmptyDatabase(db: DialectAdapter, manifest: BackupManifest): Promise<void> {
  const any = db.kysely as unknown as Kysely<any>
  const present = await listTables(any, db.name)
  for (const table of TABLES_IN_DEPENDENCY_ORDER) {
    if (!present.includes(table)) continue
    const row = await any.selectFrom(table).select(sql<number>`1`.as('one')).limit(1).executeTakeFirst()
    if (row)
      throw new BackupError(
        'restore_target_not_empty',
        `the database ${db.describe()} already holds Louder data (table ${table} has rows); restore into an empty database (a restore never merges into live data)`,
      )
  }
  const applied = await appliedMigrations(any, db.name)
  if (applied.some((name, i) => manifest.migrations[i] !== name))
    throw new BackupError(
      'restore_target_not_empty',
      `the database ${db.describe()} has schema migrations (${applied.join(', ')}) beyond this backup's; restore into a new, empty database`,
    )
}

/** The manifest's tables, known to this Louder and listed in dependency order. */
function checkTables(manifest: BackupManifest): TableName[] {
  let previous = -1
  return manifest.tables.map(({ name }) => {
    if (!isTableName(name)) throw damaged(`its manifest lists a table ${name.slice(0, 80)} that this Louder (${VERSION}) does not know`)
    const index = TABLES_IN_DEPENDENCY_ORDER.indexOf(name)
    if (index <= previous) throw damaged('its manifest lists the tables out of dependency order')
    previous = index
    return name
  })
}

/** The backup's schema must be one this Louder can reach: its migrations a prefix of ours. */
function checkMigrations(manifest: BackupManifest, dialect: 'sqlite' | 'postgres'): void {
  const known = migrationNames(dialect)
  if (manifest.migrations.length === 0) throw damaged('its manifest lists no schema migrations')
  const strange = manifest.migrations.find((name, i) => known[i] !== name)
  if (strange !== undefined)
    throw new BackupError(
      'backup_unsupported',
      `this backup's database schema (migration ${strange}, Louder ${manifest.louderVersion}) is not one this Louder (${VERSION}) knows; ` +
        `restore it with Louder ${manifest.louderVersion} or newer`,
    )
}

/** Streams one part's JSON lines into its table in batches. */
async function loadPart(trx: Kysely<Database>, table: TableName, body: AsyncIterable<Buffer>, onRows: (n: number) => void): Promise<number> {
  let batch: DumpRow[] = []
  let batchBytes = 0
  let count = 0
  const flush = async () => {
    try {
      await insertRows(trx, table, batch)
    } catch (err) {
      throw new BackupError('restore_failed', `restoring table ${table}: ${(err as Error).message}`)
    }
    onRows(batch.length)
    batch = []
    batchBytes = 0
  }
  for await (const line of lines(body, table)) {
    let value: unknown
    try {
      value = JSON.parse(line)
    } catch {
      throw damaged(`row ${count + 1} of a ${table} part is not JSON`)
    }
    try {
      batch.push(checkDumpRow(table, value))
    } catch (err) {
      throw damaged((err as Error).message)
    }
    count++
    batchBytes += line.length
    if (batch.length >= ROWS_PER_BATCH || batchBytes >= BATCH_BYTES) await flush()
  }
  if (batch.length) await flush()
  return count
}

async function* lines(body: AsyncIterable<Buffer>, table: string): AsyncGenerator<string> {
  let pending: Buffer[] = []
  let pendingBytes = 0
  for await (const piece of body) {
    let start = 0
    for (let nl = piece.indexOf(10); nl !== -1; nl = piece.indexOf(10, start)) {
      pending.push(piece.subarray(start, nl))
      yield Buffer.concat(pending).toString('utf8')
      pending = []
      pendingBytes = 0
      start = nl + 1
    }
    if (start < piece.length) {
      pending.push(piece.subarray(start))
      pendingBytes += piece.length - start
      if (pendingBytes > MAX_LINE) throw damaged(`a row of ${table} is longer than ${MAX_LINE} bytes`)
    }
  }
  if (pendingBytes > 0) throw damaged(`a part of ${table} does not end with a newline`)
}

/** The plaintext of the age file; any failure to decrypt (altered, cut short, unreadable) is named as such. */
async function* authenticated(plain: ReadableStream<Uint8Array>, signal: AbortSignal | undefined): AsyncGenerator<Uint8Array> {
  const it = plain[Symbol.asyncIterator]()
  let offset = 0
  try {
    for (;;) {
      signal?.throwIfAborted()
      let next: IteratorResult<Uint8Array>
      try {
        next = await it.next()
      } catch (err) {
        throw damaged(`decryption failed after ${offset} bytes: the file was altered or cut short (${(err as Error).message})`)
      }
      if (next.done) return
      offset += next.value.length
      yield next.value
    }
  } finally {
    await it.return?.()
  }
}

async function nextEntry(entries: AsyncGenerator<TarEntry>, path: string): Promise<TarEntry> {
  const { done, value } = await entries.next()
  if (done) throw damaged(`it ends before ${path}`)
  if (value.path !== path) throw damaged(`expected ${path}, found ${value.path.slice(0, 120)}`)
  return value
}

async function readSmall(entry: TarEntry): Promise<Buffer> {
  if (entry.size > MAX_SMALL_FILE) throw damaged(`${entry.path} is implausibly large (${entry.size} bytes)`)
  const pieces: Buffer[] = []
  for await (const piece of entry.body) pieces.push(piece)
  return Buffer.concat(pieces)
}

function checkSums(text: string, computed: Map<string, string>): void {
  const listed = new Map<string, string>()
  for (const line of text.split('\n')) {
    if (line === '') continue
    const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line)
    if (!m) throw damaged(`${SUMS_PATH} has a malformed line`)
    listed.set(m[2]!, m[1]!)
  }
  for (const [path, hash] of computed) {
    if (!listed.has(path)) throw damaged(`${SUMS_PATH} does not list ${path}`)
    if (listed.get(path) !== hash) throw damaged(`${path} does not match its checksum in ${SUMS_PATH}`)
  }
  for (const path of listed.keys()) if (!computed.has(path)) throw damaged(`${SUMS_PATH} lists ${path.slice(0, 120)}, which the backup lacks`)
}

async function* hashing(body: AsyncIterable<Buffer>, hash: Hash): AsyncGenerator<Buffer> {
  for await (const piece of body) {
    hash.update(piece)
    yield piece
  }
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex')
}
