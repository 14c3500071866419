/**
 * From a field folder to outbox items (issue 7): each report's originals hashed once, a thumbnail and a
 * publication image made from each photo, a capture record signed by the device key for each of the three,
 * and the observation naming the originals' hashes. Everything derived is cached in `DIR/.louder/`, keyed by
 * the media file's path, size and modification time, so a rerun neither re-hashes nor re-renders.
 */
import { createHash, type KeyObject } from 'node:crypto'
import { readFilePieces } from '../blobs/file-pieces.ts'
import { mkdir, open, readFile, rename, stat } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { type CaptureRecord, signCaptureRecord } from '../core/evidence/capture-record.ts'
import { canonicalJson } from '../core/canonical-json.ts'
import type { OutboxItem, PriorityClass } from '../core/sync/outbox.ts'
import type { FieldReport } from '../field/field-format.ts'
import { makeFieldDerivatives, probeImage } from '../media/field-derivatives.ts'

export const STATE_DIR = '.louder'
const CACHE_FILE = 'media-cache.json'
const DERIVED_DIR = 'derived'

export interface DerivedMedia {
  sha256: string
  mediaType: string
  width: number
  height: number
  byteLength: number
  /** Relative to DIR/.louder/. */
  file: string
  /** When this device made it (the capture record's deviceTime), kept so the record, and its signature, never change. */
  madeAt: string
}

export interface CachedMedia {
  size: number
  mtimeMs: number
  sha256: string
  mediaType: string
  width: number | null
  height: number | null
  /** null: not an image we make derivatives of. */
  derivatives: { thumbnail: DerivedMedia; publication: DerivedMedia } | null
  /** The original was deleted here after the server confirmed holding it (`--purge-after-ack`). */
  purged?: boolean
}

export interface MediaCache {
  version: 1
  /** By the media path relative to the folder. */
  entries: Record<string, CachedMedia>
}

export async function loadMediaCache(dir: string): Promise<MediaCache> {
  try {
    const parsed = JSON.parse(await readFile(join(dir, STATE_DIR, CACHE_FILE), 'utf8')) as MediaCache
    if (parsed.version === 1 && typeof parsed.entries === 'object' && parsed.entries !== null) return parsed
  } catch {
    // Missing or unreadable: everything is derived again, which costs time but loses nothing.
  }
  return { version: 1, entries: {} }
}

/** temp → fsync → rename: a kill leaves the old cache or the new one. */
export async function saveMediaCache(dir: string, cache: MediaCache): Promise<void> {
  const path = join(dir, STATE_DIR, CACHE_FILE)
  await mkdir(join(dir, STATE_DIR), { recursive: true })
  const temp = `${path}.${process.pid}.tmp`
  const file = await open(temp, 'w', 0o600)
  try {
    await file.writeFile(JSON.stringify(cache))
    await file.sync()
  } finally {
    await file.close()
  }
  await rename(temp, path)
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of readFilePieces(path)) hash.update(chunk)
  return hash.digest('hex')
}

/** The cached entry for a media file, made (hashed, probed, derived) when missing or when the file changed. */
export async function prepareMedia(dir: string, cache: MediaCache, relPath: string, path: string): Promise<CachedMedia> {
  const cached = cache.entries[relPath]
  let info
  try {
    info = await stat(path)
  } catch (err) {
    if (cached?.purged && (err as { code?: string }).code === 'ENOENT') return cached
    throw err
  }
  if (cached && cached.size === info.size && cached.mtimeMs === info.mtimeMs) return cached
  const sha256 = await sha256File(path)
  const image = await probeImage(path)
  let derivatives: CachedMedia['derivatives'] = null
  if (image) {
    await mkdir(join(dir, STATE_DIR, DERIVED_DIR), { recursive: true })
    const thumbFile = join(DERIVED_DIR, `${sha256}.thumb.webp`)
    const pubFile = join(DERIVED_DIR, `${sha256}.pub.jpg`)
    try {
      const made = await makeFieldDerivatives(path, join(dir, STATE_DIR, thumbFile), join(dir, STATE_DIR, pubFile))
      const madeAt = new Date(Math.floor(Date.now() / 1000) * 1000).toISOString().replace('.000Z', 'Z')
      const describe = async (d: typeof made.thumbnail, file: string): Promise<DerivedMedia> => ({ sha256: await sha256File(d.path), mediaType: d.mediaType, width: d.width, height: d.height, byteLength: d.byteLength, file, madeAt })
      derivatives = { thumbnail: await describe(made.thumbnail, thumbFile), publication: await describe(made.publication, pubFile) }
    } catch {
      // A photo sharp cannot render still goes as an original; only its previews are missing.
      derivatives = null
    }
  }
  const entry: CachedMedia = { size: info.size, mtimeMs: info.mtimeMs, sha256, mediaType: image?.mediaType ?? guessMediaType(relPath), width: image?.width ?? null, height: image?.height ?? null, derivatives }
  cache.entries[relPath] = entry
  return entry
}

const EXTENSIONS: Record<string, string> = {
  jpg: 'image/jpeg', jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp', heic: 'image/heic', gif: 'image/gif', tif: 'image/tiff', tiff: 'image/tiff',
  mp4: 'video/mp4', mov: 'video/quicktime', webm: 'video/webm', mkv: 'video/x-matroska', '3gp': 'video/3gpp',
  mp3: 'audio/mpeg', m4a: 'audio/mp4', ogg: 'audio/ogg', opus: 'audio/opus', wav: 'audio/wav', amr: 'audio/amr',
  pdf: 'application/pdf', txt: 'text/plain',
}

function guessMediaType(relPath: string): string {
  const ext = relPath.toLowerCase().split('.').pop() ?? ''
  return EXTENSIONS[ext] ?? 'application/octet-stream'
}

export interface Signer {
  keyId: string
  privateKey: KeyObject
  appVersion: string
}

function record(signer: Signer, fields: Pick<CaptureRecord, 'sha256' | 'mediaType' | 'byteLength' | 'pixelWidth' | 'pixelHeight' | 'deviceTime' | 'notes' | 'parentSha256'>): CaptureRecord {
  return {
    schema: 'louder.capture',
    version: 1,
    durationMs: null,
    gnssTime: null,
    // Where the report says the event happened is not where the picture was taken; the record claims only what it knows.
    location: null,
    device: { model: null, os: null, appVersion: signer.appVersion, keyId: signer.keyId },
    caseReference: null,
    collector: null,
    ...fields,
  }
}

const jsonBytes = (value: unknown) => Buffer.byteLength(canonicalJson(value), 'utf8') + 64

function captureItem(signer: Signer, r: CaptureRecord, base: Omit<OutboxItem, 'id' | 'payload' | 'class' | 'after'>): OutboxItem {
  const body = { record: r, signature: signCaptureRecord(r, signer.privateKey) }
  // Keyed by the record's content: the same record again replays its answer, and another record for the same
  // bytes (another device's, a changed caption) is a new request the server answers with capture_conflict.
  const key = `capture:${createHash('sha256').update(canonicalJson(r)).digest('hex')}`
  return { ...base, id: `capture:${r.sha256}`, class: 0, after: [], payload: { type: 'batch', kind: 'capture', idempotencyKey: key, body, bytes: jsonBytes(body) } }
}

/** The device's registration request: sent first, once; the server answers it the same way however often it comes. */
export function deviceItem(keyId: string, publicKey: string, name: string): OutboxItem {
  const body = { publicKey, name }
  return { id: `device:${keyId}`, class: 0, urgent: true, time: Number.MAX_SAFE_INTEGER, label: 'device key', after: [], payload: { type: 'batch', kind: 'device', idempotencyKey: `device:${keyId}`, body, bytes: jsonBytes(body) } }
}

/** A report's items: capture records and the observation (P0), then thumbnail (P1), publication image (P2), original (P3) per medium. */
export function reportItems(dir: string, report: FieldReport, observation: Record<string, unknown>, media: { relPath: string; path: string; caption: string | null; entry: CachedMedia }[], signer: Signer): OutboxItem[] {
  const time = Number.isFinite(Date.parse(report.occurredAt)) ? Date.parse(report.occurredAt) : report.modifiedAt
  const base = { urgent: report.urgent, time, label: report.id }
  const items: OutboxItem[] = []
  const body = { ...observation, media: [...new Set(media.map((m) => m.entry.sha256))] }
  for (const m of media) {
    const e = m.entry
    const original = record(signer, { sha256: e.sha256, mediaType: e.mediaType, byteLength: e.size, pixelWidth: e.width, pixelHeight: e.height, deviceTime: null, notes: m.caption?.slice(0, 4000) ?? null, parentSha256: null })
    items.push(captureItem(signer, original, base))
    items.push({ ...base, id: `media:${e.sha256}`, class: 3, after: [`capture:${e.sha256}`], payload: { type: 'media', sha256: e.sha256, length: e.size, filename: basename(m.relPath), source: m.path } })
    if (!e.derivatives) continue
    for (const [d, cls, what] of [
      [e.derivatives.thumbnail, 1, 'thumbnail'],
      [e.derivatives.publication, 2, 'publication image'],
    ] as const) {
      const r = record(signer, { sha256: d.sha256, mediaType: d.mediaType, byteLength: d.byteLength, pixelWidth: d.width, pixelHeight: d.height, deviceTime: d.madeAt, notes: `${what} of ${e.sha256}, long side ${Math.max(d.width, d.height)} px, no metadata`, parentSha256: e.sha256 })
      items.push(captureItem(signer, r, base))
      items.push({ ...base, id: `media:${d.sha256}`, class: cls as PriorityClass, after: [`capture:${d.sha256}`], payload: { type: 'media', sha256: d.sha256, length: d.byteLength, filename: `${basename(m.relPath)}.${what === 'thumbnail' ? 'thumb.webp' : 'pub.jpg'}`, source: join(dir, STATE_DIR, d.file) } })
    }
  }
  items.push({ ...base, id: `observation:${report.id}`, class: 0, after: [], payload: { type: 'batch', kind: 'observation', idempotencyKey: `field-report:${signer.keyId}:${report.id}`, body, bytes: jsonBytes(body) } })
  return items
}

/** One item per id: a medium two reports share is sent once, with the more urgent (then newer) report's place in line. */
export function mergeItems(items: OutboxItem[]): OutboxItem[] {
  const byId = new Map<string, OutboxItem>()
  for (const item of items) {
    const seen = byId.get(item.id)
    if (!seen || (item.urgent && !seen.urgent) || (item.urgent === seen.urgent && item.time > seen.time)) byId.set(item.id, item)
  }
  return [...byId.values()]
}
