/**
 * `louder sync`'s progress: per priority class, items and bytes done of total, rate and ETA, and a line per
 * item in flight. On a terminal the block is redrawn in place at most five times a second; elsewhere plain
 * lines as items settle (and a progress line every 10 s); with `--json`, one JSON object per line on stdout
 * (`state`, `progress`, `summary` events) for scripts and benches.
 */
import { CLASS_NAMES, itemBytes, type ItemOutcome, type OutboxEvent, type OutboxItem, PRIORITY_CLASSES, type PriorityClass, type SessionResult } from '../core/sync/outbox.ts'
import { formatBytes } from './progress.ts'

export type ProgressMode = 'tty' | 'plain' | 'json'

interface ClassTally {
  items: number
  itemsDone: number
  bytes: number
  bytesDone: number
}

export interface SyncDisplay {
  start(items: readonly OutboxItem[], alreadyAcknowledged: (id: string) => boolean): void
  onEvent(event: OutboxEvent): void
  /** Redraw now (the command calls it on a timer). */
  tick(): void
  end(): void
}

export function syncDisplay(mode: ProgressMode, out: NodeJS.WritableStream, err: NodeJS.WritableStream, now: () => number = Date.now): SyncDisplay {
  const tally = new Map<PriorityClass, ClassTally>()
  const flying = new Map<string, { item: OutboxItem; sent: number }>()
  const samples: { t: number; bytes: number }[] = []
  let wire = 0
  let drawnLines = 0
  let lastDraw = 0
  let lastPlain = 0
  const startedAt = now()

  const rate = (): number => {
    const t = now()
    while (samples.length > 1 && t - samples[0]!.t > 10_000) samples.shift()
    if (samples.length < 2) return 0
    const first = samples[0]!
    const span = (t - first.t) / 1000
    return span > 0.2 ? (wire - first.bytes) / span : 0
  }

  const lines = (): string[] => {
    const r = rate()
    const out: string[] = []
    for (const c of PRIORITY_CLASSES) {
      const t = tally.get(c)
      if (!t || t.items === 0) continue
      const left = t.bytes - t.bytesDone
      const eta = t.itemsDone === t.items ? 'done' : r > 0 ? `ETA ${duration(left / r)}` : 'ETA –'
      out.push(`${CLASS_NAMES[c].padEnd(15)} ${`${t.itemsDone}/${t.items}`.padStart(9)} items  ${formatBytes(t.bytesDone).padStart(10)} / ${formatBytes(t.bytes).padEnd(10)} ${eta}`)
    }
    out.push(`on the wire ${formatBytes(wire)}, ${formatBytes(r)}/s`)
    for (const { item, sent } of flying.values()) {
      const total = itemBytes(item)
      out.push(`  → ${describeItem(item)} ${total > 0 ? Math.floor((100 * sent) / total) : 100}% of ${formatBytes(total)}`)
    }
    return out
  }

  const json = (value: unknown) => out.write(`${JSON.stringify(value)}\n`)

  const draw = (force = false) => {
    const t = now()
    if (mode === 'tty') {
      if (!force && t - lastDraw < 200) return
      lastDraw = t
      const text = lines()
      // Up to the block's first line, clear to the end of the screen, draw again.
      err.write(`${drawnLines > 0 ? `\x1b[${drawnLines}F` : ''}\x1b[J${text.join('\n')}\n`)
      drawnLines = text.length
    } else if (mode === 'plain') {
      if (!force && t - lastPlain < 10_000) return
      lastPlain = t
      err.write(`${lines().slice(0, -flying.size || undefined).join(' | ')}\n`)
    } else {
      if (!force && t - lastPlain < 1_000) return
      lastPlain = t
      json({ event: 'progress', t: t - startedAt, bytesOnWire: wire, rate: Math.round(rate()), classes: Object.fromEntries([...tally].map(([c, v]) => [`P${c}`, v])), inFlight: [...flying.values()].map(({ item, sent }) => ({ id: item.id, sent, total: itemBytes(item) })) })
    }
  }

  return {
    start(items, acked) {
      for (const c of PRIORITY_CLASSES) tally.set(c, { items: 0, itemsDone: 0, bytes: 0, bytesDone: 0 })
      for (const item of items) {
        const t = tally.get(item.class)!
        t.items++
        t.bytes += itemBytes(item)
        if (acked(item.id)) {
          t.itemsDone++
          t.bytesDone += itemBytes(item)
        }
      }
      samples.push({ t: now(), bytes: 0 })
      draw(true)
    },
    onEvent(e) {
      const t = tally.get(e.item.class)!
      if (e.type === 'bytes') {
        wire += e.n
        samples.push({ t: now(), bytes: wire })
        if (samples.length > 2000) samples.splice(0, 1000)
        const f = flying.get(e.item.id)
        if (f) f.sent = Math.min(itemBytes(e.item), f.sent + e.n)
        draw()
        return
      }
      if (e.type === 'state') {
        const s = e.record.state
        if (s.state === 'sending') {
          if (e.item.payload.type === 'media') flying.set(e.item.id, { item: e.item, sent: s.sent })
        } else flying.delete(e.item.id)
        if (s.state === 'acknowledged') {
          t.itemsDone++
          t.bytesDone += itemBytes(e.item)
        }
        if (mode === 'json') json({ event: 'state', id: e.item.id, class: `P${e.item.class}`, report: e.item.label, ...s })
        else if (mode === 'plain' && (s.state === 'acknowledged' || s.state === 'failed')) err.write(`${s.state === 'acknowledged' ? 'ok' : 'retry'} ${describeItem(e.item)}${s.state === 'failed' ? `: ${s.reason}` : ''}\n`)
        draw(s.state === 'acknowledged' && mode === 'tty')
        return
      }
      flying.delete(e.item.id)
      if (mode === 'json') json({ event: e.type, id: e.item.id, class: `P${e.item.class}`, report: e.item.label, reason: e.reason })
      else if (mode === 'plain') err.write(`${e.type === 'deferred' ? 'deferred' : 'failed'} ${describeItem(e.item)}: ${e.reason}\n`)
    },
    tick() {
      draw()
    },
    end() {
      if (mode === 'tty') draw(true)
    },
  }
}

export function describeItem(item: OutboxItem): string {
  const [kind, id] = [item.id.slice(0, item.id.indexOf(':')), item.id.slice(item.id.indexOf(':') + 1)]
  const short = /^[0-9a-f]{64}$/.test(id) ? `${id.slice(0, 12)}…` : id
  const what = item.payload.type === 'media' ? ['', 'thumbnail', 'publication image', 'original'][item.class] : kind
  return `${item.label}: ${what} ${short}`
}

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '–'
  if (seconds < 60) return `${Math.ceil(seconds)} s`
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`
}

export interface SyncSummary {
  exitCode: 0 | 1 | 3
  acknowledged: number
  deferred: number
  failed: number
  pending: number
  bytesSent: number
  bytesResent: number
  classes: Record<string, { items: number; acknowledged: number; deferred: number; failed: number; bytes: number }>
  errors: { id: string; report: string; reason: string }[]
}

/** Exit 0 when everything is acknowledged, 3 when some waits for budget or policy, 1 on any error (listed). */
export function summarise(result: SessionResult, folderErrors: { report: string; reason: string }[]): SyncSummary {
  const classes: SyncSummary['classes'] = {}
  for (const c of PRIORITY_CLASSES) classes[`P${c}`] = { items: 0, acknowledged: 0, deferred: 0, failed: 0, bytes: 0 }
  const errors: SyncSummary['errors'] = folderErrors.map((e) => ({ id: `report:${e.report}`, report: e.report, reason: e.reason }))
  const count = { acknowledged: 0, deferred: 0, failed: 0, pending: 0 }
  for (const o of result.items) {
    const c = classes[`P${o.item.class}`]!
    c.items++
    c.bytes += itemBytes(o.item)
    count[o.outcome]++
    if (o.outcome === 'acknowledged') c.acknowledged++
    else if (o.outcome === 'deferred') c.deferred++
    else {
      c.failed++
      errors.push({ id: o.item.id, report: o.item.label, reason: reasonOf(o, result.interrupted) })
    }
  }
  const exitCode = errors.length > 0 ? 1 : count.deferred > 0 ? 3 : 0
  return { exitCode, ...count, bytesSent: result.bytesSent, bytesResent: result.bytesResent, classes, errors }
}

function reasonOf(o: ItemOutcome, interrupted: boolean): string {
  if (o.outcome === 'pending') return interrupted ? 'interrupted before it was acknowledged' : (o.reason ?? 'not sent')
  return o.reason ?? 'failed'
}

export function summaryTable(s: SyncSummary): string {
  const rows = [['class', 'items', 'acknowledged', 'deferred', 'failed', 'bytes']]
  for (const c of PRIORITY_CLASSES) {
    const v = s.classes[`P${c}`]!
    if (v.items === 0) continue
    rows.push([CLASS_NAMES[c as PriorityClass], String(v.items), String(v.acknowledged), String(v.deferred), String(v.failed), formatBytes(v.bytes)])
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  const text = rows.map((r) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ')).join('\n')
  const lines = [text, `sent ${formatBytes(s.bytesSent)} (${s.bytesSent} bytes), of which re-sent after cuts ${formatBytes(s.bytesResent)} (${s.bytesResent} bytes)`]
  // One line per distinct reason: a device waiting for approval fails every capture record the same way.
  // Items that only wait for a failed one are its consequence, not news.
  const failedIds = new Set(s.errors.map((e) => e.id))
  const byReason = new Map<string, { reports: Set<string>; ids: string[] }>()
  for (const e of s.errors) {
    const dep = /^waits for (.+)$/.exec(e.reason)?.[1]
    if (dep !== undefined && failedIds.has(dep)) continue
    const group = byReason.get(e.reason) ?? { reports: new Set(), ids: [] }
    group.reports.add(e.report)
    group.ids.push(e.id)
    byReason.set(e.reason, group)
  }
  for (const [reason, g] of byReason) {
    const where = g.ids.length === 1 ? `${[...g.reports][0]}: ${g.ids[0]}` : `${g.ids.length} items in ${g.reports.size} report${g.reports.size === 1 ? '' : 's'} (${[...g.reports].slice(0, 3).join(', ')}${g.reports.size > 3 ? ', …' : ''})`
    lines.push(`error ${where}: ${reason}`)
  }
  if (s.exitCode === 3) lines.push('some items wait for a session with more budget (--budget) or for --originals now / a cheap link')
  return `${lines.join('\n')}\n`
}
