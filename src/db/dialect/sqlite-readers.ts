import { Worker } from 'node:worker_threads'
import type { ReaderReply, ReaderRequest } from './sqlite-reader-protocol.ts'

/** Folds one more timing (µs) into a statement's moving average: where it runs next (sqlite.ts, readerFor). */
export function recordCost(entry: { costUs: number }, us: number): void {
  entry.costUs = entry.costUs < 0 ? us : entry.costUs * 0.9 + us * 0.1
}

/**
 * A small pool of reader threads, each with its own read-only connection to the same WAL database
 * (sqlite-reader-thread.ts). better-sqlite3 is synchronous: on the main connection a query and the decoding
 * of its rows run on the event loop, serialised with all HTTP work. Plain SELECTs issued outside a
 * transaction are sent here instead, so they run in parallel with it (bench/README.md, `api`). In WAL mode
 * readers never block the writer nor see uncommitted writes, and a read that starts after a commit sees it.
 *
 * The pool is an optimisation, never a requirement: until a reader is ready, or if none can open the file,
 * `usable` is false and the caller runs reads on the main connection. A reader that dies takes the queries
 * it was running with it (they reject with an error saying so) and is replaced.
 */
export class SqliteReadPool {
  readonly #path: string
  readonly #readers: Reader[] = []
  #nextId = 1
  #closed = false
  /** Set when a reader failed to open the database: the pool stays out of the way from then on. */
  #failure: string | null = null

  constructor(path: string, size: number) {
    this.#path = path
    for (let i = 0; i < size; i++) this.#readers.push(this.#spawn())
  }

  /** True when at least one reader is ready to take a query. */
  get usable(): boolean {
    if (this.#closed || this.#failure) return false
    for (const reader of this.#readers) if (reader.ready) return true
    return false
  }

  /** Why the pool stopped taking queries, if it did (for diagnostics and tests). */
  get failure(): string | null {
    return this.#failure
  }

  /**
   * Reads that took less than this (µs, moving average per statement) run on the main connection: handing
   * one over and taking its rows back costs the main thread ~20 µs plus the rows' decoding, more than a key
   * lookup costs to run. 0 sends every plain read to a reader (tests).
   */
  offloadAboveUs = 100

  /**
   * Runs one read-only SELECT on the least busy ready reader. Call only while `usable`. `timing` gets the
   * reader's running time (recordCost).
   */
  run(sql: string, params: readonly unknown[], timing?: { costUs: number }): Promise<{ rows: Record<string, unknown>[] }> {
    let chosen: Reader | undefined
    for (const reader of this.#readers) if (reader.ready && (!chosen || reader.pending.size < chosen.pending.size)) chosen = reader
    if (!chosen) return Promise.reject(new Error('SQLite read pool has no ready reader'))
    const reader = chosen
    const id = this.#nextId++
    return new Promise((resolve, reject) => {
      // A reader keeps the process alive only while it owes an answer.
      if (reader.pending.size === 0) reader.worker.ref()
      reader.pending.set(id, { resolve, reject, timing })
      reader.worker.postMessage({ id, sql, params } satisfies ReaderRequest)
    })
  }

  /** Stops every reader; queries still running reject. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    // A thread terminated while it loads better-sqlite3's native addon can abort the whole process (a fatal
    // N-API error, seen once in CI when a test closed its database right after opening it): let each finish
    // starting first, for at most a few seconds.
    await Promise.all(this.#readers.map((reader) => Promise.race([reader.started, new Promise<void>((ok) => setTimeout(ok, START_WAIT_MS).unref())])))
    await Promise.all(this.#readers.map((reader) => reader.worker.terminate()))
  }

  /** Test hook: the readers' threads, to simulate a crash. */
  get threadsForTest(): readonly Worker[] {
    return this.#readers.map((reader) => reader.worker)
  }

  #spawn(): Reader {
    const worker = new Worker(new URL('./sqlite-reader-thread.ts', import.meta.url), { workerData: { path: this.#path } })
    worker.unref()
    let markStarted = () => {}
    const started = new Promise<void>((ok) => (markStarted = ok))
    const reader: Reader = { worker, ready: false, started, markStarted, pending: new Map(), lastError: null }
    worker.on('message', (reply: ReaderReply) => this.#onReply(reader, reply))
    worker.on('error', (err) => {
      reader.lastError = err.message
    })
    worker.on('exit', (code) => this.#onExit(reader, code))
    return reader
  }

  #onReply(reader: Reader, reply: ReaderReply): void {
    if ('ready' in reply) {
      reader.markStarted()
      if (reply.ready) reader.ready = true
      else {
        this.#failure = `SQLite reader could not open ${this.#path}: ${reply.message}`
        reader.lastError = reply.message
      }
      return
    }
    const pending = reader.pending.get(reply.id)
    if (!pending) return
    reader.pending.delete(reply.id)
    if (reader.pending.size === 0) reader.worker.unref()
    if ('error' in reply) {
      const err = Object.assign(new Error(reply.error.message), { code: reply.error.code })
      if (reply.error.name) err.name = reply.error.name
      pending.reject(err)
      return
    }
    if (pending.timing) recordCost(pending.timing, reply.us)
    if ('json' in reply) {
      pending.resolve({ rows: JSON.parse(reply.json) as Record<string, unknown>[] })
      return
    }
    // Structured cloning turns Buffers into plain Uint8Arrays; give callers what the main connection gives.
    if (reply.blobs) {
      for (const row of reply.rows)
        for (const key in row) {
          const value = row[key]
          if (value instanceof Uint8Array) row[key] = Buffer.from(value.buffer, value.byteOffset, value.byteLength)
        }
    }
    pending.resolve({ rows: reply.rows })
  }

  #onExit(reader: Reader, code: number): void {
    reader.markStarted()
    const started = reader.ready
    reader.ready = false
    const why = this.#closed ? 'the database was closed' : `the SQLite reader thread exited (code ${code}${reader.lastError ? `: ${reader.lastError}` : ''})`
    for (const pending of reader.pending.values()) pending.reject(new Error(`query aborted: ${why}`))
    reader.pending.clear()
    if (this.#closed || this.#failure) return
    // One that dies before it is ready would die again (say, its module cannot load): don't spin replacing it.
    if (!started) {
      this.#failure = `SQLite reader thread failed to start (code ${code}${reader.lastError ? `: ${reader.lastError}` : ''})`
      return
    }
    const index = this.#readers.indexOf(reader)
    if (index >= 0) this.#readers[index] = this.#spawn()
  }
}

/** How long `close` waits for a reader still starting before it terminates it anyway. */
const START_WAIT_MS = 5_000

interface Reader {
  worker: Worker
  ready: boolean
  /** Resolves once the thread said whether it opened the file, or exited: it is no longer loading the addon. */
  started: Promise<void>
  markStarted(): void
  pending: Map<number, { resolve: (result: { rows: Record<string, unknown>[] }) => void; reject: (err: Error) => void; timing: { costUs: number } | undefined }>
  lastError: string | null
}
