/**
 * What `louder sync DIR` does (src/cli/commands/sync.ts registers it; loaded only when it runs): reads the
 * field folder, hashes and derives what is new (cached in DIR/.louder/), signs capture records with the
 * device key, and runs the outbox against the server, with progress and a summary. Killed at any moment and
 * run again, it continues where it stopped: the outbox journal and the server's idempotency keys and upload
 * offsets decide what is still to send. Exit 0: all acknowledged; 3: some deferred by budget or policy;
 * 1: errors (listed); 130: interrupted.
 */
import { createPublicKey } from 'node:crypto'
import { watch } from 'node:fs'
import { readFile, unlink } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { devicePrivateKey } from '../core/evidence/capture-record.ts'
import { deviceKeyId, rawPublicKey } from '../core/evidence/device-key.ts'
import { DEFAULT_OUTBOX_OPTIONS, type OutboxItem, type OutboxOptions, runOutbox } from '../core/sync/outbox.ts'
import { fieldReportToObservation, FieldFolderError, readFieldFolder } from '../field/field-folder.ts'
import { openFileOutboxStore } from '../sync/file-outbox-store.ts'
import { deviceItem, loadMediaCache, mergeItems, prepareMedia, reportItems, saveMediaCache, type Signer, STATE_DIR } from '../sync/field-items.ts'
import { createHttpTransport, type HttpTransport } from '../sync/http-transport.ts'
import { VERSION } from '../version.ts'
import { fileErrorReason } from './file-error.ts'
import { readPassphrase } from './field-input.ts'
import { interruptible } from './interrupt.ts'
import { type ProgressMode, summarise, type SyncSummary, summaryTable, syncDisplay } from './sync-progress.ts'

export interface SyncOptions {
  server: string
  token?: string
  budget?: string
  originals?: string
  cheap?: boolean
  watch?: boolean
  purgeAfterAck?: boolean
  json?: boolean
  maxInFlight?: string
  deviceDir?: string
  deviceName?: string
  passphraseFile?: string
  stallTimeout?: string
  retryFor?: string
}

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1e3, kb: 1e3, m: 1e6, mb: 1e6, g: 1e9, gb: 1e9, t: 1e12, tb: 1e12, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4 }

/** "20MB" → 20 000 000; "1.5GiB" → 1 610 612 736. KB, MB, GB are powers of 1000, KiB, MiB, GiB of 1024. */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text)
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined
  if (!m || unit === undefined) throw new Error(`--budget: "${text}" is not a size (examples: 20MB, 500KB, 1.5GiB)`)
  return Math.floor(Number(m[1]) * unit)
}

function positive(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback
  const n = Number(text)
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, not "${text}"`)
  return n
}

export async function syncCommand(dir: string, opts: SyncOptions, env: { token: string | undefined; fieldPassphrase: string | undefined }): Promise<void> {
  const token = opts.token ?? env.token
  if (!token) throw new Error('no API token: give --token or set LOUDER_TOKEN')
  if (opts.originals !== undefined && opts.originals !== 'now' && opts.originals !== 'later') throw new Error('--originals is now or later')
  const outbox: Partial<OutboxOptions> = {
    budget: opts.budget === undefined ? null : parseSize(opts.budget),
    originals: (opts.originals ?? 'now') as 'now' | 'later',
    cheapLink: opts.cheap ?? false,
    maxInFlight: Math.floor(positive('--max-in-flight', opts.maxInFlight, DEFAULT_OUTBOX_OPTIONS.maxInFlight)),
    retryFor: positive('--retry-for', opts.retryFor, DEFAULT_OUTBOX_OPTIONS.retryFor / 1000) * 1000,
  }
  const deviceDir = opts.deviceDir ?? (await import('./device-keys.ts')).DEFAULT_DEVICE_DIR
  const signer = await loadSigner(deviceDir)
  // As `louder field check`: the file's first line, else LOUDER_FIELD_PASSPHRASE; without either, restricted parts stay shut.
  const passphrase = opts.passphraseFile !== undefined || env.fieldPassphrase ? await readPassphrase(opts.passphraseFile) : undefined
  const mode: ProgressMode = opts.json ? 'json' : process.stderr.isTTY ? 'tty' : 'plain'
  const transport = createHttpTransport({ server: opts.server, token, stallMs: positive('--stall-timeout', opts.stallTimeout, 30) * 1000, userAgent: `louder-sync/${VERSION}` })
  const stop = interruptible('sync')
  let last: SyncSummary | null = null
  try {
    for (;;) {
      last = await syncOnce(dir, { signer, passphrase, outbox, mode, transport, purge: opts.purgeAfterAck ?? false, deviceName: opts.deviceName ?? hostname() }, stop.signal)
      if (!opts.watch || stop.signal.aborted) break
      // Something failed or waits: look again in a while even if the folder does not change.
      await changeIn(dir, stop.signal, last.exitCode === 0 ? null : 60_000)
      if (stop.signal.aborted) break
    }
  } finally {
    stop.dispose()
    transport.close()
  }
  process.exitCode = stop.signal.aborted ? 130 : (last?.exitCode ?? 1)
}

async function loadSigner(deviceDir: string): Promise<Signer & { publicKey: string }> {
  let pem: string
  try {
    pem = await readFile(join(deviceDir, 'device.key'), 'utf8')
  } catch (err) {
    throw new Error(`no device key in ${deviceDir} (${fileErrorReason(err)}): run \`louder device init\` first, or give --device-dir`)
  }
  const privateKey = devicePrivateKey(pem)
  const raw = rawPublicKey(createPublicKey(privateKey))
  return { keyId: deviceKeyId(raw), privateKey, publicKey: raw.toString('base64'), appVersion: `louder-cli ${VERSION}` }
}

interface SessionSetup {
  signer: Signer & { publicKey: string }
  passphrase: string | undefined
  outbox: Partial<OutboxOptions>
  mode: ProgressMode
  transport: HttpTransport
  purge: boolean
  deviceName: string
}

async function syncOnce(dir: string, setup: SessionSetup, signal: AbortSignal): Promise<SyncSummary> {
  let folder
  try {
    // Originals of any size go by resumable upload; the folder's own per-file limit is for `louder field add`.
    folder = await readFieldFolder(dir, { passphrase: setup.passphrase, maxMediaBytes: Number.MAX_SAFE_INTEGER })
  } catch (err) {
    if (err instanceof FieldFolderError) throw new Error(err.message)
    throw err
  }
  const cache = await loadMediaCache(dir)
  const purged = new Set(Object.entries(cache.entries).filter(([, e]) => e.purged).map(([rel]) => rel))
  const folderErrors: { report: string; reason: string }[] = []
  for (const p of folder.problems) {
    // A report whose originals were deleted after the server confirmed them (--purge-after-ack) was sent whole before.
    const media = /^media (.+?): /.exec(p.message)?.[1]
    if (media !== undefined && purged.has(media)) continue
    folderErrors.push({ report: p.file, reason: `${p.line ? `line ${p.line}: ` : ''}${p.message}` })
  }
  const items: OutboxItem[] = [deviceItem(setup.signer.keyId, setup.signer.publicKey, setup.deviceName)]
  const reports = [...folder.reports].sort((a, b) => Number(b.urgent) - Number(a.urgent) || b.occurredAt.localeCompare(a.occurredAt))
  const originalsOf = new Map<string, { sha256: string; path: string; relPath: string; report: string }[]>()
  for (const report of reports) {
    if (signal.aborted) break
    if (report.hasRestricted && report.restricted === null) {
      folderErrors.push({ report: report.file, reason: 'has a restricted part (witnesses, notes): give --passphrase-file or set LOUDER_FIELD_PASSPHRASE to open and send it' })
      continue
    }
    try {
      const media = []
      let made = false
      for (const m of report.media) {
        const known = cache.entries[m.relPath]
        const entry = await prepareMedia(dir, cache, m.relPath, m.path)
        made ||= entry !== known
        media.push({ ...m, entry })
      }
      // Kept as it goes: a run killed while hashing a large folder does not hash it all again.
      if (made) await saveMediaCache(dir, cache)
      items.push(...reportItems(dir, report, { ...fieldReportToObservation(report) }, media, setup.signer))
      originalsOf.set(report.id, media.map((m) => ({ sha256: m.entry.sha256, path: m.path, relPath: m.relPath, report: report.id })))
    } catch (err) {
      folderErrors.push({ report: report.file, reason: fileErrorReason(err) })
    }
  }
  await saveMediaCache(dir, cache)

  const merged = mergeItems(items)
  const store = await openFileOutboxStore(join(dir, STATE_DIR, 'outbox.jsonl'))
  const display = syncDisplay(setup.mode, process.stdout, process.stderr)
  const timer = setInterval(() => display.tick(), 200)
  let result
  try {
    const known = await store.load()
    display.start(merged, (id) => known.get(id)?.state.state === 'acknowledged')
    result = await runOutbox({ store, transport: setup.transport, clock: realClock, random: Math.random, onEvent: (e) => display.onEvent(e) }, merged, setup.outbox, signal)
  } finally {
    clearInterval(timer)
    display.end()
    await store.close()
  }

  if (setup.purge && !signal.aborted) {
    const acked = new Set(result.items.filter((o) => o.outcome === 'acknowledged').map((o) => o.item.id))
    for (const [reportId, originals] of originalsOf) {
      // Only once everything of the report arrived, and the server says again that it holds the bytes.
      if (!merged.filter((i) => i.label === reportId).every((i) => acked.has(i.id))) continue
      for (const o of originals) {
        const entry = cache.entries[o.relPath]
        if (!entry || entry.purged) continue
        try {
          const held = await setup.transport.headMedia(o.sha256, signal)
          if (!held.held) continue
          await unlink(o.path)
          entry.purged = true
          await saveMediaCache(dir, cache)
        } catch (err) {
          folderErrors.push({ report: o.report, reason: `could not purge ${o.relPath}: ${fileErrorReason(err)}` })
        }
      }
    }
  }

  const summary = summarise(result, folderErrors)
  if (setup.mode === 'json') process.stdout.write(`${JSON.stringify({ event: 'summary', ...summary })}\n`)
  else process.stdout.write(summaryTable(summary))
  return summary
}

const realClock = {
  now: () => Date.now(),
  sleep: (ms: number, signal: AbortSignal) =>
    new Promise<void>((resolve) => {
      if (signal.aborted) return resolve()
      const timer = setTimeout(done, ms)
      function done() {
        clearTimeout(timer)
        signal.removeEventListener('abort', done)
        resolve()
      }
      signal.addEventListener('abort', done, { once: true })
    }),
}

/** Resolves when something in the folder (not its .louder/ state) changes, after `maxMs`, or on interrupt. */
function changeIn(dir: string, signal: AbortSignal, maxMs: number | null): Promise<void> {
  return new Promise((resolve) => {
    let settle: NodeJS.Timeout | undefined
    const watcher = watch(dir, { recursive: true }, (_event, name) => {
      if (name && (name === STATE_DIR || String(name).startsWith(`${STATE_DIR}/`))) return
      // A report is often written in several steps; wait for a quiet half second.
      clearTimeout(settle)
      settle = setTimeout(done, 500)
    })
    const limit = maxMs === null ? undefined : setTimeout(done, maxMs)
    function done() {
      clearTimeout(settle)
      clearTimeout(limit)
      watcher.close()
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done, { once: true })
  })
}
