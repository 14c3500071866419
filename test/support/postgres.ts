import { randomBytes } from 'node:crypto'
import { afterAll, inject } from 'vitest'
import { postgresAdmin } from '../../src/db/dialect/postgres.ts'

const created: string[] = []

// Registered when a test file imports this module, so it runs after that file's suites closed their pools.
// FORCE ends any session a test left open. On the temporary server this only keeps it small; on a server
// named by LOUDER_TEST_DATABASE_URL it is what keeps test databases from piling up.
afterAll(async () => {
  const admin = inject('pgAdminUrl')
  for (const name of created.splice(0)) await postgresAdmin(admin, `drop database if exists ${name} with (force)`)
})

/**
 * A fresh, empty database on the run's shared PostgreSQL server (postgres.global.ts), named uniquely so
 * test files running in parallel never see each other's rows. Returns its URL.
 */
export async function createTestDatabase(): Promise<string> {
  const url = new URL(inject('pgAdminUrl'))
  const name = `louder_test_${process.pid}_${randomBytes(6).toString('hex')}`
  await postgresAdmin(url.href, `create database ${name}`)
  created.push(name)
  url.pathname = `/${name}`
  return url.href
}
