import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'
import type { DatabaseLocation } from './dialects.ts'

const NODE = fileURLToPath(new URL('../../node_modules/.bin/node', import.meta.url))
const SCRIPT = fileURLToPath(new URL('./db-child.ts', import.meta.url))

/** Child processes running ./db-child.ts, started and held at a barrier so they begin their work together. */
export interface DbChildren {
  /** Lets every child start at once; resolves with each child's JSON result. */
  go(): Promise<unknown[]>
  kill(): void
}

/** Spawns `count` children in `mode` on the database at `location` and waits until every one is ready. */
export async function spawnDbChildren(count: number, mode: 'migrate' | 'claim', location: DatabaseLocation): Promise<DbChildren> {
  const children = Array.from({ length: count }, (_, i) =>
    spawn(NODE, [SCRIPT, mode, JSON.stringify(location), `child-${i}`], { stdio: ['pipe', 'pipe', 'pipe'] }),
  )
  const results = children.map(collect)
  try {
    await Promise.all(results.map((r) => r.ready))
  } catch (err) {
    for (const child of children) child.kill()
    throw err
  }
  return {
    async go() {
      for (const child of children) child.stdin.write('go\n')
      return Promise.all(results.map((r) => r.result))
    },
    kill() {
      for (const child of children) child.kill()
    },
  }
}

function collect(child: ChildProcessWithoutNullStreams): { ready: Promise<void>; result: Promise<unknown> } {
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const lines = createInterface({ input: child.stdout })
  const exited = once(child, 'exit').then(([code]) => code as number | null)
  const failed = async (what: string) => {
    const code = await exited
    return new Error(`db-child ${what} (exit ${code}):\n${stderr.slice(-3000)}`)
  }
  const iterator = lines[Symbol.asyncIterator]()
  const ready = iterator.next().then(async (r) => {
    if (r.value !== 'ready') throw await failed('did not get ready')
  })
  const result = ready.then(async () => {
    const r = await iterator.next()
    const code = await exited
    if (r.done || code !== 0) throw await failed('failed')
    return JSON.parse(r.value) as unknown
  })
  // A rejection is reported through `ready` or `result`, whichever the caller awaits.
  ready.catch(() => {})
  result.catch(() => {})
  return { ready, result }
}
