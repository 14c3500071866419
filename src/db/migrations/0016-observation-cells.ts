import { type Kysely, sql } from 'kysely'
import type { DialectName } from '../dialect/dialect-adapter.ts'

/**
 * SQLite: observations are found by box and window through a grid of cells at four scales
 * (src/db/repositories/place-cells.ts) instead of the R*Tree and its probe (0002). One index per scale on
 * (cell, occurred_at, id, lat, lon): the cells covering a box are merged newest first, each read within the
 * window only. At 1M rows a page took ~0.2 ms to find instead of ~0.5 ms (bench/README.md, `api`). The
 * entries carry the rowid, so the page's rows are read without the id index. The tree, its shadow tables
 * and its triggers go: nothing else read them. The expressions are frozen here as SQLite matches them
 * literally; test/db/observation-cells.test.ts checks they are the ones the repository queries.
 * PostgreSQL keeps its GiST (0002).
 */
const LEVELS = [
  ['observations_cell_32', '32'],
  ['observations_cell_4', '4'],
  ['observations_cell_0_5', '0.5'],
  ['observations_cell_0_0625', '0.0625'],
] as const

export async function up(db: Kysely<any>, dialect: DialectName): Promise<void> {
  if (dialect !== 'sqlite') return
  for (const [name, perDegree] of LEVELS)
    await sql
      .raw(`create index ${name} on observations ((cast((lat + 90) * ${perDegree} as integer) * 65536 + cast((lon + 180) * ${perDegree} as integer)), occurred_at, id, lat, lon)`)
      .execute(db)
  await sql`drop trigger observations_rtree_insert`.execute(db)
  await sql`drop trigger observations_rtree_delete`.execute(db)
  await sql`drop trigger observations_rtree_update`.execute(db)
  await sql`drop table observations_rtree`.execute(db)
}
