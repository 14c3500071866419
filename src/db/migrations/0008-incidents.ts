import { type Kysely, sql } from 'kysely'
import type { DialectName } from '../dialect/dialect-adapter.ts'

/**
 * Incidents (the register's coded events), the parties acting in them, the observations behind them,
 * their version history and comments; and the consent summary observations keep beside their sealed part.
 *
 * Search (src/db/repositories/incident-search.ts) drives each list from the index that narrows it most:
 * - words: SQLite FTS5 (contentless, keyed by search_key, kept by triggers) or a PostgreSQL GIN index on the
 *   'simple' tsvector of narrative and place name (an expression index, not a stored column: dumps then
 *   carry no derived data);
 * - a party: incident_actors carries each incident's time and search point, so its index answers
 *   party + time + box without reading incident rows until they match;
 * - a box: as observations (0002): an R*Tree over place and day on SQLite, a GiST over the point on
 *   PostgreSQL, and a time index carrying the point;
 * - a status alone (the public view: published): an index on (status, time).
 */
export async function up(db: Kysely<any>, dialect: DialectName): Promise<void> {
  await db.schema.alterTable('observations').addColumn('consent_publication', 'integer', (c) => c.notNull().defaultTo(0)).execute()
  await db.schema.alterTable('observations').addColumn('consent_partners', 'integer', (c) => c.notNull().defaultTo(0)).execute()
  await db.schema.alterTable('observations').addColumn('consent_court', 'integer', (c) => c.notNull().defaultTo(0)).execute()
  // Nobody named: nobody's consent is needed. Where people are named, their consent is sealed and cannot be
  // read here: those stay at 0 (refused) until the consent is recorded again.
  await sql`update observations set consent_publication = 1, consent_partners = 1, consent_court = 1 where restricted is null`.execute(db)

  await db.schema
    .createTable('incidents')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('status_reason', 'text')
    .addColumn('event_type', 'text', (c) => c.notNull())
    .addColumn('sub_event_type', 'text', (c) => c.notNull())
    .addColumn('actors', 'text', (c) => c.notNull())
    .addColumn('civilian_targeting', 'integer', (c) => c.notNull())
    .addColumn('occurred_at', 'bigint', (c) => c.notNull())
    .addColumn('search_key', 'bigint', (c) => c.notNull().unique())
    .addColumn('time_precision', 'integer', (c) => c.notNull())
    .addColumn('lat', 'double precision')
    .addColumn('lon', 'double precision')
    .addColumn('public_lat', 'double precision')
    .addColumn('public_lon', 'double precision')
    .addColumn('public_area_pcode', 'text')
    .addColumn('place_name', 'text', (c) => c.notNull())
    .addColumn('admin1_pcode', 'text')
    .addColumn('admin1_name', 'text')
    .addColumn('admin2_pcode', 'text')
    .addColumn('admin2_name', 'text')
    .addColumn('geo_precision', 'integer', (c) => c.notNull())
    .addColumn('sensitive', 'integer', (c) => c.notNull())
    .addColumn('counts', 'text', (c) => c.notNull())
    .addColumn('narrative', 'text', (c) => c.notNull())
    .addColumn('languages', 'text', (c) => c.notNull())
    .addColumn('sources', 'text', (c) => c.notNull())
    .addColumn('restricted', 'text')
    .addColumn('data_key_id', 'text')
    .addColumn('created_by', 'text', (c) => c.notNull().references('users.id'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_by', 'text', (c) => c.notNull().references('users.id'))
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addColumn('verified_by', 'text', (c) => c.references('users.id'))
    .addColumn('verified_at', 'bigint')
    .addColumn('published_by', 'text', (c) => c.references('users.id'))
    .addColumn('published_at', 'bigint')
    .addColumn('lock_holder', 'text', (c) => c.references('users.id'))
    .addColumn('lock_expires_at', 'bigint')
    .execute()
  await db.schema.createIndex('incidents_time_place').on('incidents').columns(['occurred_at', 'id', 'lat', 'lon']).execute()
  await db.schema.createIndex('incidents_status_time').on('incidents').columns(['status', 'occurred_at', 'id']).execute()

  await db.schema
    .createTable('incident_actors')
    .addColumn('incident_id', 'text', (c) => c.notNull().references('incidents.id').onDelete('cascade'))
    .addColumn('party_id', 'text', (c) => c.notNull().references('parties.id'))
    .addColumn('associated_with', 'text')
    .addColumn('occurred_at', 'bigint', (c) => c.notNull())
    .addColumn('lat', 'double precision')
    .addColumn('lon', 'double precision')
    .addPrimaryKeyConstraint('incident_actors_pk', ['incident_id', 'party_id'])
    .execute()
  await db.schema.createIndex('incident_actors_party_time').on('incident_actors').columns(['party_id', 'occurred_at', 'incident_id', 'lat', 'lon']).execute()

  await db.schema
    .createTable('incident_observations')
    .addColumn('incident_id', 'text', (c) => c.notNull().references('incidents.id').onDelete('cascade'))
    .addColumn('observation_id', 'text', (c) => c.notNull().references('observations.id'))
    .addColumn('position', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('incident_observations_pk', ['incident_id', 'observation_id'])
    .execute()
  await db.schema.createIndex('incident_observations_observation').on('incident_observations').column('observation_id').execute()

  await db.schema
    .createTable('incident_versions')
    .addColumn('incident_id', 'text', (c) => c.notNull().references('incidents.id').onDelete('cascade'))
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('changed_by', 'text', (c) => c.notNull().references('users.id'))
    .addColumn('changed_at', 'bigint', (c) => c.notNull())
    .addColumn('changes', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('incident_versions_pk', ['incident_id', 'version'])
    .execute()

  await db.schema
    .createTable('incident_comments')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('incident_id', 'text', (c) => c.notNull().references('incidents.id').onDelete('cascade'))
    .addColumn('author_id', 'text', (c) => c.notNull().references('users.id'))
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute()
  await db.schema.createIndex('incident_comments_incident').on('incident_comments').columns(['incident_id', 'id']).execute()

  if (dialect === 'sqlite') {
    // As observations_rtree (0002): place and day, entries carrying exact copies, matched by incident_id.
    await sql`create virtual table incidents_rtree using rtree(entry, min_lat, max_lat, min_lon, max_lon, min_day, max_day, +incident_id, +lat, +lon, +occurred_at)`.execute(db)
    const add = (row: 'new') =>
      sql.raw(
        `insert into incidents_rtree (min_lat, max_lat, min_lon, max_lon, min_day, max_day, incident_id, lat, lon, occurred_at) ` +
          `select ${row}.lat, ${row}.lat, ${row}.lon, ${row}.lon, ${row}.occurred_at / 86400000.0, ${row}.occurred_at / 86400000.0, ${row}.id, ${row}.lat, ${row}.lon, ${row}.occurred_at`,
      )
    const remove = sql.raw(
      `delete from incidents_rtree where entry in (select entry from incidents_rtree where min_lat <= old.lat and max_lat >= old.lat ` +
        `and min_lon <= old.lon and max_lon >= old.lon and min_day <= old.occurred_at / 86400000.0 and max_day >= old.occurred_at / 86400000.0 ` +
        `and incident_id = old.id)`,
    )
    await sql`create trigger incidents_rtree_insert after insert on incidents when new.lat is not null and new.lon is not null begin ${add('new')}; end`.execute(db)
    await sql`create trigger incidents_rtree_delete after delete on incidents when old.lat is not null and old.lon is not null begin ${remove}; end`.execute(db)
    await sql`create trigger incidents_rtree_update after update of id, lat, lon, occurred_at on incidents begin
      ${remove} and old.lat is not null and old.lon is not null;
      ${add('new')} where new.lat is not null and new.lon is not null;
    end`.execute(db)

    // Contentless (the text stays in incidents), its rowid the incident's search_key: a key in time order
    // (src/db/repositories/incident-search-key.ts), so a search walks matches newest first and stops at a
    // page instead of sorting every match. unicode61 with diacritics removed, so "Bénin" finds "Benin";
    // restricted fields are never indexed. contentless_delete lets a row leave the index by rowid alone.
    await sql`create virtual table incidents_fts using fts5(narrative, place_name, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2')`.execute(db)
    await sql`create trigger incidents_fts_insert after insert on incidents begin
      insert into incidents_fts (rowid, narrative, place_name) values (new.search_key, new.narrative, new.place_name);
    end`.execute(db)
    await sql`create trigger incidents_fts_delete after delete on incidents begin
      delete from incidents_fts where rowid = old.search_key;
    end`.execute(db)
    await sql`create trigger incidents_fts_update after update of narrative, place_name, search_key on incidents begin
      delete from incidents_fts where rowid = old.search_key;
      insert into incidents_fts (rowid, narrative, place_name) values (new.search_key, new.narrative, new.place_name);
    end`.execute(db)
  } else {
    await sql`create index incidents_place_gist on incidents using gist (point(lon, lat)) include (occurred_at, id, lat, lon)`.execute(db)
    // 'simple' keeps words as written (no language's stemming: narratives come in many), lower-cased; the
    // Latin letters with diacritics fold to their base first, as SQLite's remove_diacritics does, so
    // "Bénin" finds "Benin" on both databases. (unaccent would need an extension, so a superuser.)
    const { from, to } = latinFolds()
    await sql`create function louder_fold(text) returns text language sql immutable parallel safe as ${sql.raw(`$$ select translate($1, '${from}', '${to}') $$`)}`.execute(db)
    await sql`create index incidents_search on incidents using gin (to_tsvector('simple', louder_fold(narrative || ' ' || place_name)))`.execute(db)
  }
}

/** Latin letters U+00C0–U+024F whose decomposition is one ASCII letter plus marks, and those letters. */
function latinFolds(): { from: string; to: string } {
  let from = ''
  let to = ''
  for (let cp = 0xc0; cp < 0x250; cp++) {
    const c = String.fromCodePoint(cp)
    const base = c.normalize('NFD').replace(/\p{M}/gu, '')
    if (base !== c && /^[A-Za-z]$/.test(base)) {
      from += c
      to += base
    }
  }
  return { from, to }
}
