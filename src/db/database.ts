import type { DialectAdapter } from './dialect/dialect-adapter.ts'
import { openPostgres } from './dialect/postgres.ts'
import { openSqlite } from './dialect/sqlite.ts'
import { migrateToLatest } from './migrations.ts'

export type { DialectAdapter, DialectName } from './dialect/dialect-adapter.ts'

/**
 * Opens the configured database and brings its schema up to date. `sqliteReaders` starts that many SQLite
 * reader threads once the schema is there (src/db/dialect/sqlite-readers.ts): worth it for a server, not for
 * a short command.
 */
export async function openDatabase(cfg: { dataDir: string; databaseUrl: string | null; poolSize?: number; sqliteReaders?: number }): Promise<DialectAdapter> {
  const db = connectDatabase(cfg)
  try {
    await migrateToLatest(db.kysely, db.name)
  } catch (err) {
    await db.close()
    throw err
  }
  if (cfg.sqliteReaders) db.startReaders?.(cfg.sqliteReaders)
  return db
}

/**
 * Opens the configured database without touching its schema: for tools that must not migrate a database
 * a running server owns (backups), or that choose the schema version themselves (restores).
 */
export function connectDatabase(cfg: { dataDir: string; databaseUrl: string | null; poolSize?: number }): DialectAdapter {
  return cfg.databaseUrl ? openPostgres(cfg.databaseUrl, { max: cfg.poolSize }) : openSqlite(cfg.dataDir)
}
