/**
 * The data and the queries of the `api` bench, generated from a fixed seed so every run and both databases
 * see the same million rows and ask the same questions.
 *
 * Shape: a 10°×10° area (roughly the size of a country) over three years. Most observations come from a
 * handful of towns and cities of different sizes, some in week-long bursts (an incident draws many reports at
 * once), the rest is noise spread over the whole area. Queries look where the data is more often than not,
 * from a city block of streets (0.05°) to a region (5°), over a week to a year.
 */
import { createHash } from 'node:crypto'
import type { BBox, Observation, ObservationQuery } from '../src/core/observations/observation.ts'

export const AREA = { west: 30, south: -5, east: 40, north: 5 } as const
export const SPAN_END = Date.UTC(2025, 0, 1)
export const SPAN_START = SPAN_END - 3 * 365 * 86_400_000
const DAY = 86_400_000

/** Mulberry32: small, fast, and good enough to spread points; not for anything secret. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

function gaussian(random: () => number): number {
  const u = 1 - random()
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random())
}

/** Towns and cities: where most reports come from. Weight is the share of the clustered rows; spread is σ in degrees. */
const CLUSTERS = [
  { lat: -1.95, lon: 30.06, weight: 0.3, spread: 0.08 },
  { lat: 0.35, lon: 32.58, weight: 0.22, spread: 0.12 },
  { lat: -3.38, lon: 36.68, weight: 0.16, spread: 0.1 },
  { lat: 2.77, lon: 35.6, weight: 0.12, spread: 0.3 },
  { lat: -0.1, lon: 38.2, weight: 0.1, spread: 0.05 },
  { lat: 4.1, lon: 31.58, weight: 0.1, spread: 0.2 },
] as const

const NARRATIVE_PARTS = [
  'Armed men stopped the bus at the checkpoint on the northern road and took the phones of all passengers.',
  'A witness saw smoke rising from the market from about 300 metres away; the fire burned for two hours.',
  'Three families arrived at the school shelter overnight, saying their village had been shelled.',
  'Water point out of service since the previous week; women walk 6 km to the river.',
  'Local radio reported arrests of students after the protest; names withheld at the request of relatives.',
  'Clinic staff say medical supplies have not reached the district for a month.',
  'Photographs show damage to the roof of the mosque and two adjacent houses.',
  'Curfew announced by loudspeaker at 18:00, enforced with live fire in the air.',
  'Road to the border closed by a landslide; humanitarian convoy turned back.',
  'A teacher described threats received by text message after a meeting with a journalist.',
  'Crowd gathered outside the police station demanding the release of a community leader.',
  'Power cut across the neighbourhood for the third day; generator fuel prices doubled.',
] as const

export interface Dataset {
  rows: Observation[]
  /** Columns of `rows` as typed arrays, for the brute-force reference and for choosing queries. */
  lat: Float64Array
  lon: Float64Array
  occurredAt: Float64Array
}

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'))

/** A v7-shaped id derived from the seed, so the same row gets the same id in every run and database. */
function deterministicId(ms: number, random: () => number): string {
  const h = (v: number) => HEX[v & 0xff]!
  const hi = Math.floor(ms / 0x1_0000_0000)
  const lo = ms >>> 0
  const a = (random() * 0x1_0000_0000) >>> 0
  const b = (random() * 0x1_0000_0000) >>> 0
  const c = (random() * 0x1_0000_0000) >>> 0
  return (
    h(hi >>> 8) + h(hi) + h(lo >>> 24) + h(lo >>> 16) + '-' + h(lo >>> 8) + h(lo) + '-' +
    h(0x70 | ((a >>> 24) & 0x0f)) + h(a >>> 16) + '-' + h(0x80 | ((a >>> 8) & 0x3f)) + h(a) + '-' +
    h(b >>> 24) + h(b >>> 16) + h(b >>> 8) + h(b) + h(c >>> 24) + h(c >>> 16)
  )
}

export function generateDataset(count: number, createdBy: string, seed = 20_250_101): Dataset {
  const random = prng(seed)
  const lat = new Float64Array(count)
  const lon = new Float64Array(count)
  const occurredAt = new Float64Array(count)
  const createdAt = new Float64Array(count)
  const narratives = Array.from({ length: 64 }, (_, i) => {
    const parts = 1 + (i % 3)
    return Array.from({ length: parts }, (_, j) => NARRATIVE_PARTS[(i * 7 + j * 5) % NARRATIVE_PARTS.length]).join(' ')
  })
  const bursts = Array.from({ length: 40 }, () => ({
    cluster: Math.floor(random() * CLUSTERS.length),
    start: SPAN_START + random() * (SPAN_END - SPAN_START - 7 * DAY),
  }))
  for (let i = 0; i < count; i++) {
    let y: number
    let x: number
    let t = SPAN_START + random() * (SPAN_END - SPAN_START)
    const kind = random()
    if (kind < 0.3) {
      y = AREA.south + random() * (AREA.north - AREA.south)
      x = AREA.west + random() * (AREA.east - AREA.west)
    } else {
      let pick = random()
      let c: (typeof CLUSTERS)[number] = CLUSTERS[0]
      for (const candidate of CLUSTERS) {
        c = candidate
        if ((pick -= candidate.weight) < 0) break
      }
      if (kind > 0.9) {
        const burst = bursts[Math.floor(random() * bursts.length)]!
        c = CLUSTERS[burst.cluster]!
        t = burst.start + random() * 7 * DAY
      }
      y = c.lat + gaussian(random) * c.spread
      x = c.lon + gaussian(random) * c.spread
    }
    // Coordinates as a phone reports them: 6 decimals (~0.1 m); times to the second.
    lat[i] = Math.round(Math.min(AREA.north, Math.max(AREA.south, y)) * 1e6) / 1e6
    lon[i] = Math.round(Math.min(AREA.east, Math.max(AREA.west, x)) * 1e6) / 1e6
    occurredAt[i] = Math.floor(t / 1000) * 1000
    createdAt[i] = occurredAt[i]! + Math.floor(random() * 3 * DAY)
  }
  // Rows reach the database in the order they were recorded, as they would in use.
  const order = Array.from({ length: count }, (_, i) => i).sort((a, b) => createdAt[a]! - createdAt[b]!)
  const out: Dataset = { rows: new Array<Observation>(count), lat: new Float64Array(count), lon: new Float64Array(count), occurredAt: new Float64Array(count) }
  for (let k = 0; k < count; k++) {
    const i = order[k]!
    out.lat[k] = lat[i]!
    out.lon[k] = lon[i]!
    out.occurredAt[k] = occurredAt[i]!
    const created = createdAt[i]!
    out.rows[k] = {
      id: deterministicId(created, random),
      narrative: narratives[Math.floor(random() * narratives.length)]!,
      occurredAt: occurredAt[i]!,
      location: { lat: lat[i]!, lon: lon[i]! },
      createdBy,
      createdAt: created,
      updatedAt: created,
    }
  }
  return out
}

export interface BenchQuery {
  /** The query string of GET /api/v1/observations. */
  path: string
  /** The same question as the repository sees it. */
  query: ObservationQuery
}

/**
 * Map-viewer questions: a box around a town or anywhere in the area, from 0.05° (a few streets) to 5° (a
 * region), log-uniformly; a time window from a week to a year, log-uniformly, ending on a day boundary.
 */
export function generateQueries(count: number, seed = 7): BenchQuery[] {
  const random = prng(seed)
  const logUniform = (lo: number, hi: number) => Math.exp(Math.log(lo) + random() * (Math.log(hi) - Math.log(lo)))
  const round = (v: number) => Math.round(v * 1e4) / 1e4
  const out: BenchQuery[] = []
  for (let i = 0; i < count; i++) {
    const size = logUniform(0.05, 5)
    const aspect = 0.7 + random() * 0.6
    let cy: number
    let cx: number
    if (random() < 0.7) {
      const c = CLUSTERS[Math.floor(random() * CLUSTERS.length)]!
      cy = c.lat + gaussian(random) * Math.max(c.spread, size / 4)
      cx = c.lon + gaussian(random) * Math.max(c.spread, size / 4)
    } else {
      cy = AREA.south + random() * (AREA.north - AREA.south)
      cx = AREA.west + random() * (AREA.east - AREA.west)
    }
    const bbox: BBox = [round(cx - (size * aspect) / 2), round(cy - size / 2), round(cx + (size * aspect) / 2), round(cy + size / 2)]
    const windowDays = Math.round(logUniform(7, 365))
    const toDay = Math.ceil((SPAN_START + windowDays * DAY + random() * (SPAN_END - SPAN_START - windowDays * DAY + 30 * DAY)) / DAY)
    const to = toDay * DAY
    const from = to - windowDays * DAY
    const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z')
    out.push({
      path: `/api/v1/observations?bbox=${bbox.join(',')}&from=${iso(from)}&to=${iso(to)}&limit=100`,
      query: { bbox, from, to, limit: 100 },
    })
  }
  return out
}

/** The answer by scanning every row: the reference for what an index buys, and the check that ours is right. */
export function bruteForce(data: Dataset, q: ObservationQuery): Observation[] {
  const [west, south, east, north] = q.bbox ?? [-180, -90, 180, 90]
  const from = q.from ?? -Infinity
  const to = q.to ?? Infinity
  const hits: number[] = []
  const { lat, lon, occurredAt } = data
  for (let i = 0; i < lat.length; i++) {
    const y = lat[i]!
    const x = lon[i]!
    const t = occurredAt[i]!
    if (y >= south && y <= north && (west <= east ? x >= west && x <= east : x >= west || x <= east) && t >= from && t < to) hits.push(i)
  }
  const rows = hits.map((i) => data.rows[i]!)
  rows.sort((a, b) => b.occurredAt - a.occurredAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))
  return rows.slice(0, q.limit + 1)
}

/** A short fingerprint of a page, to compare answers without keeping them. */
export function pageDigest(rows: readonly Observation[]): string {
  return createHash('sha256').update(rows.map((r) => r.id).join(',')).digest('hex').slice(0, 16)
}
