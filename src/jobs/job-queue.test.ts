import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { BACKOFF_BASE_MS, BACKOFF_CAP_MS, backoffMs } from './job-queue.ts'

describe('backoffMs', () => {
  it('waits between half and the whole of an exponential step, capped', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (attempts, r) => {
        const step = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, attempts - 1))
        const wait = backoffMs(attempts, () => r)
        expect(Number.isInteger(wait)).toBe(true)
        expect(wait).toBeGreaterThanOrEqual(Math.floor(step / 2))
        expect(wait).toBeLessThanOrEqual(step)
      }),
    )
  })

  it('doubles per attempt from the base and stops at the cap', () => {
    const least = (attempts: number) => backoffMs(attempts, () => 0)
    const most = (attempts: number) => backoffMs(attempts, () => 1)
    expect([least(1), most(1)]).toEqual([BACKOFF_BASE_MS / 2, BACKOFF_BASE_MS])
    expect(most(0)).toBe(BACKOFF_BASE_MS)
    expect(most(2)).toBe(2 * BACKOFF_BASE_MS)
    expect(most(5)).toBe(16 * BACKOFF_BASE_MS)
    expect(most(40)).toBe(BACKOFF_CAP_MS)
    expect(least(40)).toBe(BACKOFF_CAP_MS / 2)
    // Far past any real attempt count, 2 ** n overflows to Infinity; the cap still holds.
    expect(most(5_000)).toBe(BACKOFF_CAP_MS)
  })

  it('spreads retries with jitter instead of stampeding', () => {
    const waits = new Set(Array.from({ length: 50 }, () => backoffMs(6)))
    expect(waits.size).toBeGreaterThan(1)
  })
})
