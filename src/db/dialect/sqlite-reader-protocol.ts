/** Messages between the main thread and the SQLite reader threads (sqlite-readers.ts, sqlite-reader-thread.ts). */

/**
 * What every reader connection sets, as the main connection does: wait for a lock instead of failing, and read
 * pages through a memory map (bench/README.md, `api`).
 */
export const READER_PRAGMAS = ['busy_timeout = 10000', 'mmap_size = 1073741824'] as const

export interface ReaderRequest {
  id: number
  sql: string
  params: readonly unknown[]
}

export type ReaderReply =
  | { ready: true }
  | { ready: false; message: string }
  | { id: number; us: number; json: string }
  | { id: number; us: number; rows: Record<string, unknown>[]; blobs: boolean }
  | { id: number; error: { message: string; code?: string; name?: string } }
