import { sql } from 'kysely'
import { beforeEach, describe, expect, it } from 'vitest'
import { uuidv7 } from '../../src/core/ids.ts'
import type { BBox, Observation } from '../../src/core/observations/observation.ts'
import type { Store, User } from '../../src/core/ports/repositories.ts'
import type { DialectAdapter } from '../../src/db/dialect/dialect-adapter.ts'
import { migrations } from '../../src/db/migrations.ts'
import { makeStore } from '../../src/db/store.ts'
import { spawnDbChildren } from '../support/db-children.ts'
import { anObservation } from '../support/observations.ts'
import { forEachDialect } from '../support/dialects.ts'

const T0 = Date.UTC(2025, 0, 1)

function user(overrides: Partial<User> = {}): User {
  const id = uuidv7()
  return {
    id,
    email: `${id}@example.org`,
    displayName: 'Test Person',
    roles: [],
    orgId: null,
    mustChangePassword: false,
    createdAt: T0,
    disabledAt: null,
    twoFactorEnabled: false,
    ...overrides,
  }
}

/** The order every observation list promises: newest first, ties broken by id, descending. */
function newestFirst(a: Observation, b: Observation): number {
  return b.occurredAt - a.occurredAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0)
}

async function caught(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (err) {
    return err
  }
  throw new Error('expected the promise to reject')
}

forEachDialect('repositories', (dialect) => {
  let db: DialectAdapter
  let store: Store
  let author: User

  beforeEach(async () => {
    db = await dialect.open()
    store = makeStore(db)
    author = user({ roles: ['researcher'] })
    await store.repos.users.insert(author, null)
  })

  it('reports its dialect', () => {
    expect(db.name).toBe(dialect.name)
    expect(store.dialect).toBe(dialect.name)
    expect(db.describe()).toContain(dialect.name)
  })

  describe('users', () => {
    it('stores a user with roles and reads it back by id', async () => {
      const u = user({ roles: ['researcher', 'admin'], mustChangePassword: true, displayName: 'Amal Haddad' })
      await store.repos.users.insert(u, 'argon2-hash')
      expect(await store.repos.users.byId(u.id)).toEqual({ ...u, roles: ['admin', 'researcher'] })
      expect(await store.repos.users.byId(uuidv7())).toBeNull()
      expect(await store.repos.users.count()).toBe(2)
    })

    it('finds a user by e-mail whatever its case, with the password hash', async () => {
      const u = user({ email: 'Amal.Haddad@Example.ORG' })
      await store.repos.users.insert(u, 'argon2-hash')
      const found = await store.repos.users.byEmail('AMAL.haddad@example.org')
      expect(found).toMatchObject({ id: u.id, email: 'amal.haddad@example.org', passwordHash: 'argon2-hash', roles: [] })
      expect(await store.repos.users.byEmail('nobody@example.org')).toBeNull()
    })

    it('refuses a second user with the same e-mail, as a unique violation', async () => {
      await store.repos.users.insert(user({ email: 'same@example.org' }), null)
      const err = await caught(store.repos.users.insert(user({ email: 'SAME@example.org' }), null))
      expect(db.isUniqueViolation(err)).toBe(true)
      expect(await store.repos.users.count()).toBe(2)
    })

    it('does not call other constraint failures unique violations', async () => {
      const err = await caught(store.repos.tokens.insert({ id: uuidv7(), userId: uuidv7(), name: 'orphan', roles: null, createdAt: T0, expiresAt: null, revokedAt: null }, 'hash'))
      expect(db.isUniqueViolation(err)).toBe(false)
      expect(db.isUniqueViolation(new Error('plain'))).toBe(false)
      expect(db.isUniqueViolation(undefined)).toBe(false)
    })
  })

  describe('tokens', () => {
    it('finds a token and its user by hash, and records use and revocation', async () => {
      const token = { id: uuidv7(), userId: author.id, name: 'laptop', roles: null, createdAt: T0, expiresAt: T0 + 86_400_000, revokedAt: null }
      await store.repos.tokens.insert(token, 'a'.repeat(64))
      expect(await store.repos.tokens.byHash('a'.repeat(64))).toEqual({ token: { ...token, lastUsedAt: null }, user: author })
      expect(await store.repos.tokens.byHash('b'.repeat(64))).toBeNull()

      await store.repos.tokens.touch(token.id, T0 + 5)
      expect((await store.repos.tokens.byHash('a'.repeat(64)))?.token.lastUsedAt).toBe(T0 + 5)
      await store.repos.tokens.revoke(token.id, T0 + 10)
      await store.repos.tokens.revoke(token.id, T0 + 20)
      expect((await store.repos.tokens.byHash('a'.repeat(64)))?.token.revokedAt).toBe(T0 + 10)
    })

    it('keeps the roles a token is restricted to', async () => {
      const token = { id: uuidv7(), userId: author.id, name: 'read-only', roles: ['researcher' as const], createdAt: T0, expiresAt: null, revokedAt: null }
      await store.repos.tokens.insert(token, 'c'.repeat(64))
      expect((await store.repos.tokens.byHash('c'.repeat(64)))?.token.roles).toEqual(['researcher'])
    })

    it('refuses two tokens with the same hash', async () => {
      const make = () => ({ id: uuidv7(), userId: author.id, name: 't', roles: null, createdAt: T0, expiresAt: null, revokedAt: null })
      await store.repos.tokens.insert(make(), 'd'.repeat(64))
      expect(db.isUniqueViolation(await caught(store.repos.tokens.insert(make(), 'd'.repeat(64))))).toBe(true)
    })
  })

  describe('observations', () => {
    it('stores and reads back an observation, with and without a location', async () => {
      const placed = anObservation(author.id, { location: { lat: -33.868820, lon: 151.209296 }, narrative: 'ünïcødé — نص عربي' })
      const unplaced = anObservation(author.id)
      await store.repos.observations.insert(placed)
      await store.repos.observations.insert(unplaced)
      expect(await store.repos.observations.byId(placed.id)).toEqual(placed)
      expect(await store.repos.observations.byId(unplaced.id)).toEqual(unplaced)
      expect(await store.repos.observations.byId(uuidv7())).toBeNull()
    })

    it('stores and reads back the full record: sources, urgency, language, media, the sealed restricted part', async () => {
      const full = anObservation(author.id, {
        sources: [{ type: 'witness', reliability: 'B', description: 'in person' }, { type: 'official', reliability: 'F' }],
        urgent: true,
        language: 'fr',
        media: ['0'.repeat(64)],
        sealed: { value: 'opaque sealed text', dataKeyId: uuidv7() },
        consentSummary: { publication: false, partners: true, court: true },
      })
      await store.repos.observations.insert(full)
      expect(await store.repos.observations.byId(full.id)).toEqual(full)
    })

    it("stores and reads back a field report's title, event type and parties as reported", async () => {
      const report = anObservation(author.id, {
        title: 'Shelling near the — سوق market',
        eventType: 'Explosions/Remote violence',
        parties: ['Armed group "X"', 'Civilians, local'],
      })
      await store.repos.observations.insert(report)
      expect(await store.repos.observations.byId(report.id)).toEqual(report)
      const [listed] = await store.repos.observations.list({ limit: 1 })
      expect(listed).toMatchObject({ title: report.title, eventType: report.eventType, parties: report.parties })
    })

    it('inserts many at once, past one statement\'s parameter limit', async () => {
      const many = Array.from({ length: 4_100 }, (_, i) => anObservation(author.id, { occurredAt: T0 + i }))
      await store.repos.observations.insertMany(many)
      expect(await store.repos.observations.count()).toBe(4_100)
      await store.repos.observations.insertMany([])
      expect(await store.repos.observations.count()).toBe(4_100)
    })

    it('answers limit+1 rows, so the caller can tell another page exists', async () => {
      await store.repos.observations.insertMany(Array.from({ length: 5 }, (_, i) => anObservation(author.id, { occurredAt: T0 + i })))
      expect(await store.repos.observations.list({ limit: 3 })).toHaveLength(4)
      expect(await store.repos.observations.list({ limit: 5 })).toHaveLength(5)
      expect(await store.repos.observations.list({ limit: 10 })).toHaveLength(5)
    })

    it('filters by time: from inclusive, to exclusive', async () => {
      const all = [0, 1, 2, 3, 4].map((i) => anObservation(author.id, { occurredAt: T0 + i * 1000 }))
      await store.repos.observations.insertMany(all)
      const listed = await store.repos.observations.list({ from: T0 + 1000, to: T0 + 3000, limit: 100 })
      expect(listed.map((o) => o.occurredAt)).toEqual([T0 + 2000, T0 + 1000])
    })

    it('filters by bounding box, including one across the antimeridian', async () => {
      const at = (lat: number, lon: number) => anObservation(author.id, { location: { lat, lon }, narrative: `${lat},${lon}` })
      const points = [at(0, 0), at(10, 20), at(-10, -20), at(5, 175), at(-5, -175), at(0, 180), at(0, -180), at(30, 179), at(0, 160), at(10, 170)]
      await store.repos.observations.insertMany([...points, anObservation(author.id)])
      const names = async (bbox: BBox) => (await store.repos.observations.list({ bbox, limit: 100 })).map((o) => o.narrative).sort()

      expect(await names([-20, -10, 20, 10])).toEqual(['-10,-20', '0,0', '10,20'])
      // west > east: the box runs from 170°E across 180° to 170°W.
      expect(await names([170, -10, -170, 10])).toEqual(['-5,-175', '0,-180', '0,180', '10,170', '5,175'])
      expect(await names([-180, -90, 180, 90])).toHaveLength(points.length)
    })

    it('pages newest first with a keyset cursor, ties on time broken by id', async () => {
      // Few distinct times, many rows each: most page boundaries fall inside a tie.
      const all = Array.from({ length: 47 }, (_, i) => anObservation(author.id, { occurredAt: T0 + (i % 4) * 60_000 }))
      await store.repos.observations.insertMany(all)
      const expected = [...all].sort(newestFirst).map((o) => o.id)

      const seen: string[] = []
      let after: { occurredAt: number; id: string } | undefined
      for (let pages = 0; pages < 100; pages++) {
        const rows = await store.repos.observations.list({ limit: 5, after })
        const page = rows.slice(0, 5)
        seen.push(...page.map((o) => o.id))
        if (rows.length <= 5) break
        const last = page[page.length - 1]!
        after = { occurredAt: last.occurredAt, id: last.id }
      }
      expect(seen).toEqual(expected)
    })

    it('combines keyset paging with filters', async () => {
      const inside = Array.from({ length: 7 }, (_, i) => anObservation(author.id, { occurredAt: T0 + i, location: { lat: 1, lon: 1 } }))
      const outside = Array.from({ length: 7 }, (_, i) => anObservation(author.id, { occurredAt: T0 + i, location: { lat: 50, lon: 1 } }))
      await store.repos.observations.insertMany([...inside, ...outside])
      const first = await store.repos.observations.list({ bbox: [0, 0, 2, 2], limit: 3 })
      const last = first[2]!
      const second = await store.repos.observations.list({ bbox: [0, 0, 2, 2], limit: 3, after: { occurredAt: last.occurredAt, id: last.id } })
      expect([...first.slice(0, 3), ...second].map((o) => o.id)).toEqual([...inside].sort(newestFirst).map((o) => o.id))
    })
  })

  describe('idempotency keys', () => {
    const response = { requestHash: 'h1', statusCode: 201, body: '{"id":"x"}' }

    it('saves a response and finds it by scope and key', async () => {
      expect(await store.repos.idempotency.find('user:1', 'k1')).toBeNull()
      await store.repos.idempotency.save('user:1', 'k1', response, T0)
      expect(await store.repos.idempotency.find('user:1', 'k1')).toEqual(response)
      expect(await store.repos.idempotency.find('user:2', 'k1')).toBeNull()
    })

    it('refuses a key that was taken meanwhile, as a unique violation; other scopes may reuse it', async () => {
      await store.repos.idempotency.save('user:1', 'k1', response, T0)
      const err = await caught(store.repos.idempotency.save('user:1', 'k1', { ...response, requestHash: 'h2' }, T0 + 1))
      expect(db.isUniqueViolation(err)).toBe(true)
      expect(await store.repos.idempotency.find('user:1', 'k1')).toEqual(response)
      await store.repos.idempotency.save('user:2', 'k1', response, T0)
    })

    it('forgets responses older than a time, and only those', async () => {
      for (let i = 0; i < 5; i++) await store.repos.idempotency.save('s', `k${i}`, response, T0 + i)
      expect(await store.repos.idempotency.deleteOlderThan(T0 + 3)).toBe(3)
      expect(await store.repos.idempotency.find('s', 'k2')).toBeNull()
      expect(await store.repos.idempotency.find('s', 'k3')).toEqual(response)
      expect(await store.repos.idempotency.deleteOlderThan(T0 + 3)).toBe(0)
    })
  })

  describe('meta', () => {
    it('gets, sets and overwrites a value', async () => {
      expect(await store.repos.meta.get('instance.id')).toBeNull()
      await store.repos.meta.set('instance.id', 'one')
      expect(await store.repos.meta.get('instance.id')).toBe('one')
      await store.repos.meta.set('instance.id', 'two')
      expect(await store.repos.meta.get('instance.id')).toBe('two')
    })
  })

  describe('transactions', () => {
    it('commits everything the function wrote and returns its value', async () => {
      const u = user()
      const result = await store.transaction(async (repos) => {
        await repos.users.insert(u, null)
        await repos.observations.insert(anObservation(u.id))
        await repos.meta.set('k', 'v')
        // A transaction reads its own writes.
        expect(await repos.users.byId(u.id)).not.toBeNull()
        return 'done'
      })
      expect(result).toBe('done')
      expect(await store.repos.users.byId(u.id)).not.toBeNull()
      expect(await store.repos.observations.count()).toBe(1)
      expect(await store.repos.meta.get('k')).toBe('v')
    })

    it('rolls everything back when the function throws', async () => {
      const u = user()
      const boom = new Error('boom')
      await expect(
        store.transaction(async (repos) => {
          await repos.users.insert(u, 'hash')
          await repos.observations.insert(anObservation(u.id))
          await repos.meta.set('k', 'v')
          await repos.idempotency.save('s', 'k', { requestHash: 'h', statusCode: 200, body: '{}' }, T0)
          throw boom
        }),
      ).rejects.toBe(boom)
      expect(await store.repos.users.byId(u.id)).toBeNull()
      expect(await store.repos.users.count()).toBe(1)
      expect(await store.repos.observations.count()).toBe(0)
      expect(await store.repos.meta.get('k')).toBeNull()
      expect(await store.repos.idempotency.find('s', 'k')).toBeNull()
      // The connection is usable again after the rollback.
      await store.transaction((repos) => repos.meta.set('k', 'after'))
      expect(await store.repos.meta.get('k')).toBe('after')
    })

    it('rolls back earlier writes when a later statement violates a constraint', async () => {
      const err = await caught(
        store.transaction(async (repos) => {
          await repos.meta.set('k', 'v')
          await repos.users.insert(user({ email: author.email }), null)
        }),
      )
      expect(db.isUniqueViolation(err)).toBe(true)
      expect(await store.repos.meta.get('k')).toBeNull()
    })

    it('reads a snapshot that writes made after it began do not change', async () => {
      await store.repos.meta.set('k', 'before')
      const other = await dialect.open(dialect.locationOf(db))
      const seen = await db.readSnapshot(async (trx) => {
        const first = await trx.selectFrom('meta').select('value').where('key', '=', 'k').executeTakeFirst()
        await makeStore(other).repos.meta.set('k', 'after')
        const second = await trx.selectFrom('meta').select('value').where('key', '=', 'k').executeTakeFirst()
        return [first?.value, second?.value]
      })
      expect(seen).toEqual(['before', 'before'])
      expect(await store.repos.meta.get('k')).toBe('after')
    })
  })

  describe('migrations', () => {
    it('can run again on a database that is up to date, keeping its rows', async () => {
      const location = await dialect.fresh()
      const first = await dialect.open(location)
      await makeStore(first).repos.meta.set('kept', 'yes')
      await first.close()
      const again = await dialect.open(location)
      const third = await dialect.open(location)
      expect(await makeStore(third).repos.meta.get('kept')).toBe('yes')
      const applied = await sql<{ n: number }>`select count(*) as n from louder_migrations`.execute(again.kysely)
      expect(Number(applied.rows[0]?.n)).toBeGreaterThan(0)
    })

    it('lets several processes open a new database at once', async () => {
      const location = await dialect.fresh()
      const children = await spawnDbChildren(3, 'migrate', location)
      expect(await children.go()).toEqual([{ opened: true }, { opened: true }, { opened: true }])
      const db = await dialect.open(location)
      const applied = await sql<{ n: number }>`select count(*) as n from louder_migrations`.execute(db.kysely)
      expect(Number(applied.rows[0]?.n)).toBe(Object.keys(migrations(dialect.name)).length)
    })
  })
})
