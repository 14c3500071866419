import { ValidationError } from './errors.ts'

/** A page of a list, as every list endpoint answers: `{"items": [...], "next": cursor|null}`. */
export interface Page<T> {
  items: T[]
  next: string | null
}

export const DEFAULT_PAGE_SIZE = 50
export const MAX_PAGE_SIZE = 500

/**
 * Keyset cursors: opaque to clients, they carry the sort key of the last row seen, so pages stay
 * stable while rows are added and cost the same at any depth (no OFFSET).
 */
export function encodeCursor(key: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url')
}

export function decodeCursor(cursor: string, shape: readonly ('string' | 'number')[]): (string | number)[] {
  let key: unknown
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
  } catch {
    key = undefined
  }
  // Cursors are not signed, so anything can come back, and its parts go into SQL: PostgreSQL refuses NUL in
  // text and a fraction or 1e400 (Infinity) for a bigint. Sort keys are ids and epoch ms, so nothing else is lost.
  const storable = (v: unknown) => (typeof v === 'number' ? Number.isSafeInteger(v) : typeof v === 'string' && !v.includes('\u0000') && v.isWellFormed())
  if (!Array.isArray(key) || key.length !== shape.length || key.some((v, i) => typeof v !== shape[i] || !storable(v)))
    throw new ValidationError([{ field: '/querystring/cursor', message: 'is not a cursor this list gave out' }])
  return key as (string | number)[]
}

/** Fetch limit+1 rows, then call this: it trims the extra row and builds the next cursor from the last kept one. */
export function toPage<T>(rows: T[], limit: number, keyOf: (row: T) => (string | number)[]): Page<T> {
  const items = rows.slice(0, limit)
  const last = items[items.length - 1]
  return { items, next: rows.length > limit && last !== undefined ? encodeCursor(keyOf(last)) : null }
}

/** A keyset position in a timeline: rows strictly before (occurredAt, id), newest first. */
export interface TimelinePosition {
  occurredAt: number
  id: string
}

/**
 * For lists newest first by (occurredAt, id), as observations and incidents are: checks the time window
 * [from, to) and turns the cursor into the position to continue from.
 */
export function timelinePosition(filter: { from?: number; to?: number; cursor?: string }): TimelinePosition | undefined {
  if (filter.from !== undefined && filter.to !== undefined && filter.from > filter.to)
    throw new ValidationError([{ field: '/querystring/from', message: 'must not be after `to`' }])
  if (!filter.cursor) return undefined
  const [occurredAt, id] = decodeCursor(filter.cursor, ['number', 'string']) as [number, string]
  return { occurredAt, id }
}

/** The page of a timeline list (limit+1 rows fetched), its cursor the last row's (occurredAt, id). */
export function timelinePage<T extends TimelinePosition>(rows: T[], limit: number): Page<T> {
  return toPage(rows, limit, (r) => [r.occurredAt, r.id])
}
