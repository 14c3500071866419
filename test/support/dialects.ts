import { afterAll, afterEach, beforeEach, describe } from 'vitest'
import { openDatabase } from '../../src/db/database.ts'
import type { DialectAdapter, DialectName } from '../../src/db/dialect/dialect-adapter.ts'
import { createTestDatabase } from './postgres.ts'
import { tmpDir } from './tmp.ts'

export const DIALECTS: readonly DialectName[] = ['sqlite', 'postgres']

/** What openDatabase needs to find one database: a data directory (SQLite) or a URL (PostgreSQL). */
export interface DatabaseLocation {
  dataDir: string
  databaseUrl: string | null
}

/** One dialect, as a suite inside forEachDialect sees it. */
export interface DialectHarness {
  readonly name: DialectName
  /** Where a fresh, empty database of this dialect lives: a new temp data dir, or a new PostgreSQL database. */
  fresh(): Promise<DatabaseLocation>
  /**
   * Opens and migrates the database at `location` (a second connection to it), or a fresh one. Adapters
   * opened in a test are closed after that test; those opened in beforeAll, after the suite.
   */
  open(location?: DatabaseLocation): Promise<DialectAdapter>
  /** Where an adapter that open() gave out lives, to open a second connection (or a process) on it. */
  locationOf(db: DialectAdapter): DatabaseLocation
}

/** Declares `body` once per dialect: the same contract, on the embedded and on the server database. */
export function forEachDialect(title: string, body: (dialect: DialectHarness) => void): void {
  for (const name of DIALECTS) describe(`${title} [${name}]`, () => body(harness(name)))
}

function harness(name: DialectName): DialectHarness {
  const perTest: DialectAdapter[] = []
  const perSuite: DialectAdapter[] = []
  const locations = new WeakMap<DialectAdapter, DatabaseLocation>()
  let inTest = false
  beforeEach(() => {
    inTest = true
  })
  afterEach(async () => {
    inTest = false
    await closeAll(perTest)
  })
  afterAll(() => closeAll(perSuite))

  const fresh = async (): Promise<DatabaseLocation> =>
    name === 'sqlite' ? { dataDir: tmpDir('louder-sqlite-'), databaseUrl: null } : { dataDir: tmpDir('louder-pg-data-'), databaseUrl: await createTestDatabase() }

  return {
    name,
    fresh,
    async open(location) {
      const where = location ?? (await fresh())
      const db = await openDatabase(where)
      locations.set(db, where)
      ;(inTest ? perTest : perSuite).push(db)
      return db
    },
    locationOf(db) {
      const where = locations.get(db)
      if (!where) throw new Error('locationOf: this adapter was not opened by the dialect harness')
      return where
    },
  }
}

async function closeAll(adapters: DialectAdapter[]): Promise<void> {
  await Promise.all(adapters.splice(0).map((db) => db.close()))
}
