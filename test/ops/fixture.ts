import { createHash, randomBytes, randomUUID } from 'node:crypto'
import { join } from 'node:path'
import { generateIdentity, identityToRecipient } from 'age-encryption'
import { makeFsBlobStore } from '../../src/blobs/fs-blob-store.ts'
import { issueToken } from '../../src/core/accounts/tokens.ts'
import { type Actor, systemActor } from '../../src/core/access/actor.ts'
import { addComment, createIncident, prepareIncidentSealing, transitionIncident } from '../../src/core/incidents/incident.service.ts'
import { sealedBlobName } from '../../src/core/evidence/media-item.ts'
import { uuidv7 } from '../../src/core/ids.ts'
import type { BlobStore } from '../../src/core/ports/blob-store.ts'
import { createParty, updateParty } from '../../src/core/register/parties.ts'
import { type DialectAdapter, openDatabase } from '../../src/db/database.ts'
import { PRIMARY_KEYS } from '../../src/db/dump.ts'
import { TABLES_IN_DEPENDENCY_ORDER } from '../../src/db/schema.ts'
import { makeStore } from '../../src/db/store.ts'
import { Envelope } from '../../src/protection/envelope.ts'
import { Keyring } from '../../src/protection/keyring.ts'

export interface Place {
  dataDir: string
  databaseUrl: string | null
  masterKeyFile: string
}

export function place(dataDir: string, databaseUrl: string | null = null): Place {
  return { dataDir, databaseUrl, masterKeyFile: join(dataDir, 'keys', 'master.key') }
}

export const SEALED_CONTEXT = 'observations.witness:fixture'
export const WITNESS = 'Amina K., who saw it from the pharmacy doorway — هاتف ٠٧٧'

/**
 * A data directory filled through the real code: users with roles, a token, observations (enough for
 * several keyset pages and several dump parts, with non-ASCII text and exact doubles), a sealed field,
 * an idempotency record, a job, parties (one with a newer parent), and blobs from empty to over 1 MiB.
 */
export async function populate(where: Place, options: { observations?: number } = {}): Promise<{ blobKeys: string[] }> {
  const db = await openDatabase(where)
  try {
    const store = makeStore(db)
    const keyring = Keyring.open(where.masterKeyFile, { create: true })
    const envelope = new Envelope(db.kysely, keyring)
    const now = Date.now()
    const admin = { id: uuidv7(now), email: 'admin@example.org', displayName: 'Admin', roles: ['admin', 'editor'] as const, mustChangePassword: true, createdAt: now, disabledAt: null }
    const researcher = { id: uuidv7(now + 1), email: 'r@example.org', displayName: 'Réa “Searcher”', roles: ['researcher'] as const, mustChangePassword: false, createdAt: now, disabledAt: now + 5 }
    await store.repos.users.insert({ ...admin, roles: [...admin.roles] }, '$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA')
    await store.repos.users.insert({ ...researcher, roles: [...researcher.roles] }, null)
    await issueToken(store.repos, admin.id, { name: 'ci', roles: ['editor'], expiresAt: now + 86_400_000 })
    await store.repos.meta.set('witness', await envelope.seal(WITNESS, SEALED_CONTEXT))
    await store.repos.meta.set('weird', 'line one\nline "two"\t\\ and \u2028 separator')
    await store.repos.idempotency.save('user:x', 'key-1', { requestHash: 'abc', statusCode: 201, body: '{"ok":true}' }, now)
    await db.kysely
      .insertInto('jobs')
      .values({ id: uuidv7(), name: 'thumbnail', payload: '{"sha":"x"}', status: 'failed', priority: 3, attempts: 2, max_attempts: 5, run_at: now, locked_by: null, locked_until: null, last_error: 'Error: boom\n  at line 1', created_at: now, updated_at: now, finished_at: now + 1 })
      .execute()
    const count = options.observations ?? 2600
    const long = 'Ceasefire broken near the market; ذكر الشهود إطلاق نار 🚨. '.repeat(40)
    const observations = Array.from({ length: count }, (_, i) => ({
      id: uuidv7(now + i),
      narrative: `${i}: ${long}`,
      occurredAt: now - i * 60_000,
      location: i % 7 === 0 ? null : { lat: -33.868820123456789 + i / 1e6, lon: 151.209295 - i / 3 },
      createdBy: i % 2 ? admin.id : researcher.id,
      createdAt: now,
      updatedAt: now + i,
    }))
    await store.repos.observations.insertMany(observations)
    // A party given a parent newer than itself: restores load parties in id order, so the parent foreign key must wait for commit.
    const brigade = await createParty(store.repos, systemActor('fixture'), { name: 'Brigade «Nord»', interCode: 1, aliases: ['الفرقة', 'B\u202EN'] }, now)
    const army = await createParty(store.repos, systemActor('fixture'), { name: 'Army', interCode: 1, description: 'line one\nline two' }, now + 1)
    await updateParty(store.repos, brigade.id, { parentId: army.id }, now + 2)
    // An incident with its actors, observation links, history and a comment; sensitive, so its point is sealed.
    const editor: Actor = { kind: 'user', userId: admin.id, roles: ['editor'], orgId: null, via: 'token', tokenId: null, sessionId: null, twoFactorPending: false }
    const input = {
      eventType: 'Battles',
      subEventType: 'Armed clash',
      actors: [{ partyId: brigade.id, associated: [army.id] }],
      occurredAt: now,
      placeName: 'Marché «Nord»',
      narrative: 'Clash near the market; ذكر الشهود إطلاق نار',
      location: { lat: -33.86, lon: 151.2 },
      sensitive: true,
      observationIds: observations.slice(0, 2).reverse().map((o) => o.id),
    }
    const sealing = await prepareIncidentSealing(store.repos, envelope, null, input)
    const incident = await store.transaction((r) => createIncident(r, editor, input, sealing, now))
    await store.transaction((r) => transitionIncident(r, editor, incident.id, { to: 'in_review', version: 1 }, now + 1))
    await store.transaction((r) => addComment(r, editor, incident.id, 'Checked «twice»\nsecond line', now + 2))

    const blobs = await makeFsBlobStore(join(where.dataDir, 'blobs'))
    const blobKeys: string[] = []
    for (const body of [Buffer.alloc(0), Buffer.from('a small photo'), randomBytes(1536 * 1024 + 7), randomBytes(513), randomBytes(64 * 1024)])
      blobKeys.push(await putBlob(blobs, body))
    // Sealed originals are named after their data key, not their bytes (sealedBlobName): backed up under sealed/.
    for (const body of [randomBytes(700 * 1024 + 3), Buffer.from('sealed bytes')]) {
      const name = sealedBlobName(randomUUID())
      await blobs.putNamed(name, (async function* () {
        yield body
      })())
      blobKeys.push(name)
    }
    return { blobKeys }
  } finally {
    await db.close()
  }
}

export async function putBlob(blobs: BlobStore, body: Buffer): Promise<string> {
  const key = createHash('sha256').update(body).digest('hex')
  await blobs.put(key, (async function* () {
    yield body
  })())
  return key
}

/** Every row of every table, sorted by primary key in JS (so SQLite and PostgreSQL collations agree). */
export async function allRows(db: DialectAdapter): Promise<Record<string, Record<string, unknown>[]>> {
  const out: Record<string, Record<string, unknown>[]> = {}
  for (const table of TABLES_IN_DEPENDENCY_ORDER) {
    const rows = (await db.kysely.selectFrom(table).selectAll().execute()) as Record<string, unknown>[]
    const keyOf = (r: Record<string, unknown>) => (PRIMARY_KEYS[table] as readonly string[]).map((k) => String(r[k])).join('\u0000')
    out[table] = rows.sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0))
  }
  return out
}

/** Every blob's bytes by key. */
export async function allBlobs(dataDir: string): Promise<Map<string, Buffer>> {
  const blobs = await makeFsBlobStore(join(dataDir, 'blobs'), { sweepTemp: false })
  const out = new Map<string, Buffer>()
  for await (const key of concat(blobs.list(), blobs.listNamed())) {
    const pieces: Buffer[] = []
    for await (const piece of await blobs.get(key)) pieces.push(Buffer.from(piece))
    out.set(key, Buffer.concat(pieces))
  }
  return out
}

/** Opens the sealed fixture field with the master key file at `where`. */
export async function openWitness(where: Place): Promise<string> {
  const db = await openDatabase(where)
  try {
    const sealed = await makeStore(db).repos.meta.get('witness')
    return await new Envelope(db.kysely, Keyring.open(where.masterKeyFile, { create: false })).openText(sealed!, SEALED_CONTEXT)
  } finally {
    await db.close()
  }
}

export async function newIdentity(): Promise<{ identity: string; recipient: string }> {
  const identity = await generateIdentity()
  return { identity, recipient: await identityToRecipient(identity) }
}

async function* concat<T>(...sources: AsyncIterable<T>[]): AsyncGenerator<T> {
  for (const source of sources) yield* source
}
