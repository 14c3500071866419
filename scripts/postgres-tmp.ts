/**
 * A throw-away PostgreSQL server from Debian's binaries, on a temp directory and a free port on 127.0.0.1,
 * with trust authentication: for benches and test harnesses, never for data anyone wants to keep.
 *
 *   const pg = await startTempPostgres({ settings: { shared_buffers: '256MB' } })
 *   try { … pg.url … } finally { await pg.stop() }
 *
 * PostgreSQL refuses to run as root, so as root every server command runs as the `postgres` system user
 * (`runuser`), and the temp directory is handed to that user.
 */
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { chmod, chown, mkdtemp, readdir, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { postgresAdmin } from '../src/db/dialect/postgres.ts'

const PG_ROOT = '/usr/lib/postgresql'

export interface TempPostgres {
  /** A superuser URL: postgres://postgres@127.0.0.1:PORT/postgres */
  readonly url: string
  readonly port: number
  /** The temp directory holding the cluster (data/), the server log and the socket. */
  readonly dir: string
  /** Stops the server (immediate shutdown) and deletes its directory. Safe to call twice. */
  stop(): Promise<void>
}

export interface TempPostgresOptions {
  /** Server settings (`-c name=value`) on top of the defaults below, which they override. */
  settings?: Record<string, string | number>
  /** Prefix of the temp directory's name. */
  prefix?: string
  /** The bin directory to use; default: findPostgresBin(). */
  bin?: string
}

/** Settings for a server that holds nothing worth keeping: crash safety traded for speed. */
export const THROWAWAY_SETTINGS: Readonly<Record<string, string | number>> = {
  fsync: 'off',
  synchronous_commit: 'off',
  full_page_writes: 'off',
}

/** The bin directory of the highest PostgreSQL major version installed by Debian's packages, or null. */
export async function findPostgresBin(): Promise<string | null> {
  const versions = existsSync(PG_ROOT) ? (await readdir(PG_ROOT)).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : []
  for (const v of versions) {
    const bin = join(PG_ROOT, v, 'bin')
    if (['initdb', 'pg_ctl', 'postgres'].every((tool) => existsSync(join(bin, tool)))) return bin
  }
  return null
}

export async function startTempPostgres(options: TempPostgresOptions = {}): Promise<TempPostgres> {
  const bin = options.bin ?? (await findPostgresBin())
  if (!bin) throw new Error(`PostgreSQL server binaries not found under ${PG_ROOT}/*/bin: install Debian's postgresql package`)
  const asRoot = process.getuid?.() === 0
  const owner = asRoot ? postgresUser() : null
  const dir = await mkdtemp(join(tmpdir(), options.prefix ?? 'louder-pg-'))
  const dataDir = join(dir, 'data')
  const logFile = join(dir, 'server.log')
  if (owner) await chown(dir, owner.uid, owner.gid)
  // mkdtemp makes the directory 0700; the server's user must enter it and its clients reach the socket.
  await chmod(dir, 0o755)
  const pgTool = (tool: string, args: string[]) => (owner ? run('runuser', ['-u', 'postgres', '--', join(bin, tool), ...args]) : run(join(bin, tool), args))

  let started = false
  let stopped = false
  const stop = async () => {
    if (stopped) return
    stopped = true
    if (started) await pgTool('pg_ctl', ['stop', '-D', dataDir, '-m', 'immediate', '-w']).catch(() => {})
    await rm(dir, { recursive: true, force: true })
  }
  try {
    await pgTool('initdb', ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C.UTF-8', '--no-sync'])
    // Another process may take the free port between our probe and the server's bind: try a few.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort()
      const settings: Record<string, string | number> = {
        listen_addresses: '127.0.0.1',
        port,
        unix_socket_directories: dir,
        ...THROWAWAY_SETTINGS,
        ...options.settings,
      }
      const serverOptions = Object.entries(settings)
        .map(([k, v]) => `-c ${k}=${v}`)
        .join(' ')
      try {
        await pgTool('pg_ctl', ['start', '-D', dataDir, '-l', logFile, '-w', '-t', '60', '-o', serverOptions])
      } catch (err) {
        if (attempt < 3 && /could not bind|address already in use/i.test(readLog(logFile))) continue
        throw err
      }
      started = true
      const url = `postgres://postgres@127.0.0.1:${port}/postgres`
      await waitUntilReady(url)
      return { url, port, dir, stop }
    }
  } catch (err) {
    const log = readLog(logFile)
    await stop()
    throw new Error(`could not start a temporary PostgreSQL server: ${(err as Error).message}${log ? `\n--- server log ---\n${log}` : ''}`)
  }
}

function readLog(file: string): string {
  return existsSync(file) ? readFileSync(file, 'utf8').slice(-4000) : ''
}

function postgresUser(): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'))
  const [, , uid, gid] = line?.split(':') ?? []
  if (!uid || !gid) throw new Error("running as root, but there is no `postgres` system user to run PostgreSQL as (install Debian's postgresql package)")
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
    try {
      await postgresAdmin(url, 'select 1')
      return
    } catch (err) {
      lastError = err
      await sleep(100)
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
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} exited with ${code}: ${output.trim().slice(-2000)}`))))
  })
}
