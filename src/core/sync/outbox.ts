/**
 * The outbox: what a field device still has to send, and the rules for sending it over a thin, expensive,
 * unreliable link (issue 7; docs/field-sync.md, "Outbox"). One implementation: `louder sync` runs it now,
 * the browser app will later. No I/O here: item states go through the `OutboxStore` port, requests through
 * the `SyncTransport` port, time and chance are injected, so the rules are tested exactly.
 *
 * An item is `queued`, then `sending` (bytes sent of total), then `acknowledged` (the server's id) once the
 * server confirmed it durably, or `failed` (reason, next retry). Items are sent by priority class
 * (P0 reports and capture records, P1 thumbnails, P2 publication images, P3 originals); within a class urgent
 * first, then newest, and an urgent report's P0–P2 items go before anything else.
 */

export type PriorityClass = 0 | 1 | 2 | 3
export const PRIORITY_CLASSES = [0, 1, 2, 3] as const satisfies readonly PriorityClass[]
export const CLASS_NAMES: Record<PriorityClass, string> = { 0: 'P0 reports', 1: 'P1 thumbnails', 2: 'P2 publication', 3: 'P3 originals' }

export type BatchKind = 'observation' | 'capture' | 'device'

/** What is to be sent; rebuilt from the field folder on every run, so it is never stored. */
export interface OutboxItem {
  /** Stable across runs: `observation:<report id>`, `capture:<sha256>`, `media:<sha256>`, `device:<key id>`. */
  id: string
  class: PriorityClass
  urgent: boolean
  /** Newest first within a class and urgency (epoch ms). */
  time: number
  /** The report it belongs to, for the display and the summary. */
  label: string
  /** Ids that must be acknowledged before this one starts (a medium waits for its capture record). */
  after: string[]
  payload: BatchPayload | MediaPayload
}

export interface BatchPayload {
  type: 'batch'
  kind: BatchKind
  idempotencyKey: string
  body: unknown
  /** Bytes of the item's JSON, counted against the budget. */
  bytes: number
}

export interface MediaPayload {
  type: 'media'
  sha256: string
  length: number
  filename: string
  /** Where the transport reads the bytes (a file path for the CLI, a blob key for the browser). */
  source: string
}

export type ItemState =
  | { state: 'queued' }
  | { state: 'sending'; sent: number; total: number }
  | { state: 'acknowledged'; serverId: string; at: number }
  | { state: 'failed'; reason: string; nextRetryAt: number; attempts: number }

/**
 * What the store keeps per item: its state, the tus upload's address as soon as it is known, and the highest
 * byte offset ever put on the wire (so bytes sent again after a cut are counted as re-sent).
 */
export interface ItemRecord {
  state: ItemState
  uploadUrl?: string
  wireHigh?: number
}

/**
 * Persistent item records. `save` resolves once the changes are durable (a kill -9 after it loses nothing); it
 * takes several at once so a batch's 200 answers cost one write, not 200.
 */
export interface OutboxStore {
  load(): Promise<Map<string, ItemRecord>>
  save(changes: readonly (readonly [id: string, record: ItemRecord])[]): Promise<void>
}

/** A request that failed: `transient` ones are retried with back-off, the others fail the item for this session. */
export class SyncTransportError extends Error {
  readonly transient: boolean
  readonly status: number | null
  readonly code: string | null
  constructor(message: string, options: { transient: boolean; status?: number | null; code?: string | null }) {
    super(message)
    this.name = 'SyncTransportError'
    this.transient = options.transient
    this.status = options.status ?? null
    this.code = options.code ?? null
  }
}

export interface BatchRequestItem {
  kind: BatchKind
  idempotencyKey: string
  body: unknown
}

export type BatchAnswer = { status: number; body?: unknown; problem?: { code?: string; detail?: string; title?: string } }

/** What the outbox needs from the server (docs/field-sync.md). `onBytes` reports payload bytes as they go on the wire. */
export interface SyncTransport {
  sendBatch(items: BatchRequestItem[], signal: AbortSignal): Promise<BatchAnswer[]>
  /** HEAD /media/{sha256}: held, or not held with the caller's unfinished upload for it, if any. */
  headMedia(sha256: string, signal: AbortSignal): Promise<{ held: true } | { held: false; upload: { url: string; offset: number } | null }>
  /**
   * tus creation; with `withBody` the bytes go in the same request (creation-with-upload). `capture` is the
   * bytes' capture submission (`{record, signature}`), which the server logs before it creates the upload and
   * confirms (`captureLogged`); refused for it, the creation fails with code `CAPTURE_REFUSED`.
   */
  createUpload(req: { sha256: string; length: number; filename: string; source: string; withBody: boolean; capture?: unknown; onBytes(n: number): void; signal: AbortSignal }): Promise<{ url: string; offset: number; sha256: string | null; captureLogged?: boolean }>
  /** null when the server no longer knows the upload (404, 410). */
  headUpload(url: string, signal: AbortSignal): Promise<{ offset: number; length: number } | null>
  patchUpload(req: { url: string; sha256: string; offset: number; length: number; source: string; onBytes(n: number): void; signal: AbortSignal }): Promise<{ offset: number; sha256: string | null }>
}

export interface Clock {
  now(): number
  /** Resolves after `ms`, or early when `signal` aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>
}

export interface OutboxOptions {
  /** Bytes this session may put on the wire; null for no limit. Reports (P0) are always sent and counted. */
  budget: number | null
  /** `later`: originals wait for a session with a budget that covers them, or a link marked cheap. */
  originals: 'now' | 'later'
  cheapLink: boolean
  /**
   * Requests at once: one batch and uploads (default 3). Small uploads (at most `SMALL_UPLOAD_BYTES`: thumbnails)
   * take no place among them and run beside them, as many again: each costs a round trip and a seal more than its
   * bytes, and on a fast link three of them at once left it idle while larger uploads waited.
   */
  maxInFlight: number
  /** An item failing without progress for this long is given up for this session (an error); default 10 minutes. */
  retryFor: number
  /** Back-off: base delay, doubled per attempt up to `cap`, with jitter (ms). */
  backoff: { base: number; cap: number }
  /**
   * Media at most this long go in the creation request itself, saving a round trip before the first byte. Not
   * more: 4 MiB gained ~2 % on the Starlink-like link and cost ~10 % on the Certus-like one, where publication
   * images sent that way through the 70 s blackout resumed into offset conflicts (bench/README.md, `sync`).
   */
  smallUpload: number
}

export const DEFAULT_OUTBOX_OPTIONS: OutboxOptions = {
  budget: null,
  originals: 'now',
  cheapLink: false,
  maxInFlight: 3,
  retryFor: 10 * 60_000,
  backoff: { base: 500, cap: 30_000 },
  smallUpload: 512 * 1024,
}

/**
 * A batch is at most this many items and bytes: its items are acknowledged only when the whole answer comes
 * back, and the media behind them wait for that, so a batch is kept to what a slow link carries in seconds.
 */
export const MAX_BATCH_ITEMS = 200
export const MAX_BATCH_BYTES = 64 * 1024
/** The code of a creation refused for the capture record riding with it (the transport maps the server's answers to it). */
export const CAPTURE_REFUSED = 'capture_refused'
/** How an acknowledged capture item reads when the server holds another record for its bytes. */
const ANOTHER_RECORD = ' (another record)'
/** Uploads this small are bound by latency, not bytes: see `maxInFlight`. */
export const SMALL_UPLOAD_BYTES = 64 * 1024
/** A capture record rides in an upload's metadata (a header) only up to this size; a longer one goes by batch alone. */
export const MAX_INLINE_CAPTURE_BYTES = 4 * 1024

export type OutboxEvent =
  | { type: 'state'; item: OutboxItem; record: ItemRecord }
  | { type: 'deferred'; item: OutboxItem; reason: 'budget' | 'policy' }
  | { type: 'bytes'; item: OutboxItem; n: number; resent: number }
  | { type: 'gave-up'; item: OutboxItem; reason: string }

export interface OutboxDeps {
  store: OutboxStore
  transport: SyncTransport
  clock: Clock
  random: () => number
  onEvent?: (event: OutboxEvent) => void
}

export type Outcome = 'acknowledged' | 'deferred' | 'failed' | 'pending'

export interface ItemOutcome {
  item: OutboxItem
  outcome: Outcome
  reason: string | null
  serverId: string | null
}

export interface SessionResult {
  items: ItemOutcome[]
  /** Payload bytes put on the wire this session (batch JSON and media bytes). */
  bytesSent: number
  /** Of those, media bytes sent again after a cut (at or below an offset already sent once). */
  bytesResent: number
  /** True when the session stopped because `signal` aborted. */
  interrupted: boolean
}

/** Delay before retry number `attempt` (1-based): exponential up to the cap, "equal jitter" so retries after a shared outage spread out. */
export function backoffDelay(attempt: number, random: () => number, backoff: { base: number; cap: number }): number {
  const ceiling = Math.min(backoff.cap, backoff.base * 2 ** Math.min(attempt - 1, 30))
  return Math.round(ceiling / 2 + (random() * ceiling) / 2)
}

/**
 * Send order: an urgent report's reports, thumbnails and publication images first (a few hundred KB that
 * matter most), then class by class; within a class urgent first, then newest, then by id for a stable order.
 */
export function compareItems(a: OutboxItem, b: OutboxItem): number {
  const headA = a.urgent && a.class < 3 ? 0 : 1
  const headB = b.urgent && b.class < 3 ? 0 : 1
  if (headA !== headB) return headA - headB
  if (a.class !== b.class) return a.class - b.class
  if (a.urgent !== b.urgent) return a.urgent ? -1 : 1
  if (a.time !== b.time) return b.time - a.time
  // Device requests lead a batch: captures in the same batch need the key to be known.
  const kindA = a.payload.type === 'batch' ? BATCH_KIND_ORDER[a.payload.kind] : 9
  const kindB = b.payload.type === 'batch' ? BATCH_KIND_ORDER[b.payload.kind] : 9
  if (kindA !== kindB) return kindA - kindB
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0
}
const BATCH_KIND_ORDER: Record<BatchKind, number> = { device: 0, capture: 1, observation: 2 }

export function itemBytes(item: OutboxItem): number {
  return item.payload.type === 'batch' ? item.payload.bytes : item.payload.length
}

/** Problems that cannot heal by waiting: the item fails for this session (and is tried again next run). */
const TRANSIENT_STATUSES = new Set([408, 425, 429, 500, 502, 503, 504])
const TRANSIENT_CODES = new Set(['idempotency_in_flight'])

function serverIdOf(kind: BatchKind, body: unknown): string {
  const b = (body ?? {}) as Record<string, unknown>
  const id = kind === 'observation' ? b.id : kind === 'capture' ? b.sha256 : b.keyId
  return typeof id === 'string' ? id : ''
}

/** Runs one session: sends until everything is acknowledged, deferred, failed for good, or `signal` aborts. */
export async function runOutbox(deps: OutboxDeps, items: readonly OutboxItem[], options: Partial<OutboxOptions> = {}, signal: AbortSignal = new AbortController().signal): Promise<SessionResult> {
  const opts = { ...DEFAULT_OUTBOX_OPTIONS, ...options }
  const { store, transport, clock } = deps
  const emit = deps.onEvent ?? (() => {})
  const records = await store.load()
  const byId = new Map(items.map((i) => [i.id, i]))
  const ordered = [...items].sort(compareItems)
  const record = (id: string): ItemRecord => records.get(id) ?? { state: { state: 'queued' } }

  // Per session: deferrals, give-ups, when each item first failed without progress since.
  const deferred = new Map<string, { reason: 'budget' | 'policy' }>()
  const gaveUp = new Map<string, string>()
  const failingSince = new Map<string, number>()
  // Failures in a row since the last progress, for the back-off: an item's record says `sending` again at every
  // try, so the count cannot be read back from it (it stayed at 1, and a link down for 70 s cost 190 tries).
  const attemptsOf = new Map<string, number>()
  const inFlight = new Set<string>()
  // Originals whose bytes are not all on the wire yet: the next original waits for these, not for the answer.
  const writing = new Set<string>()
  // Previews (P1, P2) whose bytes are all on the wire in the request now running: no longer ahead of originals.
  const previewsOnWire = new Set<string>()
  // Wakes the send loop between answers (an original's last byte went on the wire: the next may start).
  let nudge: () => void = () => {}
  const running = new Set<Promise<void>>()
  // Of those, small uploads: they run beside the others (see `maxInFlight`).
  let smallRunning = 0
  const isSmall = (item: OutboxItem) => item.payload.type === 'media' && item.payload.length <= SMALL_UPLOAD_BYTES
  const bulkRoom = () => running.size - smallRunning < opts.maxInFlight
  let batchRunning = false
  let bytesSent = 0
  let bytesResent = 0
  let reserved = 0
  // Every save goes through one chain, so an item's records reach the store in the order they were made.
  let saving: Promise<void> = Promise.resolve()
  const lastSaved = new Map<string, number>()

  const persistMany = (changes: { item: OutboxItem; next: ItemRecord; emitState: boolean }[]): Promise<void> => {
    for (const { item, next, emitState } of changes) {
      records.set(item.id, next)
      lastSaved.set(item.id, clock.now())
      if (emitState) emit({ type: 'state', item, record: next })
    }
    const write = saving.then(() => store.save(changes.map((c) => [c.item.id, c.next] as const)))
    saving = write.catch(() => {})
    return write
  }
  const persist = (item: OutboxItem, next: ItemRecord, emitState = true): Promise<void> => persistMany([{ item, next, emitState }])

  const isAcked = (id: string) => record(id).state.state === 'acknowledged'
  const settled = (item: OutboxItem): boolean => isAcked(item.id) || deferred.has(item.id) || gaveUp.has(item.id) || item.after.some((d) => blocked(d))
  const blocked = (id: string): boolean => {
    const dep = byId.get(id)
    if (!dep) return !isAcked(id)
    return !isAcked(id) && (deferred.has(id) || gaveUp.has(id) || dep.after.some((d) => blocked(d)))
  }
  const readyAt = (item: OutboxItem): number => {
    const s = record(item.id).state
    return s.state === 'failed' && failingSince.has(item.id) ? s.nextRetryAt : 0
  }
  const budgetLeft = () => (opts.budget === null ? Infinity : opts.budget - bytesSent - reserved)

  /** The failed record for an item, and whether it is given up for this session. */
  const failure = (item: OutboxItem, err: unknown): { next: ItemRecord; giveUp: boolean; reason: string } => {
    const reason = err instanceof Error ? err.message : String(err)
    const now = clock.now()
    const previous = record(item.id)
    const attempts = (attemptsOf.get(item.id) ?? 0) + 1
    attemptsOf.set(item.id, attempts)
    const transient = !(err instanceof SyncTransportError) || err.transient
    if (!failingSince.has(item.id)) failingSince.set(item.id, now)
    const next: ItemRecord = { ...previous, state: { state: 'failed', reason, attempts, nextRetryAt: now + backoffDelay(attempts, deps.random, opts.backoff) } }
    // The server discarded the upload (a hash mismatch, or it expired): the next try starts from HEAD /media.
    if (err instanceof SyncTransportError && (err.code === 'upload_gone' || err.code === 'hash_mismatch')) delete next.uploadUrl
    return { next, giveUp: !transient || now - failingSince.get(item.id)! >= opts.retryFor, reason }
  }
  const failMany = async (failures: { item: OutboxItem; err: unknown }[]): Promise<void> => {
    const made = failures.map(({ item, err }) => ({ item, ...failure(item, err) }))
    // An item given up is reported once, as such; one that will be retried, as a failed state with its next retry.
    await persistMany(made.map(({ item, next, giveUp }) => ({ item, next, emitState: !giveUp })))
    for (const { item, giveUp, reason } of made) {
      if (!giveUp) continue
      gaveUp.set(item.id, reason)
      emit({ type: 'gave-up', item, reason })
    }
  }
  const fail = (item: OutboxItem, err: unknown) => failMany([{ item, err }])

  const acknowledged = (item: OutboxItem, serverId: string): ItemRecord => {
    failingSince.delete(item.id)
    attemptsOf.delete(item.id)
    const { uploadUrl: _, ...rest } = record(item.id)
    return { ...rest, state: { state: 'acknowledged', serverId, at: clock.now() } }
  }
  const acknowledge = (item: OutboxItem, serverId: string): Promise<void> => persist(item, acknowledged(item, serverId))

  // A medium waits for its capture record's answer, a round trip behind the batch that carries it, unless the
  // record rides in the upload's own metadata: the server logs it first, so the bytes travel beside the batch
  // (an urgent report's publication image arrives a round trip sooner). Only once the server has logged a capture
  // record of ours (so the device key is approved: an acknowledged device request means only "requested"), not
  // again for a medium whose ride-along record was refused, and not at all after a server took a creation
  // without confirming the record (`captureLogged`): one that does not know the `capture` key.
  const inlineRefused = new Set<string>()
  // The journal, not this run's items: a folder whose earlier reports were all sent has records of them only there.
  let deviceVouched = [...records].some(([id, r]) => id.startsWith('capture:') && r.state.state === 'acknowledged' && !r.state.serverId.endsWith(ANOTHER_RECORD))
  let inlineUnsupported = false
  const captureOf = (item: OutboxItem): OutboxItem | undefined => (item.payload.type === 'media' ? byId.get(`capture:${item.payload.sha256}`) : undefined)
  /** The capture submission this medium may carry instead of waiting for its answer, or null. */
  const inlineCapture = (item: OutboxItem): unknown => {
    if (!deviceVouched || inlineUnsupported || inlineRefused.has(item.id)) return null
    const capture = captureOf(item)
    if (!capture || capture.payload.type !== 'batch' || capture.payload.kind !== 'capture' || capture.payload.bytes > MAX_INLINE_CAPTURE_BYTES) return null
    if (isAcked(capture.id) || deferred.has(capture.id) || gaveUp.has(capture.id)) return null
    return item.after.every((d) => d === capture.id || isAcked(d)) ? capture.payload.body : null
  }
  /** May this medium start now: everything it waits for acknowledged, or only its capture record, riding along. */
  const mayStart = (item: OutboxItem) => item.after.every(isAcked) || inlineCapture(item) !== null

  const runBatch = async (batch: OutboxItem[]): Promise<void> => {
    const payloads = batch.map((i) => i.payload as BatchPayload)
    const total = payloads.reduce((n, p) => n + p.bytes, 0)
    // Shown, not stored: a batch item is sent again whole after any interruption, under the same idempotency key.
    for (const item of batch) {
      const next: ItemRecord = { ...record(item.id), state: { state: 'sending', sent: 0, total: (item.payload as BatchPayload).bytes } }
      records.set(item.id, next)
      emit({ type: 'state', item, record: next })
    }
    let answers: BatchAnswer[]
    try {
      // The request's bytes are on the wire whether or not an answer comes back.
      bytesSent += total
      answers = await transport.sendBatch(payloads.map((p) => ({ kind: p.kind, idempotencyKey: p.idempotencyKey, body: p.body })), signal)
      if (answers.length !== batch.length) throw new SyncTransportError(`the server answered ${answers.length} items for ${batch.length}`, { transient: true })
    } catch (err) {
      await failMany(batch.map((item) => ({ item, err })))
      return
    }
    const acks: { item: OutboxItem; next: ItemRecord; emitState: boolean }[] = []
    const failures: { item: OutboxItem; err: unknown }[] = []
    for (const [n, item] of batch.entries()) {
      const answer = answers[n]!
      emit({ type: 'bytes', item, n: payloads[n]!.bytes, resent: 0 })
      if (answer.status >= 200 && answer.status < 300) {
        acks.push({ item, next: acknowledged(item, serverIdOf(payloads[n]!.kind, answer.body)), emitState: true })
        if (payloads[n]!.kind === 'capture') deviceVouched = true
        continue
      }
      const code = answer.problem?.code ?? null
      // The server already logged another capture record for these bytes (another device's, or this one's with
      // an older caption): the media has its record, and one original has one record; ours adds nothing.
      if (payloads[n]!.kind === 'capture' && code === 'capture_conflict') {
        acks.push({ item, next: acknowledged(item, `${(payloads[n]!.body as { record?: { sha256?: string } }).record?.sha256 ?? ''}${ANOTHER_RECORD}`), emitState: true })
        continue
      }
      const detail = answer.problem?.detail ?? answer.problem?.title ?? `status ${answer.status}`
      const transient = TRANSIENT_STATUSES.has(answer.status) || (code !== null && TRANSIENT_CODES.has(code))
      failures.push({ item, err: new SyncTransportError(`${code ?? answer.status}: ${detail}`, { transient, status: answer.status, code }) })
    }
    await persistMany(acks)
    if (failures.length > 0) await failMany(failures)
  }

  const runMedia = async (item: OutboxItem, payload: MediaPayload, reservation: number): Promise<void> => {
    let progressed = false
    // A request refused early may still report bytes it hands to the socket after this try has ended: ignored.
    let live = true
    const sendFrom = (offset: number) => {
      let position = offset
      return (n: number) => {
        if (!live) return
        const high = record(item.id).wireHigh ?? 0
        const resent = Math.max(0, Math.min(position + n, high) - position)
        position += n
        if (position >= payload.length && item.class !== 3 && !previewsOnWire.has(item.id)) {
          previewsOnWire.add(item.id)
          nudge()
        }
        if (position >= payload.length && writing.delete(item.id)) nudge()
        bytesSent += n
        bytesResent += resent
        progressed = true
        const current = record(item.id)
        const next: ItemRecord = { ...current, wireHigh: Math.max(high, position), state: { state: 'sending', sent: position, total: payload.length } }
        // The byte counter is kept at most twice a second; the server's offset, not it, decides where to resume.
        const save = clock.now() - (lastSaved.get(item.id) ?? 0) >= 500
        if (save) void persist(item, next, false).catch(() => {})
        else records.set(item.id, next)
        emit({ type: 'bytes', item, n, resent })
      }
    }
    const complete = async (sha256: string | null) => {
      if (sha256 !== null && sha256 !== payload.sha256) throw new SyncTransportError(`the server sealed ${sha256}, not ${payload.sha256}`, { transient: false })
      await acknowledge(item, payload.sha256)
    }
    /** Back in line, untried: it waits for its capture record's answer (see `inlineCapture`). */
    const requeue = () => persist(item, { ...record(item.id), state: { state: 'queued' } })
    try {
      const before = record(item.id)
      // A thumbnail or publication image never tried before cannot have an upload of ours on the server, and was
      // made on this device, so no other device holds its bytes: asking HEAD /media first would cost a round trip
      // per preview (on a fast link, the link idles through it). At worst, after this device's journal was lost,
      // a few hundred KB the server holds go again, and it answers with the item it has.
      const fresh = item.class !== 3 && before.state.state === 'queued' && before.uploadUrl === undefined
      await persist(item, { ...before, state: { state: 'sending', sent: before.state.state === 'sending' ? before.state.sent : 0, total: payload.length } })
      let url = record(item.id).uploadUrl ?? null
      let offset = 0
      if (url !== null) {
        const known = await transport.headUpload(url, signal)
        if (known === null) url = null
        else offset = known.offset
      }
      if (!fresh && (url === null || offset >= payload.length)) {
        const held = await transport.headMedia(payload.sha256, signal)
        if (held.held) return await acknowledge(item, payload.sha256)
        if (held.upload) {
          url = held.upload.url
          offset = held.upload.offset
        } else url = null
      }
      if (url !== null && url !== record(item.id).uploadUrl) await persist(item, { ...record(item.id), uploadUrl: url })
      // The server holds less than this device thought (a cut lost the tail): the rest must still fit the budget.
      if (opts.budget !== null && payload.length - (url === null ? 0 : offset) > opts.budget - bytesSent - (reserved - reservation)) return defer(item, 'budget')
      if (url === null) {
        const withBody = payload.length <= opts.smallUpload
        const capture = inlineCapture(item)
        // It started with its record riding along, and that is no longer possible (the record's batch failed
        // meanwhile): its bytes must not arrive before the record, or a preview is filed as an original.
        if (capture === null && !item.after.every(isAcked)) return await requeue()
        let created
        try {
          created = await transport.createUpload({ sha256: payload.sha256, length: payload.length, filename: payload.filename, source: payload.source, withBody, ...(capture === null ? {} : { capture }), onBytes: sendFrom(0), signal })
        } catch (err) {
          if (capture === null || !(err instanceof SyncTransportError) || err.code !== CAPTURE_REFUSED) throw err
          // Refused for its record (a device the server does not know, a record it will not log): the medium
          // waits for the batch's answer on that record, as it would have without the shortcut.
          inlineRefused.add(item.id)
          return await requeue()
        }
        const captureItem = captureOf(item)
        if (capture !== null && created.captureLogged) {
          // The server logged the record before it created the upload: the batch need not carry it again.
          if (captureItem && !isAcked(captureItem.id) && !inFlight.has(captureItem.id)) await acknowledge(captureItem, payload.sha256)
        } else if (capture !== null) inlineUnsupported = true
        url = created.url
        offset = created.offset
        // Kept the moment it is known: a run killed after this resumes this upload instead of starting over.
        await persist(item, { ...record(item.id), uploadUrl: url, state: { state: 'sending', sent: offset, total: payload.length } })
        if (offset >= payload.length) return await complete(created.sha256)
      }
      const result = await transport.patchUpload({ url, sha256: payload.sha256, offset, length: payload.length, source: payload.source, onBytes: sendFrom(offset), signal })
      if (result.offset < payload.length) throw new SyncTransportError(`the upload stopped at ${result.offset} of ${payload.length} bytes`, { transient: true })
      await complete(result.sha256)
    } catch (err) {
      if (signal.aborted) return
      if (progressed) {
        failingSince.delete(item.id)
        attemptsOf.delete(item.id)
      }
      await fail(item, err)
    } finally {
      live = false
      writing.delete(item.id)
      previewsOnWire.delete(item.id)
      reserved -= reservation
    }
  }

  /** What is left to send, as far as this device knows (the server's offset may say less, never more unless it lost bytes). */
  const remainingGuess = (item: OutboxItem, payload: MediaPayload): number => {
    const s = record(item.id).state
    return payload.length - (s.state === 'sending' && record(item.id).uploadUrl ? Math.min(s.sent, payload.length) : 0)
  }
  const defer = (item: OutboxItem, reason: 'budget' | 'policy') => {
    deferred.set(item.id, { reason })
    emit({ type: 'deferred', item, reason })
  }

  /** The next media item to start, or null; defers what the budget or the originals policy holds back. */
  const nextMedia = (now: number): OutboxItem | null => {
    const smallRoom = smallRunning < opts.maxInFlight
    // An urgent report's items hold originals back until acknowledged: socket buffers and the modem's queue hold
    // seconds of a slow link, and an original written behind its publication image would share the link with it.
    // Other reports' items only until they are on the wire (a batch sent, a preview's last byte written): on a fast
    // link, waiting for the last preview's seal and answer idled it for a round trip and a seal.
    // Worked out once per call (a folder of thousands of reports has thousands of originals to ask it for).
    let open: boolean | undefined
    const earlierOpen = () => (open ??= ordered.some((i) => i.class < 3 && !settled(i) && (i.urgent || !(previewsOnWire.has(i.id) || (i.payload.type === 'batch' && inFlight.has(i.id))))))
    for (const item of ordered) {
      if (item.payload.type !== 'media' || inFlight.has(item.id) || settled(item)) continue
      if (!(isSmall(item) ? smallRoom : bulkRoom())) continue
      if (!mayStart(item)) continue
      if (readyAt(item) > now) continue
      // Originals wait until every report, thumbnail and publication image is through: 500 MB of them must
      // not stand between the link and the next urgent report.
      if (item.class === 3 && earlierOpen()) return null
      // One original written at a time, three at most in flight: each arrives as early as it can, and a cut or a
      // kill leaves one half-written, not three. The next one starts (HEAD, creation) once the previous one's last
      // byte is on the wire, so the link does not idle for a round trip and a seal between two originals; with two
      // at most, the next waited on a fast link for the answer of one whose bytes had long crossed it.
      if (item.class === 3 && (writing.size > 0 || [...inFlight].filter((id) => byId.get(id)?.class === 3).length >= 3)) return null
      if (item.class === 3 && opts.originals === 'later' && !opts.cheapLink && opts.budget === null) {
        defer(item, 'policy')
        continue
      }
      const remaining = remainingGuess(item, item.payload)
      if (opts.budget !== null && remaining > opts.budget - bytesSent) {
        defer(item, 'budget')
        continue
      }
      // It may fit once an upload in flight ends and gives back what it did not use.
      if (remaining > budgetLeft()) continue
      return item
    }
    return null
  }

  const nextBatch = (now: number): OutboxItem[] => {
    const batch: OutboxItem[] = []
    let bytes = 0
    for (const item of ordered) {
      if (item.payload.type !== 'batch' || inFlight.has(item.id) || settled(item)) continue
      if (!item.after.every(isAcked) || readyAt(item) > now) continue
      if (batch.length >= MAX_BATCH_ITEMS || (batch.length > 0 && bytes + item.payload.bytes > MAX_BATCH_BYTES)) break
      // Urgent items travel on their own: their answer, and so their media, must not wait for a hundred others.
      // The device request leads whatever batch comes first and does not make it urgent.
      const lead = batch.find((b) => (b.payload as BatchPayload).kind !== 'device')
      if (lead?.urgent && !item.urgent) break
      batch.push(item)
      bytes += item.payload.bytes
    }
    return batch
  }

  const start = (ids: OutboxItem[], work: Promise<void>) => {
    for (const i of ids) inFlight.add(i.id)
    const small = ids.length === 1 && isSmall(ids[0]!)
    if (small) smallRunning++
    const p = work.finally(() => {
      for (const i of ids) inFlight.delete(i.id)
      if (small) smallRunning--
      running.delete(p)
    })
    running.add(p)
  }

  while (!signal.aborted) {
    const now = clock.now()
    if (!batchRunning && bulkRoom()) {
      const batch = nextBatch(now)
      if (batch.length > 0) {
        batchRunning = true
        start(batch, runBatch(batch).finally(() => (batchRunning = false)))
      }
    }
    for (;;) {
      const item = nextMedia(now)
      if (!item) break
      const payload = item.payload as MediaPayload
      const reservation = remainingGuess(item, payload)
      reserved += reservation
      if (item.class === 3) writing.add(item.id)
      start([item], runMedia(item, payload, reservation))
    }
    if (running.size > 0) {
      // Wake when a request ends, or when a waiting retry falls due (a batch can go beside uploads).
      const wake = nextRetry()
      const waiter = new AbortController()
      const timers = wake === null ? [] : [clock.sleep(Math.max(0, wake - now), AbortSignal.any([signal, waiter.signal]))]
      const nudged = new Promise<void>((resolve) => (nudge = resolve))
      await Promise.race([...running, ...timers, nudged])
      waiter.abort()
      continue
    }
    const wake = nextRetry()
    if (wake === null) break
    await clock.sleep(Math.max(0, wake - now), signal)
  }
  await Promise.allSettled(running)
  await saving

  function nextRetry(): number | null {
    let earliest: number | null = null
    for (const item of ordered) {
      if (inFlight.has(item.id) || settled(item)) continue
      const at = readyAt(item)
      if (at > clock.now() && (earliest === null || at < earliest)) earliest = at
    }
    return earliest
  }

  const outcomes = items.map((item): ItemOutcome => {
    const r = record(item.id)
    if (r.state.state === 'acknowledged') return { item, outcome: 'acknowledged', reason: null, serverId: r.state.serverId }
    const d = deferred.get(item.id)
    if (d) return { item, outcome: 'deferred', reason: d.reason === 'budget' ? 'over the byte budget' : 'originals later', serverId: null }
    const why = gaveUp.get(item.id)
    if (why !== undefined) return { item, outcome: 'failed', reason: why, serverId: null }
    const dep = item.after.find((id) => blocked(id))
    if (dep !== undefined) {
      const depOutcome = deferred.has(dep) ? 'deferred' : 'failed'
      return { item, outcome: depOutcome, reason: `waits for ${dep}`, serverId: null }
    }
    return { item, outcome: 'pending', reason: r.state.state === 'failed' ? r.state.reason : null, serverId: null }
  })
  return { items: outcomes, bytesSent, bytesResent, interrupted: signal.aborted }
}
