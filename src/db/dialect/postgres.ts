import pg from 'pg'
import { Kysely, PostgresDialect } from 'kysely'
import { redactUrl } from '../../config/build-config.ts'
import type { Database } from '../schema.ts'
import type { DialectAdapter } from './dialect-adapter.ts'

const INT8_OID = 20

/** PostgreSQL for organisations that outgrow one machine: many API and worker processes share it. */
export function openPostgres(url: string, options: { max?: number } = {}): DialectAdapter {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    // Our bigints are epoch milliseconds and counts, well inside 2^53.
    types: { getTypeParser: (oid: number, format?: 'text' | 'binary') => (oid === INT8_OID ? Number : pg.types.getTypeParser(oid, format)) } as pg.CustomTypesConfig,
  })
  // An idle client that loses its server must not crash the process; the next query reconnects.
  pool.on('error', () => {})
  const kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) })

  return {
    name: 'postgres',
    kysely,
    caps: { skipLocked: true, fullText: 'tsvector', listen: true },
    writeTransaction: (fn) => kysely.transaction().execute(fn),
    readSnapshot: (fn) => kysely.transaction().setIsolationLevel('repeatable read').setAccessMode('read only').execute(fn),
    isUniqueViolation: (err) => (err as { code?: string })?.code === '23505',
    describe: () => `postgres ${redactUrl(url)}`,
    async close() {
      await kysely.destroy()
    },
  }
}

/** Runs one statement outside any schema (creating test databases and the like). */
export async function postgresAdmin(url: string, statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    await client.query(statement)
  } finally {
    await client.end()
  }
}


