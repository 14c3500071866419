import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { type FileHandle, open, rename, rm } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { Encrypter } from 'age-encryption'
import type { Kysely } from 'kysely'
import { makeFsBlobStore } from '../blobs/fs-blob-store.ts'
import type { Config } from '../config/build-config.ts'
import { BlobNotFoundError, type BlobStore } from '../core/ports/blob-store.ts'
import { connectDatabase } from '../db/database.ts'
import { SQLITE_FILE } from '../db/dialect/sqlite.ts'
import { countRows, dumpTable, isTableName, type TableName } from '../db/dump.ts'
import { appliedMigrations, listTables, MIGRATION_TABLE, migrationNames } from '../db/migrations.ts'
import { TABLES_IN_DEPENDENCY_ORDER, type Database } from '../db/schema.ts'
import { Keyring } from '../protection/keyring.ts'
import { VERSION } from '../version.ts'
import {
  BACKUP_FORMAT,
  BACKUP_FORMAT_VERSION,
  BackupError,
  type BackupManifest,
  dbPartPath,
  MANIFEST_PATH,
  MASTER_KEY_PATH,
  SUMS_PATH,
} from './backup-format.ts'
import type { ProgressListener } from './progress.ts'
import { TarWriter } from './tar-stream.ts'

export interface BackupOptions {
  config: Pick<Config, 'dataDir' | 'databaseUrl' | 'masterKeyFile'>
  /** The backup file to write; it appears only once complete (written as FILE.partial, fsynced, renamed). */
  out: string
  /** age recipients (`age1…`); at least one. Any one of their identities can restore the backup. */
  recipients: string[]
  /** Replace `out` if it exists. */
  force?: boolean
  signal?: AbortSignal
  onProgress?: ProgressListener
}

export interface BackupReport {
  file: string
  /** Size of the encrypted file. */
  bytes: number
  recipients: number
  manifest: BackupManifest
}

/** Rows of one table are written in tar entries of about this size: enough to keep tar overhead small, bounded memory. */
const PART_BYTES = 4 << 20

/**
 * `louder backup`: a consistent online snapshot of a data directory, safe while a server runs on it.
 *
 * The database is read inside one snapshot (SQLite: a WAL read transaction; PostgreSQL: REPEATABLE READ),
 * as a portable logical dump, so a backup of either database restores into either. Blobs are listed after
 * the snapshot began and copied after it ended: blobs are written before the rows that name them and are
 * never changed, so the copy holds every blob the snapshot refers to (and perhaps a few newer ones). The
 * master key file goes in too, so the whole archive is encrypted to the recipients with age and the
 * plaintext never touches the disk. Everything streams: memory does not grow with the data.
 *
 * The file is an age-encrypted tar (layout in backup-format.ts); recover by hand with
 * `age -d -i key.txt backup.age | tar x` (see docs/backup.md).
 */
export async function backup(options: BackupOptions): Promise<BackupReport> {
  const { dataDir, databaseUrl, masterKeyFile } = options.config
  const encrypter = new Encrypter()
  if (options.recipients.length === 0)
    throw new BackupError(
      'backup_no_recipient',
      'no recipient: give --recipient age1… or --recipients-file FILE (the backup holds the master key, so it is only ever written encrypted)',
    )
  for (const recipient of options.recipients) {
    try {
      encrypter.addRecipient(recipient)
    } catch {
      throw new BackupError('backup_recipients', `'${recipient.slice(0, 80)}' is not a valid age recipient`)
    }
  }

  const out = resolve(options.out)
  const partial = `${out}.partial`
  if (existsSync(out) && !options.force) throw new BackupError('backup_exists', `${out} already exists; choose another name, or pass --force to replace it`)
  if (!databaseUrl && !existsSync(join(dataDir, SQLITE_FILE)))
    throw new BackupError('backup_no_database', `no Louder database in ${dataDir} (${SQLITE_FILE} is missing); check --data`)

  const db = connectDatabase({ dataDir, databaseUrl, poolSize: 1 })
  let handle: FileHandle | undefined
  let sink: EncryptedSink | undefined
  try {
    const blobs = await makeFsBlobStore(join(dataDir, 'blobs'), { sweepTemp: false })
    try {
      handle = await open(partial, 'wx', 0o600)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST')
        throw new BackupError(
          'backup_in_progress',
          `${partial} exists: another backup is writing it, or one was interrupted; remove it if no backup is running`,
        )
      throw new BackupError('backup_output', `cannot write ${partial}: ${(err as Error).message}`)
    }
    sink = encryptTo(encrypter, handle, options.signal)
    const writeChunk = sink.write
    const sums: string[] = []
    const checksummed = (path: string, bytes: Buffer) => {
      sums.push(`${createHash('sha256').update(bytes).digest('hex')}  ${path}\n`)
      return bytes
    }

    const { manifest, blobKeys, tar } = await db.readSnapshot(async (trx) => {
      const plan = await planBackup(trx, db.name, blobs, masterKeyFile)
      const tar = new TarWriter(writeChunk, new Date(plan.manifest.createdAt))
      const manifestBytes = checksummed(MANIFEST_PATH, Buffer.from(`${JSON.stringify(plan.manifest, null, 2)}\n`))
      await tar.file(MANIFEST_PATH, manifestBytes.length, manifestBytes)
      const keyBytes = checksummed(MASTER_KEY_PATH, Buffer.from(plan.keyFile))
      await tar.file(MASTER_KEY_PATH, keyBytes.length, keyBytes)

      const totalRows = plan.manifest.tables.reduce((n, t) => n + t.rows, 0)
      let doneRows = 0
      for (const { name, rows } of plan.manifest.tables) {
        const table = name as TableName
        let part = 0
        let pending: Buffer[] = []
        let pendingBytes = 0
        let dumped = 0
        const flush = async () => {
          const path = dbPartPath(table, ++part)
          const bytes = checksummed(path, Buffer.concat(pending, pendingBytes))
          pending = []
          pendingBytes = 0
          await tar.file(path, bytes.length, bytes)
          options.onProgress?.({ phase: 'database', done: doneRows, total: totalRows, unit: 'rows' })
        }
        for await (const row of dumpTable(trx, table)) {
          const line = Buffer.from(`${JSON.stringify(row)}\n`)
          pending.push(line)
          pendingBytes += line.length
          dumped++
          doneRows++
          if (pendingBytes >= PART_BYTES) await flush()
        }
        if (pendingBytes > 0) await flush()
        // Same snapshot, so the same rows: a difference is a bug, and the backup must not pretend otherwise.
        if (dumped !== rows) throw new Error(`table ${table}: counted ${rows} rows but dumped ${dumped}`)
      }
      return { manifest: plan.manifest, blobKeys: plan.blobKeys, tar }
    })

    // The snapshot is released: copying blobs can take hours and must not hold back the database's cleanup.
    await copyBlobs(tar, blobs, blobKeys, manifest.blobs.bytes, options.onProgress, (path, hash) => sums.push(`${hash}  ${path}\n`))
    const sumsBytes = Buffer.from(sums.join(''))
    await tar.file(SUMS_PATH, sumsBytes.length, sumsBytes)
    await tar.end()
    const bytes = await sink.finish()
    await handle.close()
    handle = undefined
    await rename(partial, out)
    await fsyncDir(dirname(out))
    return { file: out, bytes, recipients: options.recipients.length, manifest }
  } catch (err) {
    await sink?.abort(err)
    await handle?.close().catch(() => {})
    if (handle || sink) await rm(partial, { force: true })
    throw err
  } finally {
    await db.close()
  }
}

/** Everything decided inside the snapshot, before the first byte of the archive. */
async function planBackup(
  trx: Kysely<Database>,
  dialect: 'sqlite' | 'postgres',
  blobs: BlobStore,
  masterKeyFile: string,
): Promise<{ manifest: BackupManifest; blobKeys: BlobEntry[]; keyFile: string }> {
  const any = trx as unknown as Kysely<any>
  // The first statement fixes the snapshot (PostgreSQL takes it at the first query of the transaction).
  const applied = await appliedMigrations(any, dialect)
  const createdAt = new Date().toISOString()
  if (applied.length === 0) throw new BackupError('backup_no_database', 'the database has no Louder schema: nothing to back up')
  const known = migrationNames(dialect)
  const unknown = applied.filter((name) => !known.includes(name))
  if (unknown.length)
    throw new BackupError(
      'backup_schema_newer',
      `the database has migration(s) ${unknown.join(', ')} that this Louder (${VERSION}) does not know; back up with the Louder version that runs this database`,
    )

  const present = (await listTables(any, dialect)).filter((t) => !t.startsWith(MIGRATION_TABLE))
  // A table nobody told the backup about would be silently lost: refuse instead.
  const strangers = present.filter((t) => !isTableName(t))
  if (strangers.length)
    throw new BackupError('backup_unknown_table', `the database has table(s) ${strangers.join(', ')} that this Louder does not back up; refusing to make an incomplete backup`)
  const tables: BackupManifest['tables'] = []
  for (const name of TABLES_IN_DEPENDENCY_ORDER) if (present.includes(name)) tables.push({ name, rows: await countRows(trx, name) })

  // Read after the snapshot began: a rotation adds its key to the file before any data key uses it.
  const keyring = Keyring.open(masterKeyFile, { create: false })
  const used = await trx.selectFrom('data_keys').select('kek_id').distinct().where('destroyed_at', 'is', null).execute()
  const missing = used.map((r) => r.kek_id).filter((id) => !keyring.ids.includes(id))
  if (missing.length)
    throw new BackupError(
      'backup_key_mismatch',
      `master key file ${masterKeyFile} lacks key(s) ${missing.join(', ')} that this database uses; a backup without them could not open its sealed data`,
    )

  // Listed after the snapshot began, so every blob the snapshot names is already there.
  const blobKeys: BlobEntry[] = []
  let bytes = 0
  for (const [named, keys] of [[false, blobs.list()], [true, blobs.listNamed()]] as const) {
    for await (const key of keys) {
      const size = await blobs.size(key)
      if (size === null) continue // removed between list and stat: the snapshot cannot name it
      blobKeys.push({ key, size, named })
      bytes += size
    }
  }

  const manifest: BackupManifest = {
    format: BACKUP_FORMAT,
    formatVersion: BACKUP_FORMAT_VERSION,
    louderVersion: VERSION,
    createdAt,
    source: { dialect },
    migrations: applied,
    tables,
    masterKeyIds: keyring.ids,
    blobs: { count: blobKeys.length, bytes },
  }
  return { manifest, blobKeys, keyFile: keyring.serialize() }
}

/** A blob to copy: named by its hash (blobs/), or by its owner (sealed/: putNamed). */
interface BlobEntry {
  key: string
  size: number
  named: boolean
}

async function copyBlobs(
  tar: TarWriter,
  blobs: BlobStore,
  keys: BlobEntry[],
  totalBytes: number,
  onProgress: ProgressListener | undefined,
  /** A named blob's checksum, for SHA256SUMS (a content-named blob's name is its checksum). */
  onNamedSum: (path: string, sha256: string) => void,
): Promise<void> {
  let done = 0
  let lastReport = 0
  onProgress?.({ phase: 'blobs', done, total: totalBytes, unit: 'bytes' })
  for (const { key, size, named } of keys) {
    let body: AsyncIterable<Uint8Array>
    try {
      body = await blobs.get(key)
    } catch (err) {
      if (err instanceof BlobNotFoundError) throw new BackupError('backup_blob_missing', `blob ${key} disappeared during the backup (blobs are write-once: check what deletes them)`)
      throw err
    }
    const hash = createHash('sha256')
    await tar.file(
      named ? `sealed/${key}` : `blobs/${key}`,
      size,
      (async function* () {
        for await (const piece of body) {
          hash.update(piece)
          done += piece.length
          if (onProgress && done - lastReport >= 8 << 20) {
            lastReport = done
            onProgress({ phase: 'blobs', done, total: totalBytes, unit: 'bytes' })
          }
          yield piece
        }
      })(),
    )
    const actual = hash.digest('hex')
    if (named) onNamedSum(`sealed/${key}`, actual)
    // A blob that no longer matches its name is damaged evidence: say so rather than carry it on silently.
    else if (actual !== key)
      throw new BackupError('backup_blob_damaged', `blob ${key} in the data directory is damaged (its bytes hash to ${actual}); restore it from an earlier backup`)
  }
  onProgress?.({ phase: 'blobs', done, total: totalBytes, unit: 'bytes' })
}

interface EncryptedSink {
  write(chunk: Uint8Array): Promise<void>
  /** Ends the age stream, waits for every byte to reach the file and fsyncs it; returns the file's size. */
  finish(): Promise<number>
  abort(reason: unknown): Promise<void>
}

/** A writable end whose bytes are age-encrypted into `handle`, with backpressure from the file. */
function encryptTo(encrypter: Encrypter, handle: FileHandle, signal: AbortSignal | undefined): EncryptedSink {
  const pipe = new TransformStream<Uint8Array, Uint8Array>()
  const writer = pipe.writable.getWriter()
  let bytes = 0
  const drained = (async () => {
    const encrypted = await encrypter.encrypt(pipe.readable)
    for await (const chunk of encrypted) {
      await handle.write(chunk)
      bytes += chunk.length
    }
  })()
  // If the file side fails (disk full), writes must fail too instead of waiting for a reader that is gone.
  const failed = drained.then(() => new Promise<never>(() => {}))
  failed.catch(() => {})
  const guard = async (p: Promise<void>) => {
    p.catch(() => {})
    await Promise.race([p, failed])
  }
  return {
    async write(chunk) {
      signal?.throwIfAborted()
      await guard(writer.write(chunk))
    },
    async finish() {
      await guard(writer.close())
      await drained
      await handle.sync()
      return bytes
    },
    async abort(reason) {
      await writer.abort(reason).catch(() => {})
      await drained.catch(() => {})
    },
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}
