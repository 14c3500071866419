/**
 * Vitest globalSetup: one real PostgreSQL server for the whole test run, from Debian's binaries, on a temp
 * directory and a free port on 127.0.0.1. Each test file makes its own databases on it (./postgres.ts).
 *
 * LOUDER_TEST_DATABASE_URL=postgres://user@host:port/db points the tests at a server you already run instead;
 * the role in that URL must be allowed to CREATE DATABASE. Nothing is started or stopped then.
 */
import { spawn } from 'node:child_process'
import { chmod, chown, mkdtemp, readdir, rm } from 'node:fs/promises'
import { existsSync, readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import type { TestProject } from 'vitest/node'

declare module 'vitest' {
  export interface ProvidedContext {
    /** A superuser URL on the shared test server, for CREATE DATABASE. */
    pgAdminUrl: string
  }
}

const PG_ROOT = '/usr/lib/postgresql'

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const external = process.env.LOUDER_TEST_DATABASE_URL
  if (external) {
    project.provide('pgAdminUrl', external)
    return async () => {}
  }
  const server = await startPostgres()
  project.provide('pgAdminUrl', server.url)
  return server.stop
}

/** The bin directory of the highest PostgreSQL major version installed by Debian's packages. */
export async function findPostgresBin(): Promise<string> {
  const versions = existsSync(PG_ROOT) ? (await readdir(PG_ROOT)).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : []
  for (const v of versions) {
    const bin = join(PG_ROOT, v, 'bin')
    if (['initdb', 'pg_ctl', 'postgres'].every((tool) => existsSync(join(bin, tool)))) return bin
  }
  throw new Error(`PostgreSQL server binaries not found under ${PG_ROOT}/*/bin: install Debian's postgresql package (see README)`)
}

async function startPostgres(): Promise<{ url: string; stop: () => Promise<void> }> {
  const bin = await findPostgresBin()
  // PostgreSQL refuses to run as root: then every server command runs as the `postgres` system user.
  const asRoot = process.getuid?.() === 0
  const dir = await mkdtemp(join(tmpdir(), 'louder-pg-'))
  const dataDir = join(dir, 'data')
  const logFile = join(dir, 'server.log')
  if (asRoot) {
    const { uid, gid } = postgresUser()
    await chown(dir, uid, gid)
  }
  // mkdtemp makes the directory 0700; the server's user must be able to enter it and the tests to reach its socket.
  await chmod(dir, 0o755)
  const pgCommand = (tool: string, args: string[]) =>
    asRoot ? run('runuser', ['-u', 'postgres', '--', join(bin, tool), ...args]) : run(join(bin, tool), args)

  const port = await freePort()
  let started = false
  const stop = async () => {
    if (started) await pgCommand('pg_ctl', ['stop', '-D', dataDir, '-m', 'immediate', '-w']).catch(() => {})
    started = false
    await rm(dir, { recursive: true, force: true })
  }
  try {
    await pgCommand('initdb', ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C.UTF-8', '--no-sync'])
    const serverOptions = [
      `-c listen_addresses=127.0.0.1`,
      `-c port=${port}`,
      `-c unix_socket_directories=${dir}`,
      // A test server holds nothing worth keeping: trade crash safety for speed.
      '-c fsync=off',
      '-c synchronous_commit=off',
      '-c full_page_writes=off',
      // Test files run in parallel, each with its own pools and child processes.
      '-c max_connections=400',
    ].join(' ')
    await pgCommand('pg_ctl', ['start', '-D', dataDir, '-l', logFile, '-w', '-t', '60', '-o', serverOptions])
    started = true
    const url = `postgres://postgres@127.0.0.1:${port}/postgres`
    await waitUntilReady(url)
    return { url, stop }
  } catch (err) {
    const log = existsSync(logFile) ? `\n--- ${logFile} ---\n${readFileSync(logFile, 'utf8').slice(-4000)}` : ''
    await stop()
    throw new Error(`could not start the test PostgreSQL server: ${(err as Error).message}${log}`)
  }
}

function postgresUser(): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'))
  const [, , uid, gid] = line?.split(':') ?? []
  if (!uid || !gid) throw new Error('running as root, but there is no `postgres` system user to run the test PostgreSQL server as (install Debian\'s postgresql package)')
  return { uid: Number(uid), gid: Number(gid) }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

async function waitUntilReady(url: string): Promise<void> {
  let lastError: unknown
  for (let i = 0; i < 100; i++) {
    const client = new pg.Client({ connectionString: url })
    try {
      await client.connect()
      await client.query('select 1')
      return
    } catch (err) {
      lastError = err
      await sleep(100)
    } finally {
      await client.end().catch(() => {})
    }
  }
  throw new Error(`server did not accept connections: ${(lastError as Error)?.message}`)
}

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    // pg_ctl start leaves the server running with our stdio: give it none, or the pipes keep this process waiting.
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (d: Buffer) => (output += d.toString()))
    child.stderr.on('data', (d: Buffer) => (output += d.toString()))
    child.once('error', reject)
    child.once('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} exited with ${code}: ${output.trim().slice(-2000)}`)),
    )
  })
}
