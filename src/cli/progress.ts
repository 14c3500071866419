import type { Progress, ProgressListener } from '../ops/progress.ts'

/**
 * Shows a long operation's progress on stderr: one line redrawn in place on a terminal, and otherwise
 * (logs, cron mail) a plain line when a phase starts and at every tenth of it, so a log stays short.
 */
export function progressReporter(label: string, stream: NodeJS.WriteStream = process.stderr): { onProgress: ProgressListener; end(): void } {
  const tty = stream.isTTY === true
  let drawn = false
  let lastDraw = 0
  let phase: Progress['phase'] | null = null
  let lastTenth = -1
  return {
    onProgress(p) {
      const tenth = p.total === 0 ? 10 : Math.floor((10 * p.done) / p.total)
      if (tty) {
        const now = Date.now()
        if (p.phase === phase && now - lastDraw < 100 && p.done < p.total) return
        lastDraw = now
        phase = p.phase
        stream.write(`\r\x1b[K${label} ${describe(p)}`)
        drawn = true
        return
      }
      if (p.phase !== phase) {
        phase = p.phase
        lastTenth = -1
      }
      if (tenth === lastTenth) return
      lastTenth = tenth
      stream.write(`${label} ${describe(p)}\n`)
    },
    end() {
      if (drawn) stream.write('\n')
      drawn = false
    },
  }
}

function describe(p: Progress): string {
  const percent = p.total === 0 ? 100 : Math.floor((100 * p.done) / p.total)
  const amount = p.unit === 'bytes' ? `${formatBytes(p.done)} of ${formatBytes(p.total)}` : `${p.done} of ${p.total} rows`
  return `${p.phase}: ${percent}% (${amount})`
}

/** 1536 → "1.5 KiB". */
export function formatBytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = n
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0 ? `${n} bytes` : `${value.toFixed(1)} ${units[unit]}`
}
