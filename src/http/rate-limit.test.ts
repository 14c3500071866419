import { describe, expect, it } from 'vitest'
import { rateLimitKey, SlidingWindowLimiter } from './rate-limit.ts'

describe('sliding-window limiter', () => {
  it('allows max attempts in any window, then says how long to wait', () => {
    let now = 1_000_000
    const limiter = new SlidingWindowLimiter({ max: 3, windowMs: 60_000, now: () => now })
    expect([limiter.hit('a'), limiter.hit('a')]).toEqual([0, 0])
    now += 30_000
    expect(limiter.hit('a')).toBe(0)
    expect(limiter.hit('a')).toBe(30_000) // the first attempt leaves the window in 30 s
    expect(limiter.hit('b')).toBe(0) // per address
    now += 30_001 // the first two left the window; the third is still in it
    expect([limiter.hit('a'), limiter.hit('a')]).toEqual([0, 0])
    expect(limiter.hit('a')).toBe(30_000 - 1)
  })

  it('refused attempts do not extend the wait', () => {
    let now = 0
    const limiter = new SlidingWindowLimiter({ max: 1, windowMs: 1000, now: () => now })
    limiter.hit('a')
    for (let i = 0; i < 10; i++) expect(limiter.hit('a')).toBe(1000 - now++)
    now = 1000
    expect(limiter.hit('a')).toBe(0)
  })

  it('forgets the least recently seen addresses beyond its bound', () => {
    const limiter = new SlidingWindowLimiter({ max: 1, windowMs: 60_000, maxAddresses: 100 })
    for (let i = 0; i < 1000; i++) limiter.hit(`10.0.${i >> 8}.${i & 255}`)
    expect(limiter.size).toBe(100)
  })
})

describe('rate limit keys', () => {
  it.each([
    ['192.0.2.7', '192.0.2.7'],
    ['::ffff:192.0.2.7', '192.0.2.7'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::9', '2001:db8:1:2::/64'],
    ['2001:0DB8:0001:0002:ffff::1', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
  ])('%s → %s', (ip, key) => {
    expect(rateLimitKey(ip)).toBe(key)
  })
})
