import { type Kysely, type RawBuilder, sql } from 'kysely'
import type { BBox } from '../../core/observations/observation.ts'
import { sqlLimit } from './sql-limit.ts'

/**
 * Pieces of the place-and-time searches: boxes as index-friendly rectangles (observations and incidents), and
 * an R*Tree range over place and day (incidents on SQLite, migration 0008; observations use grid cells,
 * place-cells.ts).
 */
const DAY_MS = 86_400_000

export interface LonLatBox {
  west: number
  south: number
  east: number
  north: number
}

/** A time window and keyset position, as both searches take them. */
export interface TimeWindow {
  from?: number
  to?: number
  after?: { occurredAt: number; id: string }
}

/** The box as rectangles: two when it crosses the antimeridian (west > east); the exact predicate still decides. */
export function candidateBoxes(bbox: BBox): LonLatBox[] {
  const [west, south, east, north] = bbox
  return west <= east
    ? [{ west, south, east, north }]
    : [
        { west, south, east: Number.MAX_VALUE, north },
        { west: -Number.MAX_VALUE, south, east, north },
      ]
}

/**
 * An R*Tree range over one rectangle and the window (keyset included), in the tree's day units. Division is
 * monotonic, so t >= from implies t/DAY >= from/DAY, and the tree rounds its bounds outwards: a superset.
 */
export function rtreeRange(b: LonLatBox, w: TimeWindow): RawBuilder<unknown> {
  const terms = [sql`min_lat <= ${b.north} and max_lat >= ${b.south} and min_lon <= ${b.east} and max_lon >= ${b.west}`]
  if (w.from !== undefined) terms.push(sql`max_day >= ${w.from / DAY_MS}`)
  if (w.to !== undefined) terms.push(sql`min_day <= ${w.to / DAY_MS}`)
  if (w.after) terms.push(sql`min_day <= ${w.after.occurredAt / DAY_MS}`)
  return sql.join(terms, sql` and `)
}

/**
 * How many of an R*Tree's entries fall in the boxes and window, counting no further than `limit + 1`: the
 * cheap probe that tells a dense question (walk the time index) from a sparse one (take the tree's candidates).
 */
export async function rtreeProbe(db: Kysely<any>, tree: 'incidents_rtree', boxes: LonLatBox[], w: TimeWindow, limit: number): Promise<number> {
  const probe = await sql<{ n: number }>`select count(*) as n from (${sql.join(
    boxes.map((b) => sql`select 1 from ${sql.table(tree)} where ${rtreeRange(b, w)}`),
    sql` union all `,
  )} limit ${sqlLimit(limit + 1)})`.execute(db)
  return Number(probe.rows[0]?.n)
}
