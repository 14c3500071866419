/**
 * The data and the questions of the `register` bench, from a fixed seed: a million incidents over three
 * years in the `api` bench's 10°×10° area, most around its towns, acted by 300 parties of very unequal
 * weight (a state's army is in a fifth of everything, most militias in a handful), with narratives of ten
 * words drawn from a 4,000-word vocabulary by Zipf's law, so that searched words range from common to rare.
 *
 * Incidents are produced in batches from typed-array columns, which stay in memory for the brute-force
 * reference (about 60 MB), instead of a million objects.
 */
import { EVENT_TYPES, type EventType } from '../src/core/register/acled.ts'
import type { Incident, IncidentQuery, IncidentStatus } from '../src/core/incidents/incident.ts'
import { AREA, prng, SPAN_END, SPAN_START } from './api-dataset.ts'

export const PARTY_COUNT = 300
export const VOCABULARY = 4_000
const WORDS_PER_NARRATIVE = 10
const MAX_PARTIES = 3
const DAY = 86_400_000
const CENTRES = [
  { lat: -1.95, lon: 30.06, spread: 0.08 },
  { lat: 0.35, lon: 32.58, spread: 0.12 },
  { lat: -3.38, lon: 36.68, spread: 0.1 },
  { lat: 2.77, lon: 35.6, spread: 0.3 },
  { lat: -0.1, lon: 38.2, spread: 0.05 },
  { lat: 4.1, lon: 31.58, spread: 0.2 },
]
const STATUSES: [IncidentStatus, number][] = [['published', 0.35], ['verified', 0.15], ['in_review', 0.15], ['received', 0.2], ['unverifiable', 0.05], ['rejected', 0.07], ['retracted', 0.03]]
const EVENT_NAMES = Object.keys(EVENT_TYPES) as EventType[]

/** Pronounceable made-up words, all distinct, none an English or ACLED word, so matches are by design. */
export function vocabulary(): string[] {
  const onsets = ['b', 'd', 'f', 'g', 'k', 'l', 'm', 'n', 'p', 'r', 's', 't', 'v', 'z', 'sh', 'kr']
  const vowels = ['a', 'e', 'i', 'o', 'u']
  const words: string[] = []
  for (let i = 0; words.length < VOCABULARY; i++) {
    let n = i
    let w = ''
    for (let s = 0; s < 3; s++) {
      w += onsets[n % onsets.length]! + vowels[Math.floor(n / onsets.length) % vowels.length]!
      n = Math.floor(n / (onsets.length * vowels.length))
    }
    words.push(`${w}x`)
  }
  return words
}

/** A sampler of ranks 0…n−1 with P(r) ∝ 1/(r+1)^s. */
function zipf(n: number, s: number, random: () => number): () => number {
  const cdf = new Float64Array(n)
  let sum = 0
  for (let r = 0; r < n; r++) cdf[r] = sum += 1 / (r + 1) ** s
  return () => {
    const x = random() * sum
    let lo = 0
    let hi = n - 1
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (cdf[mid]! < x) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}

function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random())
}

export interface RegisterData {
  count: number
  lat: Float64Array
  lon: Float64Array
  occurredAt: Float64Array
  /** MAX_PARTIES slots per incident: party index, or −1. */
  parties: Int16Array
  /** WORDS_PER_NARRATIVE word indexes per incident. */
  words: Uint16Array
  status: Uint8Array
  event: Uint8Array
}

export function generateRegister(count: number, seed = 20_260_101): RegisterData {
  const random = prng(seed)
  const party = zipf(PARTY_COUNT, 1.1, random)
  const word = zipf(VOCABULARY, 1, random)
  const d: RegisterData = {
    count,
    lat: new Float64Array(count),
    lon: new Float64Array(count),
    occurredAt: new Float64Array(count),
    parties: new Int16Array(count * MAX_PARTIES).fill(-1),
    words: new Uint16Array(count * WORDS_PER_NARRATIVE),
    status: new Uint8Array(count),
    event: new Uint8Array(count),
  }
  for (let i = 0; i < count; i++) {
    let y: number
    let x: number
    if (random() < 0.3) {
      y = AREA.south + random() * (AREA.north - AREA.south)
      x = AREA.west + random() * (AREA.east - AREA.west)
    } else {
      const c = CENTRES[Math.floor(random() * CENTRES.length)]!
      y = c.lat + gaussian(random) * c.spread
      x = c.lon + gaussian(random) * c.spread
    }
    d.lat[i] = Math.round(Math.min(AREA.north, Math.max(AREA.south, y)) * 1e6) / 1e6
    d.lon[i] = Math.round(Math.min(AREA.east, Math.max(AREA.west, x)) * 1e6) / 1e6
    d.occurredAt[i] = Math.floor((SPAN_START + random() * (SPAN_END - SPAN_START)) / 1000) * 1000
    const n = random() < 0.5 ? 1 : random() < 0.7 ? 2 : 3
    for (let k = 0; k < n; k++) {
      const p = party()
      let dup = false
      for (let j = 0; j < k; j++) if (d.parties[i * MAX_PARTIES + j] === p) dup = true
      if (!dup) d.parties[i * MAX_PARTIES + k] = p
    }
    for (let k = 0; k < WORDS_PER_NARRATIVE; k++) d.words[i * WORDS_PER_NARRATIVE + k] = word()
    let pick = random()
    let s = 0
    for (; s < STATUSES.length - 1; s++) if ((pick -= STATUSES[s]![1]) < 0) break
    d.status[i] = s
    d.event[i] = Math.floor(random() * EVENT_NAMES.length)
  }
  return d
}

export function partyId(p: number): string {
  return `01900000-0000-7000-8000-${(0xa0000000 + p).toString(16).padStart(12, '0')}`
}

export function incidentId(i: number): string {
  return `01900000-0000-7000-9000-${i.toString(16).padStart(12, '0')}`
}

/** Incidents [from, to) as records, with the first party as actor and any second as its associated group, a third as another actor. */
export function incidentsOf(d: RegisterData, from: number, to: number, words: string[], createdBy: string): Incident[] {
  const out: Incident[] = []
  for (let i = from; i < to; i++) {
    const slots = [0, 1, 2].map((k) => d.parties[i * MAX_PARTIES + k]!).filter((p) => p >= 0)
    const actors = [{ partyId: partyId(slots[0]!), associated: slots[1] === undefined ? [] : [partyId(slots[1])] }]
    if (slots[2] !== undefined) actors.push({ partyId: partyId(slots[2]), associated: [] })
    const eventType = EVENT_NAMES[d.event[i]!]!
    const point = { lat: d.lat[i]!, lon: d.lon[i]! }
    const narrative = Array.from({ length: WORDS_PER_NARRATIVE }, (_, k) => words[d.words[i * WORDS_PER_NARRATIVE + k]!]!).join(' ')
    out.push({
      id: incidentId(i),
      version: 1,
      status: STATUSES[d.status[i]!]![0],
      statusReason: null,
      eventType,
      subEventType: EVENT_TYPES[eventType][i % EVENT_TYPES[eventType].length]!,
      actors,
      civilianTargeting: i % 3 === 0,
      occurredAt: d.occurredAt[i]!,
      timePrecision: 1,
      location: point,
      searchPoint: point,
      publicPoint: null,
      placeName: `Site ${i % 997}`,
      admin1: null,
      admin2: null,
      geoPrecision: 1,
      sensitive: false,
      counts: i % 4 === 0 ? { killed: { min: i % 7, max: (i % 7) + 2 } } : {},
      narrative,
      languages: ['en'],
      sources: [],
      observationIds: [],
      sealed: null,
      createdBy,
      createdAt: d.occurredAt[i]!,
      updatedBy: createdBy,
      updatedAt: d.occurredAt[i]!,
      verifiedBy: null,
      verifiedAt: null,
      publishedBy: null,
      publishedAt: null,
      lock: null,
    })
  }
  return out
}

export interface RegisterQuery {
  kind: 'party' | 'text'
  query: IncidentQuery
  /** For the brute-force reference. */
  party?: number
  wordIndexes?: number[]
}

/**
 * The two questions of the issue, `count` of each, newest first, 50 to a page:
 * - bbox + time + party: a box of 0.05–5° (log-uniform) around where incidents are, a window of 7–365 days,
 *   a party drawn by its weight (the big actors are asked about most);
 * - full text: one word (70 %) or two, of rank 20–4,000 (log-uniform: from 2 % of incidents to 0.03 %).
 */
export function registerQueries(d: RegisterData, count: number, words: string[], seed = 7): RegisterQuery[] {
  const random = prng(seed)
  const party = zipf(PARTY_COUNT, 1.1, random)
  const logUniform = (lo: number, hi: number) => Math.exp(Math.log(lo) + random() * (Math.log(hi) - Math.log(lo)))
  const out: RegisterQuery[] = []
  for (let n = 0; n < count; n++) {
    const i = Math.floor(random() * d.count)
    const half = logUniform(0.05, 5) / 2
    const days = logUniform(7, 365)
    const to = d.occurredAt[i]! + Math.floor(random() * days * DAY)
    const p = party()
    out.push({
      kind: 'party',
      party: p,
      query: { bbox: [d.lon[i]! - half, d.lat[i]! - half, d.lon[i]! + half, d.lat[i]! + half], from: to - Math.floor(days * DAY), to, partyId: partyId(p), limit: 50 },
    })
  }
  for (let n = 0; n < count; n++) {
    const k = random() < 0.7 ? 1 : 2
    const indexes = Array.from({ length: k }, () => Math.min(VOCABULARY - 1, Math.floor(logUniform(20, VOCABULARY))))
    out.push({ kind: 'text', wordIndexes: indexes, query: { text: indexes.map((w) => words[w]).join(' '), limit: 50 } })
  }
  return out
}

/** The page a query should give, by scanning every incident's columns. */
export function bruteForcePage(d: RegisterData, q: RegisterQuery): string[] {
  const hits: number[] = []
  const [w, s, e, n] = q.query.bbox ?? [-Infinity, -Infinity, Infinity, Infinity]
  for (let i = 0; i < d.count; i++) {
    const t = d.occurredAt[i]!
    if (q.query.from !== undefined && t < q.query.from) continue
    if (q.query.to !== undefined && t >= q.query.to) continue
    if (d.lat[i]! < s || d.lat[i]! > n || d.lon[i]! < w || d.lon[i]! > e) continue
    if (q.party !== undefined) {
      let has = false
      for (let k = 0; k < MAX_PARTIES; k++) if (d.parties[i * MAX_PARTIES + k] === q.party) has = true
      if (!has) continue
    }
    if (q.wordIndexes) {
      let all = true
      for (const wi of q.wordIndexes) {
        let has = false
        for (let k = 0; k < WORDS_PER_NARRATIVE; k++) if (d.words[i * WORDS_PER_NARRATIVE + k] === wi) has = true
        if (!has) all = false
      }
      if (!all) continue
    }
    hits.push(i)
  }
  hits.sort((a, b) => d.occurredAt[b]! - d.occurredAt[a]! || b - a)
  return hits.slice(0, q.query.limit).map(incidentId)
}
