/**
 * How a bench speaks: one JSON line per figure on stdout, everything else on stderr, so
 * `npm run bench -- api > figures.jsonl` keeps only the figures.
 */
export interface Figure {
  bench: string
  value: number
  /** The same quantity measured in the same run on the same machine, by the reference described in bench/README.md. */
  reference: number
  /** Ours as a fraction of the reference's performance: above 1 is faster than the reference. */
  ratio: number
  unit: string
  params: Record<string, unknown>
}

export function report(figure: Figure): void {
  process.stdout.write(`${JSON.stringify(figure)}\n`)
}

export function progress(message: string): void {
  process.stderr.write(`[bench] ${message}\n`)
}

/** Rounds for display without pretending to more precision than a shared machine gives. */
export function round(value: number, digits = 3): number {
  const f = 10 ** digits
  return Math.round(value * f) / f
}

export interface Summary {
  n: number
  p50: number
  p99: number
  mean: number
  max: number
}

/** Nearest-rank percentiles (no interpolation: p99 of 2000 samples is the 1980th fastest). */
export function summarize(samples: readonly number[]): Summary {
  if (samples.length === 0) throw new Error('no samples')
  const sorted = [...samples].sort((a, b) => a - b)
  const rank = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!
  return { n: sorted.length, p50: rank(0.5), p99: rank(0.99), mean: sorted.reduce((a, b) => a + b, 0) / sorted.length, max: sorted[sorted.length - 1]! }
}
