/**
 * One SQLite reader thread (src/db/dialect/sqlite-readers.ts): a read-only connection to the same WAL database
 * that runs the plain SELECTs the main thread sends it and posts the rows back. Runs as a worker thread, as
 * TypeScript under Node's type stripping.
 */
import { parentPort, workerData } from 'node:worker_threads'
import SqliteDatabase from 'better-sqlite3'
import { READER_PRAGMAS, type ReaderReply, type ReaderRequest } from './sqlite-reader-protocol.ts'

const port = parentPort!
const { path } = workerData as { path: string }

function open(): SqliteDatabase.Database | null {
  try {
    // fileMustExist: the main connection creates and migrates the file before any reader starts.
    const db = new SqliteDatabase(path, { readonly: true, fileMustExist: true })
    for (const pragma of READER_PRAGMAS) db.pragma(pragma)
    return db
  } catch (err) {
    port.postMessage({ ready: false, message: (err as Error).message } satisfies ReaderReply)
    return null
  }
}

// Compiled statements kept by their SQL text, as on the main connection (StatementCache in sqlite.ts).
const CACHE_SIZE = 500
const cache = new Map<string, SqliteDatabase.Statement>()
function prepare(handle: SqliteDatabase.Database, text: string): SqliteDatabase.Statement {
  let statement = cache.get(text)
  if (statement) {
    cache.delete(text)
  } else {
    statement = handle.prepare(text)
    if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value!)
  }
  cache.set(text, statement)
  return statement
}

/**
 * Rows go back as one JSON string when JSON carries them exactly (text, null, finite numbers other than -0):
 * parsing it costs the main thread a fraction of what rebuilding the same objects from a structured clone does,
 * and the main thread's time is what the reader threads are there to save. Anything else (blobs, bigints,
 * -0, infinities) goes as a structured clone, which carries them all.
 */
function reply(id: number, us: number, rows: Record<string, unknown>[]): ReaderReply {
  let blobs = false
  let json = true
  for (const row of rows) {
    for (const key in row) {
      const value = row[key]
      if (value === null || typeof value === 'string') continue
      if (typeof value === 'number') {
        if (!Number.isFinite(value) || Object.is(value, -0)) json = false
        continue
      }
      json = false
      if (Buffer.isBuffer(value)) blobs = true
    }
  }
  return json ? { id, us, json: JSON.stringify(rows) } : { id, us, rows, blobs }
}

const handle = open()
if (handle) {
  port.on('message', (request: ReaderRequest) => {
    try {
      const params = request.params.map((value) =>
        // Structured cloning turns a Buffer into a plain Uint8Array; better-sqlite3 binds blobs from Buffers.
        value instanceof Uint8Array && !Buffer.isBuffer(value) ? Buffer.from(value.buffer, value.byteOffset, value.byteLength) : value,
      )
      const statement = prepare(handle, request.sql)
      // The main thread routes only statements it checked are read-only readers; refuse anything else anyway.
      if (!statement.readonly || !statement.reader) throw new Error('SQLite reader thread: refusing a statement that is not a read-only SELECT')
      const started = performance.now()
      const rows = statement.all(params) as Record<string, unknown>[]
      port.postMessage(reply(request.id, (performance.now() - started) * 1000, rows))
    } catch (err) {
      const e = err as { message?: string; code?: string; name?: string }
      port.postMessage({ id: request.id, error: { message: String(e?.message ?? err), code: e?.code, name: e?.name } } satisfies ReaderReply)
    }
  })
  port.postMessage({ ready: true } satisfies ReaderReply)
} else {
  // A reader that could not open has said so; it ends here, and the pool stays out of the way.
  port.close()
}
