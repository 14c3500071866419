import { isIPv6 } from 'node:net'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { problem, sendProblem } from './problem.ts'

export interface RateLimitOptions {
  /** Attempts allowed per address within the window… */
  max: number
  /** …of this many milliseconds, sliding: the window ends now, not at the top of the minute. */
  windowMs: number
  /** Addresses remembered at most; beyond this the least recently seen are forgotten (memory stays bounded). */
  maxAddresses?: number
  now?: () => number
}

/**
 * The address a limit counts against. An IPv6 user is usually given a whole /64, so counting single IPv6
 * addresses would give one attacker 2^64 budgets: count the /64 instead.
 */
export function rateLimitKey(ip: string): string {
  if (!isIPv6(ip)) return ip
  if (/^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(ip)) return ip.slice(7) // IPv4-mapped: the IPv4 address it is
  const [head = '', tail = ''] = ip.toLowerCase().split('::')
  const left = head ? head.split(':') : []
  const right = tail ? tail.split(':') : []
  const groups = ip.includes('::') ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right] : left
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`
}

/**
 * An in-memory sliding-window limit per client address, for the endpoints that check passwords: it slows
 * one address spraying guesses across many accounts, which the per-account lockout (core/accounts/login.ts)
 * does not see. Per process: with several server processes each keeps its own count, which only makes the
 * limit that many times looser; the per-account lockout, kept in the database, is the hard one.
 */
export class SlidingWindowLimiter {
  readonly #hits = new Map<string, number[]>()
  readonly #max: number
  readonly #windowMs: number
  readonly #maxAddresses: number
  readonly #now: () => number

  constructor(options: RateLimitOptions) {
    this.#max = options.max
    this.#windowMs = options.windowMs
    this.#maxAddresses = options.maxAddresses ?? 50_000
    this.#now = options.now ?? Date.now
  }

  /** Counts one attempt; returns 0 when it is allowed, or the milliseconds until one would be. */
  hit(key: string): number {
    const now = this.#now()
    const since = now - this.#windowMs
    const hits = (this.#hits.get(key) ?? []).filter((t) => t > since)
    // Re-inserting moves the address to the end of the map's order, which makes the eviction below LRU.
    this.#hits.delete(key)
    if (hits.length >= this.#max) {
      this.#hits.set(key, hits)
      return hits[0]! + this.#windowMs - now
    }
    hits.push(now)
    this.#hits.set(key, hits)
    while (this.#hits.size > this.#maxAddresses) this.#hits.delete(this.#hits.keys().next().value!)
    return 0
  }

  get size(): number {
    return this.#hits.size
  }
}

/** Attempts at password-checking endpoints per address: a person mistyping never gets near this. */
export const LOGIN_RATE_LIMIT: RateLimitOptions = { max: 20, windowMs: 60_000 }

/** A preHandler answering 429 with Retry-After once the address has used up its attempts. */
export function rateLimit(options: RateLimitOptions = LOGIN_RATE_LIMIT) {
  const limiter = new SlidingWindowLimiter(options)
  return async function limitByAddress(req: FastifyRequest, reply: FastifyReply) {
    const waitMs = limiter.hit(rateLimitKey(req.ip))
    if (waitMs === 0) return
    const seconds = Math.max(1, Math.ceil(waitMs / 1000))
    reply.header('retry-after', String(seconds))
    return sendProblem(reply, problem(429, 'rate_limited', `Too many attempts from this address. Try again in ${seconds} s.`))
  }
}
