import { type Kysely, sql } from 'kysely'
import type { BackingObservation, Counts, EditLock, GeoPrecision, Incident, IncidentActor, IncidentStatus, TimePrecision } from '../../core/incidents/incident.ts'
import type { ObservationSource } from '../../core/observations/observation.ts'
import type { IncidentRepository } from '../../core/ports/repositories.ts'
import type { DialectName } from '../dialect/dialect-adapter.ts'
import type { Database, IncidentActorsTable, IncidentsTable } from '../schema.ts'
import { listIncidentRows } from './incident-search.ts'
import { allocateSearchKeys, secondOf } from './incident-search-key.ts'

// Parameter limits (SQLite 32766, PostgreSQL 65535) cap one statement at a few hundred incident rows.
const INSERT_CHUNK = 500

export function incidentRepository(db: Kysely<Database>, dialect: DialectName): IncidentRepository {
  /** Fills each incident's observation links (one query for the page). */
  async function withLinks(rows: IncidentsTable[]): Promise<Incident[]> {
    if (rows.length === 0) return []
    const links = await db
      .selectFrom('incident_observations')
      .select(['incident_id', 'observation_id'])
      .where('incident_id', 'in', rows.map((r) => r.id))
      .orderBy('incident_id')
      .orderBy('position')
      .execute()
    const byIncident = new Map<string, string[]>()
    for (const l of links) byIncident.set(l.incident_id, [...(byIncident.get(l.incident_id) ?? []), l.observation_id])
    return rows.map((r) => fromRow(r, byIncident.get(r.id) ?? []))
  }

  async function insertLinks(incidentId: string, observationIds: string[], from: number): Promise<void> {
    if (observationIds.length === 0) return
    await db
      .insertInto('incident_observations')
      .values(observationIds.map((observation_id, i) => ({ incident_id: incidentId, observation_id, position: from + i })))
      .execute()
  }

  return {
    async insert(incident) {
      const [key] = await allocateSearchKeys(db, dialect, [incident.occurredAt])
      await db.insertInto('incidents').values(toRow(incident, key!)).execute()
      await db.insertInto('incident_actors').values(actorRows(incident)).execute()
      await insertLinks(incident.id, incident.observationIds, 0)
    },
    async insertMany(incidents) {
      const keys = await allocateSearchKeys(db, dialect, incidents.map((i) => i.occurredAt))
      const rows = incidents.map((inc, k) => toRow(inc, keys[k]!))
      if (dialect === 'postgres') {
        // One statement per table: columns as arrays, unnested by the server (VALUES would need 39 parameters a row).
        await unnestInsert(db, 'incidents', INCIDENT_COLUMN_TYPES, rows)
        await unnestInsert(db, 'incident_actors', ACTOR_COLUMN_TYPES, incidents.flatMap(actorRows))
        const links = incidents.flatMap((inc) => inc.observationIds.map((observation_id, position) => ({ incident_id: inc.id, observation_id, position })))
        if (links.length) await db.insertInto('incident_observations').values(links).execute()
        return
      }
      for (let i = 0; i < incidents.length; i += INSERT_CHUNK) {
        const chunk = incidents.slice(i, i + INSERT_CHUNK)
        await db.insertInto('incidents').values(rows.slice(i, i + INSERT_CHUNK)).execute()
        const actors = chunk.flatMap(actorRows)
        for (let j = 0; j < actors.length; j += 2000) await db.insertInto('incident_actors').values(actors.slice(j, j + 2000)).execute()
        const links = chunk.flatMap((inc) => inc.observationIds.map((observation_id, position) => ({ incident_id: inc.id, observation_id, position })))
        if (links.length) await db.insertInto('incident_observations').values(links).execute()
      }
    },
    async byId(id) {
      const row = await db.selectFrom('incidents').selectAll().where('id', '=', id).executeTakeFirst()
      return row ? (await withLinks([row]))[0]! : null
    },
    async update(incident, expectedVersion) {
      const stored = await db.selectFrom('incidents').select(['occurred_at', 'search_key']).where('id', '=', incident.id).executeTakeFirst()
      if (!stored) return false
      // The key changes only when the incident moves to another second (keys sort by second, not within one).
      const key = secondOf(Number(stored.occurred_at)) === secondOf(incident.occurredAt) ? Number(stored.search_key) : (await allocateSearchKeys(db, dialect, [incident.occurredAt]))[0]!
      const { id, lock_holder: _h, lock_expires_at: _e, created_at: _c, created_by: _b, ...content } = toRow(incident, key)
      const result = await db.updateTable('incidents').set(content).where('id', '=', id).where('version', '=', expectedVersion).executeTakeFirst()
      if (Number(result.numUpdatedRows) === 0) return false
      // The party index carries time and point: rewrite the incident's entries with the row.
      await db.deleteFrom('incident_actors').where('incident_id', '=', id).execute()
      await db.insertInto('incident_actors').values(actorRows(incident)).execute()
      return true
    },
    async updatePlacement(incident, version) {
      const r = toRow(incident, 0)
      const placement = {
        lat: r.lat, lon: r.lon, public_lat: r.public_lat, public_lon: r.public_lon, public_area_pcode: r.public_area_pcode,
        admin1_pcode: r.admin1_pcode, admin1_name: r.admin1_name, admin2_pcode: r.admin2_pcode, admin2_name: r.admin2_name,
      }
      const result = await db.updateTable('incidents').set(placement).where('id', '=', incident.id).where('version', '=', version).executeTakeFirst()
      if (Number(result.numUpdatedRows) === 0) return false
      await db.updateTable('incident_actors').set({ lat: r.lat, lon: r.lon }).where('incident_id', '=', incident.id).execute()
      return true
    },
    async pageById(afterId, limit) {
      let q = db.selectFrom('incidents').selectAll()
      if (afterId !== null) q = q.where('id', '>', afterId)
      return withLinks(await q.orderBy('id').limit(limit).execute())
    },
    async setLock(id, lock, expected) {
      let q = db
        .updateTable('incidents')
        .set({ lock_holder: lock?.holder ?? null, lock_expires_at: lock?.expiresAt ?? null })
        .where('id', '=', id)
      q = expected ? q.where('lock_holder', '=', expected.holder).where('lock_expires_at', '=', expected.expiresAt) : q.where('lock_holder', 'is', null)
      const result = await q.executeTakeFirst()
      return Number(result.numUpdatedRows) > 0
    },
    async linkObservations(incidentId, observationIds) {
      const row = await db
        .selectFrom('incident_observations')
        .select((eb) => eb.fn.max('position').as('last'))
        .where('incident_id', '=', incidentId)
        .executeTakeFirst()
      const last = row?.last === null || row?.last === undefined ? -1 : Number(row.last)
      await insertLinks(incidentId, observationIds, last + 1)
    },
    async list(query) {
      return withLinks(await listIncidentRows(db, dialect, query))
    },
    async backingObservations(incidentIds) {
      const result = new Map<string, BackingObservation[]>()
      if (incidentIds.length === 0) return result
      const rows = await db
        .selectFrom('incident_observations as l')
        .innerJoin('observations as o', 'o.id', 'l.observation_id')
        .select(['l.incident_id', 'o.id', 'o.media', 'o.consent_publication', 'o.consent_partners', 'o.consent_court'])
        .where('l.incident_id', 'in', incidentIds)
        .orderBy('l.incident_id')
        .orderBy('l.position')
        .execute()
      for (const r of rows) {
        const list = result.get(r.incident_id) ?? []
        list.push({
          id: r.id,
          media: JSON.parse(r.media) as string[],
          consent: { publication: Number(r.consent_publication) === 1, partners: Number(r.consent_partners) === 1, court: Number(r.consent_court) === 1 },
        })
        result.set(r.incident_id, list)
      }
      return result
    },
    async addVersion(v) {
      await db
        .insertInto('incident_versions')
        .values({ incident_id: v.incidentId, version: v.version, action: v.action, changed_by: v.changedBy, changed_at: v.changedAt, changes: JSON.stringify(v.changes) })
        .execute()
    },
    async versions(incidentId, page) {
      let q = db.selectFrom('incident_versions').selectAll().where('incident_id', '=', incidentId)
      if (page.before !== undefined) q = q.where('version', '<', page.before)
      const rows = await q.orderBy('version', 'desc').limit(page.limit + 1).execute()
      return rows.map((r) => ({
        incidentId: r.incident_id,
        version: Number(r.version),
        action: r.action as 'created',
        changedBy: r.changed_by,
        changedAt: Number(r.changed_at),
        changes: JSON.parse(r.changes) as Record<string, [unknown, unknown]>,
      }))
    },
    async addComment(c) {
      await db.insertInto('incident_comments').values({ id: c.id, incident_id: c.incidentId, author_id: c.authorId, body: c.body, created_at: c.createdAt }).execute()
    },
    async comments(incidentId, page) {
      let q = db.selectFrom('incident_comments').selectAll().where('incident_id', '=', incidentId)
      if (page.after !== undefined) q = q.where('id', '>', page.after)
      const rows = await q.orderBy('id').limit(page.limit + 1).execute()
      return rows.map((r) => ({ id: r.id, incidentId: r.incident_id, authorId: r.author_id, body: r.body, createdAt: Number(r.created_at) }))
    },
    async count() {
      const row = await db.selectFrom('incidents').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()
      return Number(row.n)
    },
  }
}

/** PostgreSQL array types of each column, for unnest. */
const INCIDENT_COLUMN_TYPES: Record<keyof IncidentsTable, string> = {
  id: 'text', version: 'int4', status: 'text', status_reason: 'text', event_type: 'text', sub_event_type: 'text', actors: 'text',
  civilian_targeting: 'int4', occurred_at: 'int8', search_key: 'int8', time_precision: 'int4', lat: 'float8', lon: 'float8', public_lat: 'float8',
  public_lon: 'float8', public_area_pcode: 'text', place_name: 'text', admin1_pcode: 'text', admin1_name: 'text', admin2_pcode: 'text',
  admin2_name: 'text', geo_precision: 'int4', sensitive: 'int4', counts: 'text', narrative: 'text', languages: 'text', sources: 'text',
  restricted: 'text', data_key_id: 'text', created_by: 'text', created_at: 'int8', updated_by: 'text', updated_at: 'int8',
  verified_by: 'text', verified_at: 'int8', published_by: 'text', published_at: 'int8', lock_holder: 'text', lock_expires_at: 'int8',
}
const ACTOR_COLUMN_TYPES: Record<keyof IncidentActorsTable, string> = { incident_id: 'text', party_id: 'text', associated_with: 'text', occurred_at: 'int8', lat: 'float8', lon: 'float8' }

async function unnestInsert<R extends object>(db: Kysely<Database>, table: string, types: Record<keyof R, string>, rows: R[]): Promise<void> {
  if (rows.length === 0) return
  const columns = Object.keys(types) as (keyof R & string)[]
  const arrays = columns.map((c) => sql`${rows.map((r) => r[c])}::${sql.raw(types[c])}[]`)
  await sql`insert into ${sql.table(table)} (${sql.join(columns.map((c) => sql.ref(c)))}) select * from unnest(${sql.join(arrays)})`.execute(db)
}

/** One entry per party named, actor or associated group, each carrying the incident's time and search point. */
function actorRows(i: Incident): IncidentActorsTable[] {
  const common = { incident_id: i.id, occurred_at: i.occurredAt, lat: i.searchPoint?.lat ?? null, lon: i.searchPoint?.lon ?? null }
  return i.actors.flatMap((a) => [{ ...common, party_id: a.partyId, associated_with: null }, ...a.associated.map((p) => ({ ...common, party_id: p, associated_with: a.partyId }))])
}

/** The row of an incident; `searchKey` comes from allocateSearchKeys (placement-only writes ignore it). */
function toRow(i: Incident, searchKey: number): IncidentsTable {
  return {
    id: i.id,
    search_key: searchKey,
    version: i.version,
    status: i.status,
    status_reason: i.statusReason,
    event_type: i.eventType,
    sub_event_type: i.subEventType,
    actors: JSON.stringify(i.actors),
    civilian_targeting: i.civilianTargeting ? 1 : 0,
    occurred_at: i.occurredAt,
    time_precision: i.timePrecision,
    lat: i.searchPoint?.lat ?? null,
    lon: i.searchPoint?.lon ?? null,
    public_lat: i.publicPoint?.lat ?? null,
    public_lon: i.publicPoint?.lon ?? null,
    public_area_pcode: i.publicPoint?.areaPcode ?? null,
    place_name: i.placeName,
    admin1_pcode: i.admin1?.pcode ?? null,
    admin1_name: i.admin1?.name ?? null,
    admin2_pcode: i.admin2?.pcode ?? null,
    admin2_name: i.admin2?.name ?? null,
    geo_precision: i.geoPrecision,
    sensitive: i.sensitive ? 1 : 0,
    counts: JSON.stringify(i.counts),
    narrative: i.narrative,
    languages: JSON.stringify(i.languages),
    sources: JSON.stringify(i.sources),
    restricted: i.sealed?.value ?? null,
    data_key_id: i.sealed?.dataKeyId ?? null,
    created_by: i.createdBy,
    created_at: i.createdAt,
    updated_by: i.updatedBy,
    updated_at: i.updatedAt,
    verified_by: i.verifiedBy,
    verified_at: i.verifiedAt,
    published_by: i.publishedBy,
    published_at: i.publishedAt,
    lock_holder: i.lock?.holder ?? null,
    lock_expires_at: i.lock?.expiresAt ?? null,
  }
}

const num = (v: number | null) => (v === null ? null : Number(v))

function fromRow(r: IncidentsTable, observationIds: string[]): Incident {
  const sensitive = Number(r.sensitive) === 1
  const searchPoint = r.lat === null || r.lon === null ? null : { lat: r.lat, lon: r.lon }
  return {
    id: r.id,
    version: Number(r.version),
    status: r.status as IncidentStatus,
    statusReason: r.status_reason,
    eventType: r.event_type,
    subEventType: r.sub_event_type,
    actors: JSON.parse(r.actors) as IncidentActor[],
    civilianTargeting: Number(r.civilian_targeting) === 1,
    occurredAt: Number(r.occurred_at),
    timePrecision: Number(r.time_precision) as TimePrecision,
    location: sensitive ? null : searchPoint,
    searchPoint,
    publicPoint: r.public_lat === null || r.public_lon === null || r.public_area_pcode === null ? null : { lat: r.public_lat, lon: r.public_lon, areaPcode: r.public_area_pcode },
    placeName: r.place_name,
    admin1: r.admin1_pcode === null ? null : { pcode: r.admin1_pcode, name: r.admin1_name ?? '' },
    admin2: r.admin2_pcode === null ? null : { pcode: r.admin2_pcode, name: r.admin2_name ?? '' },
    geoPrecision: Number(r.geo_precision) as GeoPrecision,
    sensitive,
    counts: JSON.parse(r.counts) as Counts,
    narrative: r.narrative,
    languages: JSON.parse(r.languages) as string[],
    sources: JSON.parse(r.sources) as ObservationSource[],
    observationIds,
    sealed: r.restricted === null || r.data_key_id === null ? null : { value: r.restricted, dataKeyId: r.data_key_id },
    createdBy: r.created_by,
    createdAt: Number(r.created_at),
    updatedBy: r.updated_by,
    updatedAt: Number(r.updated_at),
    verifiedBy: r.verified_by,
    verifiedAt: num(r.verified_at),
    publishedBy: r.published_by,
    publishedAt: num(r.published_at),
    lock: r.lock_holder === null || r.lock_expires_at === null ? null : ({ holder: r.lock_holder, expiresAt: Number(r.lock_expires_at) } satisfies EditLock),
  }
}

