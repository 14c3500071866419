import type { Repositories } from '../core/ports/repositories.ts'
import type { TimestampReply } from './timestamp-client.ts'

/**
 * RFC 3161 replies per checkpoint, kept in the `meta` table (one JSON value per checkpoint size, and the list
 * of sizes that have any): a handful of kilobytes per export, carried by backups like every other row, with no
 * table of its own to migrate.
 */
const SIZES = 'court.timestamped-sizes'
const key = (size: number) => `court.timestamps:${size}`

export async function timestampedSizes(repos: Repositories): Promise<number[]> {
  const raw = await repos.meta.get(SIZES)
  return raw ? (JSON.parse(raw) as number[]) : []
}

export async function saveTimestamps(repos: Repositories, size: number, replies: readonly TimestampReply[]): Promise<void> {
  if (replies.length === 0) return
  const existing = await loadTimestamps(repos, size)
  const all = [...existing, ...replies].map((r) => ({ url: r.url, reply: r.reply.toString('base64'), caPem: r.caPem }))
  await repos.meta.set(key(size), JSON.stringify(all))
  const sizes = await timestampedSizes(repos)
  if (!sizes.includes(size)) await repos.meta.set(SIZES, JSON.stringify([...sizes, size].sort((a, b) => a - b)))
}

export async function loadTimestamps(repos: Repositories, size: number): Promise<TimestampReply[]> {
  const raw = await repos.meta.get(key(size))
  if (!raw) return []
  return (JSON.parse(raw) as { url: string; reply: string; caPem: string }[]).map((r) => ({ url: r.url, reply: Buffer.from(r.reply, 'base64'), caPem: r.caPem }))
}
