/**
 * `louder sync … --json` as a child process whose JSON lines can be waited for: the sync tests start it, watch
 * its progress (to kill it, or the server, at a chosen moment) and read its summary.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import type { SyncSummary as CliSyncSummary } from '../../src/cli/sync-progress.ts'
import { cleanEnv, LOUDER } from '../large/server-process.ts'

export type SyncLine = { event: string; [k: string]: unknown }

/** The `summary` line: the CLI's own summary (src/cli/sync-progress.ts). */
export type SyncSummary = CliSyncSummary & { event: 'summary' }

export interface SyncChild {
  child: ChildProcess
  lines: SyncLine[]
  /** The exit code; -1 when killed by a signal. */
  exited: Promise<number | null>
  stderr(): string
  /** The first line (already seen or to come) that passes `test`; rejects on timeout or when the child exits without it. */
  waitFor(test: (l: SyncLine) => boolean, timeoutMs?: number): Promise<SyncLine>
  /** Resolves with the summary once the command exited. */
  finish(timeoutMs?: number): Promise<{ code: number | null; summary: SyncSummary }>
}

/** Starts `louder sync ARGS --json` with the token in LOUDER_TOKEN; `track` collects children for cleanup. */
export function startSyncChild(args: string[], token: string, track?: Set<ChildProcess>): SyncChild {
  const child = spawn(LOUDER, ['sync', ...args, '--json'], { env: cleanEnv({ LOUDER_TOKEN: token }), stdio: ['ignore', 'pipe', 'pipe'] })
  track?.add(child)
  const lines: SyncLine[] = []
  let buffer = ''
  let stderr = ''
  const waiters: { test: (l: SyncLine) => boolean; resolve: (l: SyncLine) => void }[] = []
  child.stdout!.on('data', (d: Buffer) => {
    buffer += d.toString()
    let nl
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = JSON.parse(buffer.slice(0, nl)) as SyncLine
      buffer = buffer.slice(nl + 1)
      lines.push(line)
      for (const w of [...waiters]) if (w.test(line)) waiters.splice(waiters.indexOf(w), 1) && w.resolve(line)
    }
  })
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
  const exited = new Promise<number | null>((resolve) =>
    child.once('close', (code, signal) => {
      track?.delete(child)
      resolve(code ?? (signal ? -1 : null))
    }),
  )
  const run: SyncChild = {
    child,
    lines,
    exited,
    stderr: () => stderr,
    waitFor(test, timeoutMs = 120_000) {
      const seen = lines.find(test)
      if (seen) return Promise.resolve(seen)
      return new Promise((resolve, reject) => {
        const fail = (why: string) => () => reject(new Error(`${why}; stderr:\n${stderr}\nlast lines: ${JSON.stringify(lines.slice(-3))}`))
        const timer = setTimeout(fail('timed out'), timeoutMs)
        waiters.push({ test, resolve: (l) => (clearTimeout(timer), resolve(l)) })
        // A child that died never sends the line (a line read just before its exit has been handled by then).
        void exited.then(() => (clearTimeout(timer), fail('louder sync exited without it')()))
      })
    },
    async finish(timeoutMs = 150_000) {
      const summary = (await run.waitFor((l) => l.event === 'summary', timeoutMs)) as unknown as SyncSummary
      return { code: await exited, summary }
    },
  }
  return run
}
