import type { BBox } from '../../core/observations/observation.ts'

/**
 * A grid over the map at a few scales, for the SQLite search of observations by box and window
 * (migration 0016_observation_cells; observation.repository.ts). Each level has an index on
 * (cell, occurred_at, id, lat, lon): within one cell its entries run in page order, newest first, so a box
 * is answered by merging the few cells that cover it, each read from the box's window only, and the merge
 * stops at a page. No probe, no walk through rows outside the cells, and the page's rows are then read by the
 * rowid the index entries carry.
 *
 * A cell is numbered `y * 65536 + x`, where y and x count cells from 90°S and 180°W: truncating
 * (lat + 90) × cells-per-degree. Both are monotonic in lat and lon, so every row in a box lies in a cell
 * between the cells of its corners. The SQL below and the arithmetic here are the same IEEE double
 * operations, so they agree on every boundary.
 *
 * Rows are on the map (every write path checks lat and lon): a row off it would lie outside every cover.
 *
 * Changing a level (its scale, or the SQL text of its expression, which SQLite matches literally) means a new
 * migration that rebuilds its index: test/db/observation-cells.test.ts compares both with the schema.
 */
export interface CellLevel {
  /** The index on this level's cells (migration 0016). */
  index: string
  /** Cells per degree: a power of two, so the scaling is exact. */
  perDegree: number
}

/** From streets (1/32°, ~3.5 km) to regions (16°): each a factor of 8 above the last. */
export const CELL_LEVELS: readonly CellLevel[] = [
  { index: 'observations_cell_32', perDegree: 32 },
  { index: 'observations_cell_4', perDegree: 4 },
  { index: 'observations_cell_0_5', perDegree: 0.5 },
  { index: 'observations_cell_0_0625', perDegree: 0.0625 },
]

/**
 * The finest level whose cover of the box is at most this many cells. Every cell is one arm of a merge, and
 * an arm costs a B-tree descent even when it holds nothing: measured at 1M rows, covers of up to 4–9 cells
 * answered in ~0.2 ms, of up to 36 in ~0.4 ms, of up to 144 in ~2 ms. A coarser level reads more entries
 * outside the box instead, which is cheaper up to about this size.
 */
export const MAX_CELLS = 9
/** At the top level a box may take this many cells (a box up to about a quarter of the world) before the
 * time walk (observations_time_place) becomes the better bet: most of the data is in such a box anyway. */
export const MAX_CELLS_TOP = 64

/** The SQL expression of a row's cell at a level: the text of its index's expression, character for character. */
export function cellExpression(level: CellLevel): string {
  return `(cast((lat + 90) * ${level.perDegree} as integer) * 65536 + cast((lon + 180) * ${level.perDegree} as integer))`
}

export interface CellCover {
  level: CellLevel
  /** The cells, each once; a box across the antimeridian takes cells from both ends of the map. */
  cells: number[]
}

/** The cells that cover a box at the finest level that keeps the cover small; null for a box too large for any. */
export function coverBox(bbox: BBox): CellCover | null {
  const [west, south, east, north] = bbox
  // A box with an unknown side holds no row (the API refuses one; the repository answers it with nothing).
  if (bbox.some(Number.isNaN)) return { level: CELL_LEVELS[0]!, cells: [] }
  // Across the antimeridian (west > east): two spans of longitude.
  const spans: [number, number][] = west <= east ? [[west, east]] : [[west, 180], [-180, east]]
  for (const [i, level] of CELL_LEVELS.entries()) {
    const limit = i === CELL_LEVELS.length - 1 ? MAX_CELLS_TOP : MAX_CELLS
    const y0 = cellIndex(south, 90, level)
    const y1 = cellIndex(north, 90, level)
    const xs = spans.map(([w, e]) => [cellIndex(w, 180, level), cellIndex(e, 180, level)] as const)
    const columns = new Set<number>()
    for (const [x0, x1] of xs) for (let x = x0; x <= x1 && columns.size <= limit; x++) columns.add(x)
    if ((y1 - y0 + 1) * columns.size > limit) continue
    const cells: number[] = []
    for (let y = y0; y <= y1; y++) for (const x of columns) cells.push(y * 65536 + x)
    return { level, cells }
  }
  return null
}

/** A coordinate's row or column of cells, clamped to the map so that a stray value cannot make a huge range. */
function cellIndex(value: number, offset: number, level: CellLevel): number {
  const clamped = Math.min(Math.max(value, -offset), offset)
  return Math.trunc((clamped + offset) * level.perDegree)
}
