import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { makeFsBlobStore } from './blobs/fs-blob-store.ts'
import { PartialUploadFiles } from './blobs/partial-uploads.ts'
import type { Config } from './config/build-config.ts'
import { makeMatchIndex, type MatchIndex } from './core/matching/match-index.ts'
import type { MediaDecoder } from './core/matching/media-decoder.ts'
import type { BlobStore } from './core/ports/blob-store.ts'
import type { PasswordHasher } from './core/ports/password-hasher.ts'
import type { Store } from './core/ports/repositories.ts'
import type { IngestDeps } from './core/evidence/ingest.ts'
import type { UploadDeps } from './core/sync/uploads.ts'
import type { Sealer } from './core/ports/sealer.ts'
import { type DialectAdapter, openDatabase } from './db/database.ts'
import { makeStore } from './db/store.ts'
import { JobQueue } from './jobs/job-queue.ts'
import type { Logger } from './log.ts'
import { Envelope } from './protection/envelope.ts'
import { SealingPool } from './protection/sealing-pool.ts'
import { Keyring, KeyringError } from './protection/keyring.ts'
import { logNameFor, makeLogKey } from './protection/log-key.ts'
import { generatePassword, hashPassword, verifyPassword } from './protection/passwords.ts'
import { VERSION } from './version.ts'

/**
 * SQLite reader threads `louder serve` starts (src/db/dialect/sqlite-readers.ts): none for now. They take
 * page queries off the event loop but add ~0.5 ms of CPU a page (handing rows over as JSON, waking threads);
 * on the 2-core bench machine, shared with other work, that lowered the `api` ratio instead of raising it
 * (bench/README.md, `api`). Worth measuring on a machine with idle cores (`LOUDER_BENCH_SQLITE_READERS=N`).
 */
export const SERVER_SQLITE_READERS = 0

/** Everything a process needs, built once from the config: the composition root. */
export interface AppContext {
  config: Config
  version: string
  logger: Logger
  db: DialectAdapter
  store: Store
  blobs: BlobStore
  keyring: Keyring
  envelope: Envelope
  jobs: JobQueue
  passwords: PasswordHasher
  /** Seals single values (TOTP secrets, restricted fields) with envelope encryption. */
  sealer: Sealer
  /** The custody log's Ed25519 signing key, made on first use (src/protection/log-key.ts). */
  logKey: ReturnType<typeof makeLogKey>
  /** What sealing an item into the locker needs (`ingestMedia`): the HTTP routes, the CLI and field sync use this one. */
  ingest: IngestDeps
  /** Every stored PDQ hash, in memory for matching: built on first use, caught up before each query. */
  matchIndex: MatchIndex
  /** Resumable uploads: their encrypted partial files (DATA/uploads) and limits. */
  uploads: { partials: PartialUploadFiles; limits: Config['uploads']; deps: UploadDeps }
  /** Decodes query images and videos (sharp, ffmpeg), loaded on first use so start-up stays fast. */
  mediaDecoder(): Promise<MediaDecoder>
  close(): Promise<void>
}

/**
 * `sqliteReaders`: SQLite reader threads for plain SELECTs (src/db/dialect/sqlite-readers.ts); `louder serve`
 * starts SERVER_SQLITE_READERS, short commands and most tests none. `warmSealing`: start the sealing threads
 * before returning (`louder serve`, `louder worker`).
 */
export async function createAppContext(config: Config, logger: Logger, options: { poolSize?: number; sqliteReaders?: number; warmSealing?: boolean } = {}): Promise<AppContext> {
  const db = await openDatabase({ dataDir: config.dataDir, databaseUrl: config.databaseUrl, poolSize: options.poolSize, sqliteReaders: options.sqliteReaders })
  try {
    const store = makeStore(db)
    const keyring = await openKeyringFor(db, config.masterKeyFile)
    const blobs = await makeFsBlobStore(join(config.dataDir, 'blobs'))
    // Two threads: on the two-core machines Louder targets, two items seal at once beside the event loop.
    const sealingPool = new SealingPool(Math.min(2, availableParallelism()))
    // A server starts its sealing threads now rather than on the first upload; short commands never pay for them.
    if (options.warmSealing) await sealingPool.warm()
    const envelope = new Envelope(db.kysely, keyring, { pool: sealingPool })
    const partials = await PartialUploadFiles.open(join(config.dataDir, 'uploads'), (id) => envelope.dataKey(id))
    const logKey = makeLogKey({ log: () => store.repos.custodyLog, sealer: envelope, name: logNameFor(config.publicUrl) })
    const ingest: IngestDeps = { store, blobs, sealer: envelope, isUniqueViolation: db.isUniqueViolation, logSigner: () => logKey.signer() }
    return {
      config,
      version: VERSION,
      logger,
      db,
      store,
      blobs,
      keyring,
      envelope,
      sealer: envelope,
      logKey,
      ingest,
      jobs: new JobQueue(db),
      matchIndex: makeMatchIndex(() => store.repos.mediaHashes),
      uploads: {
        partials,
        limits: config.uploads,
        deps: { ...ingest, partials, destroyDataKey: (id) => envelope.destroyDataKey(id), limits: config.uploads },
      },
      mediaDecoder: async () => (await import('./media/media-decoder.ts')).makeMediaDecoder(),
      passwords: { hash: hashPassword, verify: verifyPassword, generate: generatePassword },
      async close() {
        await sealingPool.close()
        await blobs.close()
        await db.close()
      },
    }
  } catch (err) {
    await db.close()
    throw err
  }
}

/**
 * A new database gets a new master key. An existing one must find every master key its data keys were
 * wrapped with: starting with the wrong or a missing key file would otherwise seal new data under a key
 * that cannot open the old.
 */
async function openKeyringFor(db: DialectAdapter, file: string): Promise<Keyring> {
  const used = await db.kysely.selectFrom('data_keys').select('kek_id').distinct().execute()
  const users = await db.kysely.selectFrom('users').select('id').limit(1).execute()
  const fresh = used.length === 0 && users.length === 0
  const keyring = Keyring.open(file, { create: fresh })
  const missing = used.map((r) => r.kek_id).filter((id) => !keyring.ids.includes(id))
  if (missing.length)
    throw new KeyringError(`master key file ${file} does not hold key(s) ${missing.join(', ')} that this database uses; restore the right file from escrow`)
  return keyring
}
