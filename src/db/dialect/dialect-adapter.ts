import type { Kysely } from 'kysely'
import type { Database } from '../schema.ts'

export type DialectName = 'sqlite' | 'postgres'

/** What differs between the embedded and the server database; everything else is one Kysely codebase. */
export interface DialectAdapter {
  readonly name: DialectName
  readonly kysely: Kysely<Database>
  /** Declared capabilities, so callers pick the best method instead of coding to the weakest backend. */
  readonly caps: { skipLocked: boolean; fullText: 'fts5' | 'tsvector'; listen: boolean }
  /** Runs fn in a transaction that will write; commits if it resolves, rolls back if it throws. */
  writeTransaction<T>(fn: (trx: Kysely<Database>) => Promise<T>): Promise<T>
  /** Runs fn on a consistent read-only snapshot (backups). */
  readSnapshot<T>(fn: (trx: Kysely<Database>) => Promise<T>): Promise<T>
  isUniqueViolation(err: unknown): boolean
  /**
   * SQLite only: start `count` reader threads that run plain SELECTs issued outside a transaction in parallel
   * with the main thread (src/db/dialect/sqlite-readers.ts). Call after migrating.
   */
  startReaders?(count: number): void
  /** Where the data lives, without secrets, for logs. */
  describe(): string
  close(): Promise<void>
}
