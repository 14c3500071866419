/**
 * The register's search answers exactly what a plain filter over all incidents would, on both databases,
 * whichever index drives it (words, party, box, status, time): random incidents, random queries, every
 * page followed to the end and compared with the brute-force answer.
 */
import { beforeAll, expect, it } from 'vitest'
import type { Incident, IncidentQuery, IncidentStatus } from '../../src/core/incidents/incident.ts'
import { INCIDENT_STATUSES } from '../../src/core/incidents/incident.ts'
import { searchIncidents } from '../../src/core/incidents/incident.service.ts'
import { uuidv7 } from '../../src/core/ids.ts'
import { EVENT_TYPES, type EventType } from '../../src/core/register/acled.ts'
import type { DialectAdapter } from '../../src/db/dialect/dialect-adapter.ts'
import { searchWords } from '../../src/db/repositories/incident-search.ts'
import { makeStore } from '../../src/db/store.ts'
import { forEachDialect } from '../support/dialects.ts'
import { prng } from '../../bench/api-dataset.ts'

const WORDS = ['market', 'shelling', 'convoy', 'clinic', 'school', 'checkpoint', 'river', 'fire', 'arrests', 'border', 'Bénin', 'naïve']
const PLACES = ['North gate', 'Old town', 'River quarter', 'Hill camp']
const DAY = 86_400_000
const T0 = Date.UTC(2024, 0, 1)

function fold(text: string): string[] {
  return searchWords(text).map((w) => w.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase())
}

forEachDialect('incident search', (dialect) => {
  let db: DialectAdapter
  let incidents: Incident[]
  const parties: string[] = []
  const random = prng(dialect.name === 'sqlite' ? 7 : 8)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!

  beforeAll(async () => {
    db = await dialect.open()
    const store = makeStore(db)
    const userId = uuidv7()
    await store.repos.users.insert({ id: userId, email: `${userId}@example.org`, displayName: 'search', roles: ['editor'], mustChangePassword: false, createdAt: T0, disabledAt: null }, null)
    for (let i = 0; i < 6; i++) {
      const id = uuidv7()
      parties.push(id)
      await store.repos.parties.insert({ id, name: `Party ${i}`, nameKey: `party ${i}`, aliases: [], interCode: 1, description: null, parentId: null, createdAt: T0, updatedAt: T0, createdBy: null, archivedAt: null }, [])
    }
    incidents = Array.from({ length: 300 }, (_, n) => {
      const eventType = pick(Object.keys(EVENT_TYPES) as EventType[])
      const point = random() < 0.1 ? null : { lat: random() * 10 - 5, lon: random() * 10 + 30 }
      const sensitive = point !== null && random() < 0.1
      const [a, b] = [pick(parties), pick(parties)]
      return {
        id: uuidv7(T0 + n),
        version: 1,
        status: pick(INCIDENT_STATUSES),
        statusReason: null,
        eventType,
        subEventType: EVENT_TYPES[eventType][0],
        actors: [{ partyId: a, associated: b === a ? [] : [b] }],
        civilianTargeting: false,
        // Some share a time, so the keyset's tie-break on id is exercised.
        occurredAt: T0 + Math.floor(random() * 60) * DAY + (random() < 0.3 ? 0 : Math.floor(random() * DAY)),
        timePrecision: pick([1, 2, 3] as const),
        location: sensitive ? null : point,
        searchPoint: sensitive ? { lat: 0, lon: 35 } : point,
        publicPoint: null,
        placeName: pick(PLACES),
        admin1: null,
        admin2: null,
        geoPrecision: pick([1, 2, 3] as const),
        sensitive,
        counts: {},
        narrative: Array.from({ length: 4 }, () => pick(WORDS)).join(' '),
        languages: [],
        sources: [],
        observationIds: [],
        sealed: null,
        createdBy: userId,
        createdAt: T0,
        updatedBy: userId,
        updatedAt: T0,
        verifiedBy: null,
        verifiedAt: null,
        publishedBy: null,
        publishedAt: null,
        lock: null,
      } satisfies Incident
    })
    await store.repos.incidents.insertMany(incidents)
  })

  function expected(q: Omit<IncidentQuery, 'limit' | 'after'>): string[] {
    return incidents
      .filter((i) => {
        const p = i.searchPoint
        if (q.bbox) {
          const [w, s, e, n] = q.bbox
          if (!p || p.lat < s || p.lat > n || (w <= e ? p.lon < w || p.lon > e : p.lon < w && p.lon > e)) return false
        }
        if (q.from !== undefined && i.occurredAt < q.from) return false
        if (q.to !== undefined && i.occurredAt >= q.to) return false
        if (q.eventType && i.eventType !== q.eventType) return false
        if (q.statuses && !q.statuses.includes(i.status)) return false
        if (q.timePrecision && i.timePrecision !== q.timePrecision) return false
        if (q.geoPrecision && i.geoPrecision !== q.geoPrecision) return false
        if (q.partyId && !i.actors.some((a) => a.partyId === q.partyId || a.associated.includes(q.partyId!))) return false
        if (q.text !== undefined) {
          const have = new Set(fold(`${i.narrative} ${i.placeName}`))
          const want = fold(q.text)
          if (want.length === 0 || !want.every((w) => have.has(w))) return false
        }
        return true
      })
      .sort((x, y) => y.occurredAt - x.occurredAt || (y.id < x.id ? -1 : y.id > x.id ? 1 : 0))
      .map((i) => i.id)
  }

  async function everyPage(q: Omit<IncidentQuery, 'limit' | 'after'>, limit: number): Promise<string[]> {
    const repos = makeStore(db).repos
    const ids: string[] = []
    let cursor: string | undefined
    for (let guard = 0; guard < 1000; guard++) {
      const page = await searchIncidents(repos, { ...q, limit, cursor })
      ids.push(...page.items.map((i) => i.id))
      if (!page.next) return ids
      cursor = page.next
    }
    throw new Error('pagination did not end')
  }

  it('answers every combination of filters exactly, page after page, whichever index drives it', async () => {
    for (let n = 0; n < 60; n++) {
      const q: Omit<IncidentQuery, 'limit' | 'after'> = {}
      if (random() < 0.4) {
        const w = 30 + random() * 8
        const s = -5 + random() * 8
        q.bbox = [w, s, w + random() * 4, s + random() * 4]
      }
      if (random() < 0.4) q.from = T0 + Math.floor(random() * 30) * DAY
      if (random() < 0.4) q.to = T0 + Math.floor(30 + random() * 30) * DAY
      if (random() < 0.3) q.eventType = pick(Object.keys(EVENT_TYPES))
      if (random() < 0.3) q.statuses = random() < 0.5 ? [pick(INCIDENT_STATUSES)] : [pick(INCIDENT_STATUSES), pick(INCIDENT_STATUSES)]
      if (random() < 0.2) q.timePrecision = pick([1, 2, 3] as const)
      if (random() < 0.2) q.geoPrecision = pick([1, 2, 3] as const)
      if (random() < 0.3) q.partyId = pick(parties)
      if (random() < 0.3) q.text = random() < 0.5 ? pick(WORDS) : `${pick(WORDS)} ${pick(WORDS).toUpperCase()}`
      const limit = 1 + Math.floor(random() * 40)
      expect(await everyPage(q, limit), JSON.stringify({ q, limit })).toEqual(expected(q))
    }
  })

  it('finds words without their accents, in either case, and a box across the antimeridian', async () => {
    expect(await everyPage({ text: 'benin' }, 50)).toEqual(expected({ text: 'Bénin' }))
    expect(await everyPage({ text: 'NAIVE market' }, 50)).toEqual(expected({ text: 'naïve market' }))
    expect(await everyPage({ bbox: [179, -90, -179, 90] }, 50)).toEqual([])
    expect(await everyPage({ bbox: [35, -90, 31, 90] }, 7)).toEqual(expected({ bbox: [35, -90, 31, 90] }))
  })

  it('pages through a word in thousands of incidents, many sharing a second, in exact order', async () => {
    const repos = makeStore(db).repos
    const base = incidents[0]!
    const many: Incident[] = Array.from({ length: 1500 }, (_, n) => ({
      ...base,
      id: uuidv7(T0 + 10_000 + n),
      // 40 distinct seconds, milliseconds scattered within them: keys order seconds, not what is inside one.
      occurredAt: T0 + 70 * DAY + (n % 40) * 1000 + ((n * 7919) % 1000),
      status: n % 3 === 0 ? 'published' : 'received',
      narrative: `zzcommon ${n % 2 ? 'odd' : 'even'}`,
    }))
    await repos.incidents.insertMany(many)
    incidents.push(...many)
    for (const [q, limit] of [[{ text: 'zzcommon' }, 37], [{ text: 'zzcommon odd' }, 250], [{ text: 'zzcommon', statuses: ['published'] as IncidentStatus[] }, 64], [{ text: 'zzcommon', from: T0 + 70 * DAY + 10_500, to: T0 + 70 * DAY + 20_250 }, 33]] as const)
      expect(await everyPage(q, limit), JSON.stringify(q)).toEqual(expected(q))
  })

  it('takes search syntax as plain words: quotes, operators, stars and brackets never break a query', async () => {
    for (const text of ['"market', 'market*', 'NEAR(market fire)', 'market OR fire', '-market', 'narrative:market', '(', '"', '***', 'market AND NOT fire', "'; drop table incidents; --", '\u202Emarket\u200B']) {
      const ids = await everyPage({ text }, 50)
      expect(ids, text).toEqual(expected({ text }))
    }
    expect(await everyPage({ text: '!!!' }, 50)).toEqual([])
  })

  it('keeps the party index in step when an incident moves in time and place', async () => {
    const repos = makeStore(db).repos
    const target = incidents.find((i) => i.searchPoint && !i.sensitive)!
    const moved: Incident = { ...target, version: target.version + 1, occurredAt: T0 + 400 * DAY, searchPoint: { lat: 4.5, lon: 39.5 }, location: { lat: 4.5, lon: 39.5 } }
    expect(await repos.incidents.update(moved, target.version)).toBe(true)
    expect(await repos.incidents.update(moved, target.version), 'a stale version is refused').toBe(false)
    const party = target.actors[0]!.partyId
    const found = await searchIncidents(repos, { partyId: party, bbox: [39, 4, 40, 5], from: T0 + 399 * DAY, limit: 10 })
    expect(found.items.map((i) => i.id)).toEqual([target.id])
    const words = await searchIncidents(repos, { text: target.narrative.split(' ')[0]!, from: T0 + 399 * DAY, limit: 10 })
    expect(words.items.map((i) => i.id)).toEqual([target.id])
    Object.assign(target, moved)
  })
})
