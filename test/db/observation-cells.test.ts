import { sql } from 'kysely'
import { describe, expect, it } from 'vitest'
import { prng } from '../../bench/api-dataset.ts'
import { uuidv7 } from '../../src/core/ids.ts'
import type { BBox, Observation, ObservationQuery } from '../../src/core/observations/observation.ts'
import { connectDatabase } from '../../src/db/database.ts'
import { migrateTo, migrateToLatest } from '../../src/db/migrations.ts'
import { CELL_LEVELS, cellExpression, coverBox, MAX_CELLS, MAX_CELLS_TOP } from '../../src/db/repositories/place-cells.ts'
import { makeStore } from '../../src/db/store.ts'
import { forEachDialect } from '../support/dialects.ts'
import { anObservation } from '../support/observations.ts'
import { tmpDir } from '../support/tmp.ts'

const T0 = Date.UTC(2025, 0, 1)
const AUTHOR = uuidv7()

function observation(lat: number, lon: number, occurredAt: number): Observation {
  return anObservation(AUTHOR, { narrative: `${lat},${lon}`, occurredAt, location: { lat, lon } })
}

/** What a list must answer, by scanning every row. */
function expected(rows: readonly Observation[], q: ObservationQuery): string[] {
  const [west, south, east, north] = q.bbox!
  return rows
    .filter((o) => {
      const { lat, lon } = o.location!
      const inLon = west <= east ? lon >= west && lon <= east : lon >= west || lon <= east
      const after = !q.after || o.occurredAt < q.after.occurredAt || (o.occurredAt === q.after.occurredAt && o.id < q.after.id)
      return lat >= south && lat <= north && inLon && (q.from === undefined || o.occurredAt >= q.from) && (q.to === undefined || o.occurredAt < q.to) && after
    })
    .sort((a, b) => b.occurredAt - a.occurredAt || (a.id < b.id ? 1 : -1))
    .slice(0, q.limit + 1)
    .map((o) => o.id)
}

describe('coverBox: the cells a box is searched through', () => {
  it('takes the finest level whose cover stays small', () => {
    expect(coverBox([30, 0, 30.02, 0.02])).toMatchObject({ level: CELL_LEVELS[0] })
    expect(coverBox([30, 0, 30.5, 0.5])).toMatchObject({ level: CELL_LEVELS[1] })
    expect(coverBox([30, 0, 34, 4])).toMatchObject({ level: CELL_LEVELS[2] })
    expect(coverBox([0, 0, 40, 40])).toMatchObject({ level: CELL_LEVELS[3] })
    for (const size of [0.001, 0.01, 0.1, 1, 5, 20, 60]) {
      const cover = coverBox([10, -3, 10 + size, -3 + size])!
      const top = cover.level === CELL_LEVELS[CELL_LEVELS.length - 1]
      expect(cover.cells.length).toBeLessThanOrEqual(top ? MAX_CELLS_TOP : MAX_CELLS)
    }
  })

  it('leaves a box too large for the grid to the time walk', () => {
    expect(coverBox([-180, -90, 180, 90])).toBeNull()
    expect(coverBox([-100, -60, 100, 60])).toBeNull()
  })

  it('numbers cells as the index expression does, and covers both ends of the map across the antimeridian', () => {
    const level = CELL_LEVELS[1]!
    // 0.25° cells: (lat + 90) × 4 = 360 → y 360; (lon + 180) × 4 = 720 → x 720.
    expect(coverBox([0, 0, 0.1, 0.1])).toEqual({ level, cells: [360 * 65536 + 720] })
    const across = coverBox([179.9, 0, -179.9, 0.1])!
    expect(across.cells.map((c) => c % 65536).sort((a, b) => a - b)).toEqual([0, 1439, 1440])
  })

  it('answers no cells for an empty or invalid box, and clamps values off the map', () => {
    expect(coverBox([0, 1, 0, -1])!.cells).toEqual([])
    expect(coverBox([Number.NaN, 0, 1, 1])!.cells).toEqual([])
    expect(coverBox([-500, 89.99, -179.99, 500])!.cells.every((c) => c >= 0)).toBe(true)
  })
})

forEachDialect('observations by box and window', (dialect) => {
  it('answers what a scan of every row answers, for boxes from a street to the world, windows, and pages', { timeout: 120_000 }, async () => {
    const store = makeStore(await dialect.open())
    await store.repos.users.insert({ id: AUTHOR, email: `${AUTHOR}@example.org`, displayName: 'A', roles: [], mustChangePassword: false, createdAt: T0, disabledAt: null }, null)
    const random = prng(11)
    const DAY = 86_400_000
    const rows: Observation[] = []
    // Towns (dense), noise over the world, points on cell edges of every level, the poles and the antimeridian,
    // and few distinct times, so that many rows tie on time and pages break inside ties.
    const time = () => T0 + Math.floor(random() * 60) * 6 * 3_600_000
    for (let i = 0; i < 1_500; i++) rows.push(observation(-1.95 + (random() - 0.5) * 0.2, 30.06 + (random() - 0.5) * 0.2, time()))
    for (let i = 0; i < 600; i++) rows.push(observation(-90 + random() * 180, -180 + random() * 360, time()))
    for (const level of CELL_LEVELS) {
      const step = 1 / level.perDegree
      for (let i = 0; i < 40; i++) rows.push(observation(Math.round((random() - 0.5) * 10 / step) * step, Math.round((random() - 0.5) * 10 / step) * step + 30, time()))
    }
    for (const [lat, lon] of [[90, 0], [-90, 0], [0, 180], [0, -180], [90, 180], [-90, -180], [45, 179.9999], [45, -179.9999]] as const) rows.push(observation(lat, lon, time()))
    await store.repos.observations.insertMany(rows)

    const boxes: BBox[] = [[-180, -90, 180, 90], [170, -10, -170, 10], [179, 40, -179, 50], [30, 0, 30, 0], [30.25, 0.25, 30.25, 0.25], [-180, -90, -179, 90]]
    for (let i = 0; i < 150; i++) {
      const size = Math.exp(Math.log(0.002) + random() * (Math.log(300) - Math.log(0.002)))
      const [cy, cx] = random() < 0.6 ? [-1.95, 30.06] : [-80 + random() * 160, -180 + random() * 360]
      const west = Math.max(-180, cx - size / 2)
      const east = Math.min(180, cx + size / 2)
      boxes.push([west, Math.max(-90, cy - size / 4), random() < 0.1 ? -180 + (east + 360 - west) % 10 : east, Math.min(90, cy + size / 4)])
    }
    let pagesChecked = 0
    for (const bbox of boxes) {
      const from = random() < 0.7 ? T0 + Math.floor(random() * 10) * DAY : undefined
      const to = random() < 0.7 ? (from ?? T0) + Math.ceil(random() * 15) * DAY : undefined
      let q: ObservationQuery = { bbox, from, to, limit: 1 + Math.floor(random() * 120) }
      // Up to three pages, each after the last row of the one before.
      for (let page = 0; page < 3; page++) {
        const got = (await store.repos.observations.list(q)).map((o) => o.id)
        expect(got, JSON.stringify(q)).toEqual(expected(rows, q))
        pagesChecked++
        if (got.length <= q.limit) break
        const last = rows.find((o) => o.id === got[q.limit - 1])!
        q = { ...q, after: { occurredAt: last.occurredAt, id: last.id } }
      }
    }
    expect(pagesChecked).toBeGreaterThan(boxes.length)
    // A box with an unknown side (the API refuses one) holds nothing, whichever side it is.
    for (const side of [0, 1, 2, 3]) {
      const bbox = [-180, -90, 180, 90].map((v, i) => (i === side ? Number.NaN : v)) as unknown as BBox
      expect(await store.repos.observations.list({ bbox, limit: 10 })).toEqual([])
    }
  })

  it('reads back every field of a full record in a list by box, exactly as stored', async () => {
    const store = makeStore(await dialect.open())
    await store.repos.users.insert({ id: AUTHOR, email: `${AUTHOR}@example.org`, displayName: 'A', roles: [], mustChangePassword: false, createdAt: T0, disabledAt: null }, null)
    const full: Observation = {
      ...observation(-1.2345678901234567, 30.000000123456789, 1_735_689_600_123),
      narrative: 'ünïcødé — نص عربي "quoted" \\ back\nslash',
      sources: [{ type: 'witness', reliability: 'B', description: 'in person' }],
      urgent: true,
      language: 'fr',
      media: ['0'.repeat(64)],
      sealed: { value: 'opaque sealed text', dataKeyId: uuidv7() },
      consentSummary: { publication: false, partners: true, court: true },
      title: 'Shelling near the — سوق market',
      eventType: 'Explosions/Remote violence',
      parties: ['Armed group "X"'],
    }
    const edge = observation(89.99999999999999, -179.99999999999997, 0)
    await store.repos.observations.insertMany([full, edge])
    expect(await store.repos.observations.list({ bbox: [29, -2, 31, -1], limit: 5 })).toEqual([full])
    expect(await store.repos.observations.list({ bbox: [-180, 89, -179, 90], from: -1, limit: 5 })).toEqual([edge])
  })

  if (dialect.name !== 'sqlite') return

  it('has one index per level whose expression is the one the repository queries', async () => {
    const db = await dialect.open()
    for (const level of CELL_LEVELS) {
      const { rows } = await sql<{ sql: string }>`select sql from sqlite_master where type = 'index' and name = ${level.index}`.execute(db.kysely)
      expect(rows[0]?.sql).toContain(`on observations (${cellExpression(level)}, occurred_at, id, lat, lon)`)
      // INDEXED BY fails outright when the index cannot serve the expression, so this plan proves they match.
      const plan = await sql<{ detail: string }>`explain query plan select rowid from observations indexed by ${sql.raw(level.index)}
        where ${sql.raw(cellExpression(level))} = 1 and occurred_at < 5 order by occurred_at desc, id desc`.execute(db.kysely)
      expect(plan.rows.map((r) => r.detail).join('\n')).toMatch(new RegExp(`COVERING INDEX ${level.index} \\(<expr>=\\? AND occurred_at<\\?\\)`))
    }
  })
})

describe('migration 0016 (SQLite: observations found through grid cells)', () => {
  it('indexes the rows written before it and drops the R*Tree with its triggers', async () => {
    const db = connectDatabase({ dataDir: tmpDir('louder-cells-0016-'), databaseUrl: null })
    try {
      await migrateTo(db.kysely, db.name, '0015_custody_nodes_clustered')
      const store = makeStore(db)
      await store.repos.users.insert({ id: AUTHOR, email: `${AUTHOR}@example.org`, displayName: 'A', roles: [], mustChangePassword: false, createdAt: T0, disabledAt: null }, null)
      const before = [observation(-1.9, 30.1, T0), observation(-1.91, 30.11, T0 + 1), observation(45, 179.99, T0 + 2)]
      await store.repos.observations.insertMany(before)
      await migrateToLatest(db.kysely, db.name)
      const { rows } = await sql<{ name: string }>`select name from sqlite_master where name like 'observations_rtree%'`.execute(db.kysely)
      expect(rows).toEqual([])
      expect((await store.repos.observations.list({ bbox: [30, -2, 30.2, -1.8], limit: 10 })).map((o) => o.id)).toEqual([before[1]!.id, before[0]!.id])
      // Writes after it go on being found, and an update moves a row to its new cells.
      const after = observation(-1.92, 30.12, T0 + 3)
      await store.repos.observations.insert(after)
      await db.kysely.updateTable('observations').set({ lat: 10, lon: 10 }).where('id', '=', before[0]!.id).execute()
      expect((await store.repos.observations.list({ bbox: [30, -2, 30.2, -1.8], limit: 10 })).map((o) => o.id)).toEqual([after.id, before[1]!.id])
      expect((await store.repos.observations.list({ bbox: [9.9, 9.9, 10.1, 10.1], limit: 10 })).map((o) => o.id)).toEqual([before[0]!.id])
    } finally {
      await db.close()
    }
  })
})
