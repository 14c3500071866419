import { type Kysely, sql } from 'kysely'
import { type Migration, Migrator } from 'kysely/migration'
import type { DialectName } from './dialect/dialect-adapter.ts'
import { up as observationSearch } from './migrations/0002-observation-search.ts'
import { up as accounts } from './migrations/0003-accounts.ts'
import { up as tokenOwnerIndex } from './migrations/0004-token-owner-index.ts'
import { up as parties } from './migrations/0005-parties.ts'
import { up as areas } from './migrations/0006-areas.ts'
import { up as observationRecord } from './migrations/0007-observation-record.ts'
import { up as incidents } from './migrations/0008-incidents.ts'
import { up as custodyLog } from './migrations/0009-custody-log.ts'
import { up as mediaHashes } from './migrations/0010-media-hashes.ts'
import { up as mediaItems } from './migrations/0012-media-items.ts'
import { up as devicesCaptures } from './migrations/0011-devices-captures.ts'
import { up as uploads } from './migrations/0014-uploads.ts'
import { up as custodyNodesClustered } from './migrations/0015-custody-nodes-clustered.ts'
import { up as observationReportFields } from './migrations/0013-observation-report-fields.ts'
import { up as observationCells } from './migrations/0016-observation-cells.ts'

/**
 * The one ordered list of migrations. Each may branch on the dialect for the few things that differ
 * (full-text search, spatial indexes); the tables themselves are the same on both.
 * Append only: a migration that has shipped is never edited.
 */
export function migrations(dialect: DialectName): Record<string, Migration> {
  return {
    '0001_platform': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('meta')
          .addColumn('key', 'text', (c) => c.primaryKey())
          .addColumn('value', 'text', (c) => c.notNull())
          .execute()

        await db.schema
          .createTable('users')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('email', 'text', (c) => c.notNull().unique())
          .addColumn('display_name', 'text', (c) => c.notNull())
          .addColumn('password_hash', 'text')
          .addColumn('must_change_password', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .addColumn('disabled_at', 'bigint')
          .execute()

        await db.schema
          .createTable('user_roles')
          .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
          .addColumn('role', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('user_roles_pk', ['user_id', 'role'])
          .execute()

        await db.schema
          .createTable('api_tokens')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('token_hash', 'text', (c) => c.notNull().unique())
          .addColumn('roles', 'text')
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('expires_at', 'bigint')
          .addColumn('last_used_at', 'bigint')
          .addColumn('revoked_at', 'bigint')
          .execute()

        await db.schema
          .createTable('data_keys')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('kek_id', 'text', (c) => c.notNull())
          .addColumn('wrapped', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('destroyed_at', 'bigint')
          .execute()
        await db.schema.createIndex('data_keys_kek').on('data_keys').column('kek_id').execute()

        await db.schema
          .createTable('idempotency_keys')
          .addColumn('scope', 'text', (c) => c.notNull())
          .addColumn('key', 'text', (c) => c.notNull())
          .addColumn('request_hash', 'text', (c) => c.notNull())
          .addColumn('status_code', 'integer', (c) => c.notNull())
          .addColumn('response_body', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addPrimaryKeyConstraint('idempotency_keys_pk', ['scope', 'key'])
          .execute()
        await db.schema.createIndex('idempotency_keys_created').on('idempotency_keys').column('created_at').execute()

        await db.schema
          .createTable('jobs')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('payload', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('priority', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('max_attempts', 'integer', (c) => c.notNull())
          .addColumn('run_at', 'bigint', (c) => c.notNull())
          .addColumn('locked_by', 'text')
          .addColumn('locked_until', 'bigint')
          .addColumn('last_error', 'text')
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .addColumn('finished_at', 'bigint')
          .execute()
        // The claim query walks this index: ready jobs by priority, then age.
        await db.schema.createIndex('jobs_ready').on('jobs').columns(['status', 'priority', 'run_at']).execute()

        await db.schema
          .createTable('observations')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('narrative', 'text', (c) => c.notNull())
          .addColumn('occurred_at', 'bigint', (c) => c.notNull())
          .addColumn('lat', 'double precision')
          .addColumn('lon', 'double precision')
          .addColumn('created_by', 'text', (c) => c.notNull().references('users.id'))
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .execute()
        await db.schema.createIndex('observations_time').on('observations').columns(['occurred_at', 'id']).execute()
        await db.schema.createIndex('observations_place').on('observations').columns(['lat', 'lon', 'occurred_at']).execute()
      },
    },
    '0002_observation_search': { up: (db: Kysely<any>) => observationSearch(db, dialect) },
    '0003_accounts': { up: (db: Kysely<any>) => accounts(db, dialect) },
    '0004_token_owner_index': { up: (db: Kysely<any>) => tokenOwnerIndex(db) },
    '0005_parties': { up: (db: Kysely<any>) => parties(db) },
    '0006_areas': { up: (db: Kysely<any>) => areas(db) },
    '0007_observation_record': { up: (db: Kysely<any>) => observationRecord(db) },
    '0008_incidents': { up: (db: Kysely<any>) => incidents(db, dialect) },
    '0009_custody_log': { up: (db: Kysely<any>) => custodyLog(db) },
    '0010_media_hashes': { up: (db: Kysely<any>) => mediaHashes(db) },
    '0012_media_items': { up: (db: Kysely<any>) => mediaItems(db) },
    '0011_devices_captures': { up: (db: Kysely<any>) => devicesCaptures(db) },
    '0013_observation_report_fields': { up: (db: Kysely<any>) => observationReportFields(db) },
    '0014_uploads': { up: (db: Kysely<any>) => uploads(db) },
    '0015_custody_nodes_clustered': { up: (db: Kysely<any>) => custodyNodesClustered(db, dialect) },
    '0016_observation_cells': { up: (db: Kysely<any>) => observationCells(db, dialect) },
  }
}

/** The table that records which migrations ran (backups copy its names into their manifest). */
export const MIGRATION_TABLE = 'louder_migrations'
const MIGRATION_LOCK_TABLE = 'louder_migrations_lock'

/**
 * The base tables in the database (PostgreSQL: in the current schema), Louder's or not, sorted by name.
 * On SQLite that leaves out virtual tables and their shadow tables (the incidents R*Tree): an index by
 * another name, rebuilt from the base tables, never data of its own.
 */
export async function listTables(db: Kysely<any>, dialect: DialectName): Promise<string[]> {
  const { rows } =
    dialect === 'sqlite'
      ? await sql<{ name: string }>`select name from pragma_table_list where schema = 'main' and type = 'table' and substr(name, 1, 7) != 'sqlite_' order by name`.execute(db)
      : await sql<{ name: string }>`select table_name as name from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE' order by table_name`.execute(db)
  return rows.map((r) => r.name)
}

/** Every migration this code knows, in the order they run. */
export function migrationNames(dialect: DialectName): string[] {
  // Kysely runs migrations in name order.
  return Object.keys(migrations(dialect)).sort()
}

/** The migrations already applied to a database, in order; empty for a database Louder never touched. */
export async function appliedMigrations(db: Kysely<any>, dialect: DialectName): Promise<string[]> {
  if (!(await listTables(db, dialect)).includes(MIGRATION_TABLE)) return []
  const rows: { name: string }[] = await db.selectFrom(MIGRATION_TABLE).select('name').orderBy('name').execute()
  return rows.map((r) => r.name)
}

export async function migrateToLatest(db: Kysely<any>, dialect: DialectName): Promise<void> {
  await runMigrator(db, dialect, (m) => m.migrateToLatest())
}

/** Brings the schema to exactly `target` (restores load a backup at the schema it was made with, then migrate on). */
export async function migrateTo(db: Kysely<any>, dialect: DialectName, target: string): Promise<void> {
  await runMigrator(db, dialect, (m) => m.migrateTo(target))
}

/**
 * Migrates inside a transaction the caller already holds (`louder restore`: the schema and the rows it
 * loads commit together or not at all). `target` null means the latest migration.
 */
export async function migrateInTransaction(trx: Kysely<any>, dialect: DialectName, target: string | null): Promise<void> {
  await runMigratorOn(trx, dialect, (m) => (target === null ? m.migrateToLatest() : m.migrateTo(target)))
}

type MigratorRun = (m: Migrator) => ReturnType<Migrator['migrateToLatest']>

async function runMigrator(db: Kysely<any>, dialect: DialectName, run: MigratorRun): Promise<void> {
  if (dialect !== 'sqlite') return runMigratorOn(db, dialect, run)
  // Kysely runs SQLite migrations outside any transaction and takes no lock, so two processes opening a new
  // data directory at once (a server and a worker, or `louder backup`) both create the tables and one fails,
  // and a migration that fails half-way leaves half a schema. BEGIN IMMEDIATE takes SQLite's write lock up
  // front (the others wait, busy_timeout) and SQLite's DDL is transactional, so each run is all or nothing.
  // (Inside a transaction `PRAGMA foreign_keys` is a no-op: a table rebuild uses `defer_foreign_keys`.)
  await db.connection().execute(async (conn) => {
    await sql`begin immediate`.execute(conn)
    try {
      await runMigratorOn(conn, dialect, run)
      await sql`commit`.execute(conn)
    } catch (err) {
      await sql`rollback`.execute(conn)
      throw err
    }
  })
}

async function runMigratorOn(db: Kysely<any>, dialect: DialectName, run: MigratorRun): Promise<void> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => migrations(dialect) },
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: MIGRATION_LOCK_TABLE,
  })
  const { error, results } = await run(migrator)
  const failed = results?.find((r) => r.status === 'Error')
  if (error) {
    const detail = error instanceof Error ? error.message : String(error)
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${detail}`)
  }
}
