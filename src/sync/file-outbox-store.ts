/**
 * The CLI's OutboxStore: a JSON-lines journal (`DIR/.louder/outbox.jsonl`), one line `{"id","r"}` per change,
 * the last line for an id winning. A line is appended and fsynced before `save` resolves, so a kill -9 at any
 * moment loses at most the line being written, and a torn last line is skipped on load. Loading compacts the
 * journal: the live records are written to a temp file, fsynced, renamed over it and the directory fsynced,
 * so the file stays small however long the device syncs.
 */
import { mkdir, open, readFile, rename, type FileHandle } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { ItemRecord, OutboxStore } from '../core/sync/outbox.ts'

export interface FileOutboxStore extends OutboxStore {
  close(): Promise<void>
}

export async function openFileOutboxStore(path: string): Promise<FileOutboxStore> {
  await mkdir(dirname(path), { recursive: true })
  let handle: FileHandle | null = null

  const close = async () => {
    const h = handle
    handle = null
    await h?.close()
  }

  return {
    async load() {
      await close()
      const records = await readJournal(path)
      const temp = `${path}.${process.pid}.tmp`
      const out = await open(temp, 'w', 0o600)
      try {
        await out.writeFile([...records].map(([id, r]) => `${JSON.stringify({ id, r })}\n`).join(''))
        await out.sync()
      } finally {
        await out.close()
      }
      await rename(temp, path)
      await syncDir(dirname(path))
      handle = await open(path, 'a', 0o600)
      return records
    },
    async save(changes) {
      if (changes.length === 0) return
      if (!handle) handle = await open(path, 'a', 0o600)
      // One write and one fsync for the lot; a kill mid-write tears at most the last line.
      await handle.appendFile(changes.map(([id, r]) => `${JSON.stringify({ id, r })}\n`).join(''))
      await handle.sync()
    },
    close,
  }
}

/** The journal's records; lines that do not parse (the one a kill cut short) are skipped. */
export async function readJournal(path: string): Promise<Map<string, ItemRecord>> {
  const records = new Map<string, ItemRecord>()
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return records
    throw err
  }
  for (const line of text.split('\n')) {
    if (line === '') continue
    try {
      const entry = JSON.parse(line) as { id?: unknown; r?: unknown }
      if (typeof entry.id === 'string' && isRecord(entry.r)) records.set(entry.id, entry.r)
    } catch {
      // A torn line from a kill mid-write; the lines before it are whole (each was fsynced before the next).
    }
  }
  return records
}

function isRecord(value: unknown): value is ItemRecord {
  const state = (value as { state?: { state?: unknown } } | null)?.state?.state
  return state === 'queued' || state === 'sending' || state === 'acknowledged' || state === 'failed'
}

async function syncDir(dir: string): Promise<void> {
  const d = await open(dir, 'r')
  try {
    await d.sync()
  } finally {
    await d.close()
  }
}
