/**
 * Vitest globalSetup: one real PostgreSQL server for the whole test run, from Debian's binaries, on a temp
 * directory and a free port on 127.0.0.1. Each test file makes its own databases on it (./postgres.ts).
 *
 * LOUDER_TEST_DATABASE_URL=postgres://user@host:port/db points the tests at a server you already run instead;
 * the role in that URL must be allowed to CREATE DATABASE. Nothing is started or stopped then.
 */
import type { TestProject } from 'vitest/node'
import { findPostgresBin, startTempPostgres } from '../../scripts/postgres-tmp.ts'

declare module 'vitest' {
  export interface ProvidedContext {
    /** A superuser URL on the shared test server, for CREATE DATABASE. */
    pgAdminUrl: string
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const external = process.env.LOUDER_TEST_DATABASE_URL
  if (external) {
    project.provide('pgAdminUrl', external)
    return async () => {}
  }
  if (!(await findPostgresBin()))
    throw new Error("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: install Debian's postgresql package (see README)")
  // Test files run in parallel, each with its own pools and child processes.
  const server = await startTempPostgres({ prefix: 'louder-test-pg-', settings: { max_connections: 400 } })
  project.provide('pgAdminUrl', server.url)
  return server.stop
}
