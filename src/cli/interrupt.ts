/**
 * An AbortSignal that Ctrl-C or SIGTERM trips, so long work stops at a safe point and cleans up after
 * itself (a partial backup file, a half-restored directory) instead of the process dying mid-write.
 * `dispose()` restores the default behaviour of the signals.
 */
export function interruptible(what: string): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController()
  const stop = (name: NodeJS.Signals) => controller.abort(new Error(`${what} interrupted (${name}); nothing was left half-done`))
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  return {
    signal: controller.signal,
    dispose() {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
    },
  }
}
