/** Times are stored as epoch milliseconds and shown as RFC 3339 UTC. */
export function toRfc3339(ms: number): string {
  return new Date(ms).toISOString()
}

export function fromRfc3339(value: string): number {
  const ms = Date.parse(value)
  if (Number.isNaN(ms)) throw new RangeError(`not an RFC 3339 time: ${value}`)
  return ms
}
