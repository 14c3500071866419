/**
 * A second process on a test database, for contract tests that need real separate processes (separate
 * connections, separate SQLite handles, separate PostgreSQL sessions). Run by ./db-children.ts:
 *
 *   node test/support/db-child.ts <migrate|claim> '<{"dataDir":…,"databaseUrl":…}>' [workerId]
 *
 * It prints `ready`, waits for `go` on stdin (so every child starts at the same moment), does its work and
 * prints one JSON line: `{"opened":true}` for migrate, `{"claimed":[ids…]}` for claim (claims until none is left).
 */
import { createInterface } from 'node:readline'
import { openDatabase } from '../../src/db/database.ts'
import type { DialectAdapter } from '../../src/db/dialect/dialect-adapter.ts'
import { openPostgres } from '../../src/db/dialect/postgres.ts'
import { openSqlite } from '../../src/db/dialect/sqlite.ts'
import { JobQueue } from '../../src/jobs/job-queue.ts'

const [mode, locationJson, workerId = `child-${process.pid}`] = process.argv.slice(2)
const location = JSON.parse(locationJson ?? '{}') as { dataDir: string; databaseUrl: string | null }

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]()
process.stdout.write('ready\n')
if ((await lines.next()).value !== 'go') throw new Error('expected go')

if (mode === 'migrate') {
  const db = await openDatabase(location)
  await db.close()
  process.stdout.write(`${JSON.stringify({ opened: true })}\n`)
} else if (mode === 'claim') {
  // The parent has migrated the database already: open it as a plain second process would.
  const db: DialectAdapter = location.databaseUrl ? openPostgres(location.databaseUrl, { max: 2 }) : openSqlite(location.dataDir)
  const queue = new JobQueue(db)
  const claimed: string[] = []
  for (;;) {
    const job = await queue.claim(workerId, 10 * 60_000)
    if (!job) break
    claimed.push(job.id)
  }
  await db.close()
  process.stdout.write(`${JSON.stringify({ claimed })}\n`)
} else throw new Error(`unknown mode ${mode}`)
process.stdin.destroy()
