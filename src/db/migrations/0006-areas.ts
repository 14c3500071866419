import { type Kysely, sql } from 'kysely'

/**
 * Administrative areas (ADM1, ADM2) imported from COD-AB or geoBoundaries files. The boundary is kept as
 * GeoJSON text and tested in JavaScript; the bounding box columns let SQL narrow a point lookup to the few
 * areas whose box holds it, on both databases alike (no PostGIS, no SpatiaLite). `rep_lat`/`rep_lon` is the
 * point generalised locations show.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('areas')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('level', 'integer', (c) => c.notNull().check(sql`level in (1, 2)`))
    .addColumn('pcode', 'text', (c) => c.notNull().unique())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('parent_pcode', 'text')
    .addColumn('geometry', 'text', (c) => c.notNull())
    .addColumn('min_lat', 'double precision', (c) => c.notNull())
    .addColumn('max_lat', 'double precision', (c) => c.notNull())
    .addColumn('min_lon', 'double precision', (c) => c.notNull())
    .addColumn('max_lon', 'double precision', (c) => c.notNull())
    .addColumn('rep_lat', 'double precision', (c) => c.notNull())
    .addColumn('rep_lon', 'double precision', (c) => c.notNull())
    .addColumn('area_deg2', 'double precision', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('imported_at', 'bigint', (c) => c.notNull())
    .execute()
  await db.schema.createIndex('areas_box').on('areas').columns(['min_lat', 'max_lat', 'min_lon', 'max_lon']).execute()
  await db.schema.createIndex('areas_level').on('areas').columns(['level', 'pcode']).execute()
  await db.schema.createIndex('areas_parent').on('areas').columns(['parent_pcode', 'pcode']).execute()
}
