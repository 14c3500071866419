import { type Kysely, sql } from 'kysely'
import type { DialectName } from '../dialect/dialect-adapter.ts'

/**
 * A page of observations in a box and a time window, newest first, must not cost a scan of the whole window
 * or the whole box (src/db/repositories/observation.repository.ts picks one path per query): a spatial index
 * for sparse questions, and a time index that carries the place, so that walking it for dense questions
 * reads no table rows until they match. Replaces 0001's observations_time (a prefix of the new time index)
 * and observations_place (which scanned whole latitude bands).
 */
export async function up(db: Kysely<any>, dialect: DialectName): Promise<void> {
  await db.schema.createIndex('observations_time_place').on('observations').columns(['occurred_at', 'id', 'lat', 'lon']).execute()
  await db.schema.dropIndex('observations_time').execute()
  await db.schema.dropIndex('observations_place').execute()
  if (dialect === 'sqlite') {
    // An R*Tree over (lat, lon, day), its entries carrying exact copies of the columns so that a page is chosen
    // from the tree alone. Time is in days, not ms: the R* split compares extents across axes, and in ms every
    // node would be a thin slice of time spanning the whole map. The tree stores 32-bit floats rounded
    // outwards, so it is a superset filter; queries re-check the exact columns. Entries are matched to rows by
    // observation_id, not by rowid, which VACUUM may renumber in a table without an INTEGER PRIMARY KEY.
    // Triggers keep the tree in step with the table; backups leave it out (listTables) and restores rebuild it.
    await sql`create virtual table observations_rtree using rtree(entry, min_lat, max_lat, min_lon, max_lon, min_day, max_day, +observation_id, +lat, +lon, +occurred_at)`.execute(db)
    const add = (row: 'new' | 'o') =>
      sql.raw(
        `insert into observations_rtree (min_lat, max_lat, min_lon, max_lon, min_day, max_day, observation_id, lat, lon, occurred_at) ` +
          `select ${row}.lat, ${row}.lat, ${row}.lon, ${row}.lon, ${row}.occurred_at / 86400000.0, ${row}.occurred_at / 86400000.0, ${row}.id, ${row}.lat, ${row}.lon, ${row}.occurred_at`,
      )
    // Found through the tree by its point, then told apart by id: a search, not a scan of the tree.
    const remove = sql.raw(
      `delete from observations_rtree where entry in (select entry from observations_rtree where min_lat <= old.lat and max_lat >= old.lat ` +
        `and min_lon <= old.lon and max_lon >= old.lon and min_day <= old.occurred_at / 86400000.0 and max_day >= old.occurred_at / 86400000.0 ` +
        `and observation_id = old.id)`,
    )
    await sql`${add('o')} from observations o where o.lat is not null and o.lon is not null`.execute(db)
    await sql`create trigger observations_rtree_insert after insert on observations when new.lat is not null and new.lon is not null begin ${add('new')}; end`.execute(db)
    await sql`create trigger observations_rtree_delete after delete on observations when old.lat is not null and old.lon is not null begin ${remove}; end`.execute(db)
    await sql`create trigger observations_rtree_update after update of id, lat, lon, occurred_at on observations begin
      ${remove} and old.lat is not null and old.lon is not null;
      ${add('new')} where new.lat is not null and new.lon is not null;
    end`.execute(db)
  } else {
    // PostgreSQL has no three-dimensional index without an extension: a 2-D GiST over the place, carrying the
    // columns a query re-checks so that it answers from the index alone (index-only scans).
    await sql`create index observations_place_gist on observations using gist (point(lon, lat)) include (occurred_at, id, lat, lon)`.execute(db)
  }
}
