/**
 * The custody log on real databases: the stored tree equals the RFC reference at every size, appends from
 * parallel transactions (and, on PostgreSQL, from two connection pools, as two processes would) each get
 * exactly one index, a rolled-back append leaves no trace, and the log key is made once and kept sealed.
 */
import { join } from 'node:path'
import { sql } from 'kysely'
import { describe, expect, it } from 'vitest'
import { appendCustodyEvent, appendCustodyEvents, consistencyProof, inclusionProof, rootAt } from '../../src/core/custody/custody-log.ts'
import { encodeCustodyEvent } from '../../src/core/custody/custody-event.ts'
import { leafHash } from '../../src/core/custody/merkle.ts'
import { signCheckpoint } from '../../src/core/custody/sign-checkpoint.ts'
import { verifyConsistency, verifyInclusion } from '../../src/core/custody/verify.ts'
import { verifierKey } from '../../src/core/custody/checkpoint.ts'
import { connectDatabase } from '../../src/db/database.ts'
import type { DialectAdapter } from '../../src/db/dialect/dialect-adapter.ts'
import { migrateTo, migrateToLatest } from '../../src/db/migrations.ts'
import { makeStore } from '../../src/db/store.ts'
import { Envelope } from '../../src/protection/envelope.ts'
import { Keyring } from '../../src/protection/keyring.ts'
import { makeLogKey } from '../../src/protection/log-key.ts'
import { forEachDialect } from '../support/dialects.ts'
import { tmpDir } from '../support/tmp.ts'
import { verifyNote } from './note-verifier.ts'
import { sampleEvent } from './events.ts'
import { refPath, refProof, refRoot } from './reference-merkle.ts'

const leafOf = (n: number) => leafHash(encodeCustodyEvent(sampleEvent(n)))

forEachDialect('custody log', (dialect) => {
  it('stores a tree whose roots and proofs are the RFC reference at every size', async () => {
    const store = makeStore(await dialect.open())
    const N = 70
    // One at a time, then in batches: both paths write the same nodes.
    for (let n = 0; n < 20; n++) await store.transaction((repos) => appendCustodyEvent(repos, sampleEvent(n)))
    await store.transaction((repos) => appendCustodyEvents(repos, Array.from({ length: 33 }, (_, j) => sampleEvent(20 + j))))
    await store.transaction((repos) => appendCustodyEvents(repos, Array.from({ length: N - 53 }, (_, j) => sampleEvent(53 + j))))
    const leaves = Array.from({ length: N }, (_, n) => leafOf(n))
    for (let size = 0; size <= N; size++) expect((await rootAt(store.repos, size)).equals(refRoot(leaves.slice(0, size))), `root ${size}`).toBe(true)
    for (const [index, size] of [[0, 1], [0, N], [N - 1, N], [17, 33], [32, 64], [63, 65]] as const) {
      const proof = await inclusionProof(store.repos, index, size)
      expect(proof.hashes.map((h) => h.toString('hex')), `${index}/${size}`).toEqual(refPath(index, leaves.slice(0, size)).map((h) => h.toString('hex')))
      expect(verifyInclusion(index, size, proof.leafHash, proof.hashes, refRoot(leaves.slice(0, size)))).toBe(true)
    }
    for (const [from, to] of [[1, N], [7, 64], [32, 64], [64, N], [N, N]] as const) {
      const { hashes } = await consistencyProof(store.repos, from, to)
      expect(hashes.map((h) => h.toString('hex'))).toEqual(refProof(from, leaves.slice(0, to)).map((h) => h.toString('hex')))
      expect(verifyConsistency(from, to, refRoot(leaves.slice(0, from)), refRoot(leaves.slice(0, to)), hashes)).toBe(true)
    }
    const entry = await store.repos.custodyLog.entry(5)
    expect(entry?.body).toBe(encodeCustodyEvent(sampleEvent(5)).toString('utf8'))
  })

  it('gives 200 appends from parallel transactions the indices 0..199 exactly once, in a consistent tree', async () => {
    const first = await dialect.open()
    // On PostgreSQL a second pool on the same database stands in for a second process.
    const second: DialectAdapter = dialect.name === 'postgres' ? await dialect.open(dialect.locationOf(first)) : first
    const stores = [makeStore(first), makeStore(second)]
    const results = await Promise.all(Array.from({ length: 200 }, (_, n) => stores[n % 2]!.transaction((repos) => appendCustodyEvent(repos, sampleEvent(n)))))
    expect(results.map((r) => r.index).sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i))
    const store = stores[0]!
    expect(await store.repos.custodyLog.size()).toBe(200)
    // Each result's leaf hash is stored at its index; the tree over the stored leaves matches its root.
    const stored: Buffer[] = []
    for (let i = 0; i < 200; i++) stored.push((await store.repos.custodyLog.entry(i))!.leafHash)
    for (const r of results) expect(stored[r.index]!.toString('hex')).toBe(r.leafHash)
    expect((await rootAt(store.repos, 200)).equals(refRoot(stored))).toBe(true)
    expect((await first.kysely.selectFrom('custody_nodes').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n).toSatisfy((n) => Number(n) === 200 - 3)
  })

  it('leaves no trace of an append whose transaction rolls back', async () => {
    const store = makeStore(await dialect.open())
    await store.transaction((repos) => appendCustodyEvents(repos, [sampleEvent(0), sampleEvent(1), sampleEvent(2)]))
    await expect(
      store.transaction(async (repos) => {
        await appendCustodyEvent(repos, sampleEvent(3))
        throw new Error('the ingest failed after logging')
      }),
    ).rejects.toThrow('ingest failed')
    expect(await store.repos.custodyLog.size()).toBe(3)
    expect(await store.transaction((repos) => appendCustodyEvent(repos, sampleEvent(9)))).toMatchObject({ index: 3, leafHash: leafOf(9).toString('hex') })
    expect((await rootAt(store.repos, 4)).equals(refRoot([0, 1, 2, 9].map(leafOf)))).toBe(true)
  })

  if (dialect.name === 'postgres')
    it('refuses an append outside a transaction, where its lock would not hold', async () => {
      const store = makeStore(await dialect.open())
      await expect(appendCustodyEvent(store.repos, sampleEvent(0))).rejects.toThrow('inside Store.transaction')
    })

  describe('log key', () => {
    it('is made once, sealed in the database, and the same for a second process', async () => {
      const db = await dialect.open()
      const keyring = Keyring.open(join(tmpDir(), 'master.key'), { create: true })
      const store = makeStore(db)
      const one = makeLogKey({ log: () => store.repos.custodyLog, sealer: new Envelope(db.kysely, keyring), name: 'louder.example.org/log' })
      const two = makeLogKey({ log: () => store.repos.custodyLog, sealer: new Envelope(db.kysely, keyring), name: 'louder.other.example/log' })
      const [a, b] = await Promise.all([one.signer(), two.signer()])
      expect(a.publicKey.equals(b.publicKey)).toBe(true)
      expect(a.name).toBe(b.name)
      const record = JSON.parse((await store.repos.custodyLog.logKey())!) as { privateKey: string; publicKey: string }
      expect(record.privateKey).toMatch(/^lse1\./)

      await store.transaction((repos) => appendCustodyEvents(repos, [0, 1, 2].map(sampleEvent)))
      const checkpoint = await signCheckpoint(store.repos, b)
      expect(verifyNote(checkpoint.note, verifierKey(a.name, a.publicKey))).toMatchObject({ size: 3, root: await rootAt(store.repos, 3) })
      expect(await store.repos.custodyLog.latestCheckpoint()).toEqual(checkpoint)
    })
  })
})

describe('migration 0015 (SQLite: custody_nodes clustered on its key)', () => {
  it('keeps every node of a log written before it, so roots and proofs stay the same', async () => {
    const db = connectDatabase({ dataDir: tmpDir('louder-custody-0015-'), databaseUrl: null })
    try {
      await migrateTo(db.kysely, db.name, '0014_uploads')
      const store = makeStore(db)
      await store.transaction((repos) => appendCustodyEvents(repos, Array.from({ length: 45 }, (_, n) => sampleEvent(n))))
      const before = { root: await rootAt(store.repos, 45), proof: await inclusionProof(store.repos, 17, 45), nodes: await countNodes(db) }
      await migrateToLatest(db.kysely, db.name)
      const { rows } = await sql<{ sql: string }>`select sql from sqlite_master where name = 'custody_nodes'`.execute(db.kysely)
      expect(rows[0]?.sql).toMatch(/without rowid/i)
      expect(await countNodes(db)).toBe(before.nodes)
      expect((await rootAt(store.repos, 45)).equals(before.root)).toBe(true)
      expect((await inclusionProof(store.repos, 17, 45)).hashes).toEqual(before.proof.hashes)
      // Appends go on where they stopped, into the rebuilt table.
      await store.transaction((repos) => appendCustodyEvents(repos, Array.from({ length: 19 }, (_, j) => sampleEvent(45 + j))))
      const leaves = Array.from({ length: 64 }, (_, n) => leafOf(n))
      expect((await rootAt(store.repos, 64)).equals(refRoot(leaves))).toBe(true)
    } finally {
      await db.close()
    }
  })
})

async function countNodes(db: DialectAdapter): Promise<number> {
  const { rows } = await sql<{ n: number }>`select count(*) as n from custody_nodes`.execute(db.kysely)
  return Number(rows[0]!.n)
}
