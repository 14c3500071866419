/**
 * The `louder` command as a real process, the way an operator runs it: `bin/louder serve` on a data
 * directory (and a PostgreSQL URL where given), found ready by its stdout line and /api/v1/health.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'

export const LOUDER = fileURLToPath(new URL('../../bin/louder', import.meta.url))

/** The environment for a child: ours without any LOUDER_* setting, so only the flags we pass count. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('LOUDER_')))
  return { ...env, ...extra }
}

export interface Where {
  dataDir: string
  databaseUrl?: string | null
}

export interface ServerProcess {
  readonly url: string
  readonly child: ChildProcess
  /** Everything the process wrote so far, for failure messages. */
  output(): string
  /** Resolves with the exit code (or signal) once the process is gone. */
  readonly exited: Promise<number | NodeJS.Signals | null>
  kill(signal?: NodeJS.Signals): Promise<number | NodeJS.Signals | null>
}

const running = new Set<ChildProcess>()

/** SIGKILLs every server this module started that is still running (afterEach/afterAll). */
export async function killAllServers(): Promise<void> {
  await Promise.all(
    [...running].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve()
          child.once('exit', () => resolve())
          child.kill('SIGKILL')
        }),
    ),
  )
  running.clear()
}

export function dataArgs(where: Where): string[] {
  return ['--data', where.dataDir, ...(where.databaseUrl ? ['--database-url', where.databaseUrl] : [])]
}

/** Starts `louder serve` on a free port (or `port`, as a restart after a crash does) and resolves once /api/v1/health answers 200. */
export async function startServer(where: Where, timeoutMs = 30_000, port = 0): Promise<ServerProcess> {
  const child = spawn(LOUDER, ['serve', ...dataArgs(where), '--port', String(port), '--host', '127.0.0.1', '--log-level', 'warn'], {
    env: cleanEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  running.add(child)
  let out = ''
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()))
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) => child.once('exit', (code, signal) => {
    running.delete(child)
    resolve(signal ?? code)
  }))

  const deadline = Date.now() + timeoutMs
  let bound: number | undefined
  while (bound === undefined) {
    const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out)
    if (m) bound = Number(m[1])
    else if (child.exitCode !== null || child.signalCode !== null) throw new Error(`louder serve exited before listening:\n${out}`)
    else if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`louder serve did not print its address in ${timeoutMs} ms:\n${out}`)
    } else await sleep(25)
  }
  const url = `http://127.0.0.1:${bound}`
  for (;;) {
    try {
      const res = await fetch(`${url}/api/v1/health`, { signal: AbortSignal.timeout(2000) })
      if (res.status === 200) break
    } catch {
      // not ready yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`louder serve at ${url} never answered /api/v1/health:\n${out}`)
    }
    await sleep(25)
  }
  return {
    url,
    child,
    output: () => out,
    exited,
    kill(signal = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      return exited
    },
  }
}

/** Runs `louder` to completion and returns its exit code and output. */
export function runLouder(args: string[], env: NodeJS.ProcessEnv = cleanEnv(), timeoutMs = 30_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(LOUDER, args, { env, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs, killSignal: 'SIGKILL' })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.once('error', reject)
    child.once('close', (code) => resolve({ code, stdout, stderr }))
  })
}

/** A new API token for the initial administrator, made by `louder admin create-token` on the data (safe while a server runs). */
export async function adminToken(where: Where): Promise<string> {
  const res = await runLouder(['admin', 'create-token', ...dataArgs(where), '--email', 'admin@louder.local', '--json'])
  if (res.code !== 0) throw new Error(`louder admin create-token failed (${res.code}):\n${res.stderr}${res.stdout}`)
  return (JSON.parse(res.stdout) as { token: string }).token
}
