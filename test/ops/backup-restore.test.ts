import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { Decrypter, Encrypter } from 'age-encryption'
import { sql } from 'kysely'
import { describe, expect, it } from 'vitest'
import { makeFsBlobStore } from '../../src/blobs/fs-blob-store.ts'
import { uuidv7 } from '../../src/core/ids.ts'
import { connectDatabase, openDatabase } from '../../src/db/database.ts'
import { listTables } from '../../src/db/migrations.ts'
import { makeStore } from '../../src/db/store.ts'
import { backup } from '../../src/ops/backup.ts'
import { BackupError, readIdentities, readRecipients } from '../../src/ops/backup-format.ts'
import type { Progress } from '../../src/ops/progress.ts'
import { restore } from '../../src/ops/restore.ts'
import { Keyring } from '../../src/protection/keyring.ts'
import { readTar, TarWriter } from '../../src/ops/tar-stream.ts'
import { createTestDatabase } from '../support/postgres.ts'
import { tmpDir } from '../support/tmp.ts'
import { allBlobs, allRows, newIdentity, openWitness, type Place, place, populate, putBlob, WITNESS } from './fixture.ts'

/** A populated SQLite data directory and one backup of it, shared by the tests that only read them. */
async function backedUp(options: { observations?: number } = {}) {
  const base = tmpDir('louder-backup-')
  const source = place(join(base, 'source'))
  await populate(source, options)
  const { identity, recipient } = await newIdentity()
  const file = join(base, 'louder.age')
  const report = await backup({ config: source, out: file, recipients: [recipient] })
  return { base, source, identity, recipient, file, report }
}

async function expectCode(promise: Promise<unknown>, code: string, message: RegExp): Promise<BackupError> {
  const err = await promise.then(
    () => {
      throw new Error('expected a failure')
    },
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(BackupError)
  expect((err as BackupError).code).toBe(code)
  expect((err as BackupError).message).toMatch(message)
  return err as BackupError
}

async function expectSameData(from: Place, to: Place): Promise<void> {
  const a = await openDatabase(from)
  const b = await openDatabase(to)
  try {
    expect(await allRows(b)).toEqual(await allRows(a))
  } finally {
    await a.close()
    await b.close()
  }
  const blobsA = await allBlobs(from.dataDir)
  const blobsB = await allBlobs(to.dataDir)
  expect([...blobsB.keys()].sort()).toEqual([...blobsA.keys()].sort())
  for (const [key, bytes] of blobsA) expect(blobsB.get(key)!.equals(bytes), `blob ${key}`).toBe(true)
}

describe('backup and restore (SQLite)', () => {
  it('restores a backup into a fresh directory, row for row and byte for byte, with a working master key', async () => {
    const { base, source, identity, file, report } = await backedUp()
    expect(statSync(file).mode & 0o777).toBe(0o600)
    expect(existsSync(`${file}.partial`)).toBe(false)
    expect(readFileSync(file).subarray(0, 21).toString()).toBe('age-encryption.org/v1')
    // Nothing readable leaks into the file: the sealed witness is sealed anyway, so look for plain narrative text.
    expect(readFileSync(file).includes(Buffer.from('Ceasefire broken'))).toBe(false)
    expect(report.manifest.tables.find((t) => t.name === 'observations')!.rows).toBe(2600)
    expect(report.manifest.blobs.count).toBe(7) // five named by their bytes, two sealed (named after their data key)

    const target = place(join(base, 'restored'))
    const progress: Progress[] = []
    const restored = await restore({ config: target, input: file, identities: [identity], onProgress: (p) => progress.push(p) })
    expect(restored.manifest).toEqual(report.manifest)
    await expectSameData(source, target)
    expect(statSync(target.masterKeyFile).mode & 0o777).toBe(0o600)
    expect(readFileSync(target.masterKeyFile, 'utf8')).toBe(readFileSync(source.masterKeyFile, 'utf8'))
    expect(await openWitness(target)).toBe(WITNESS)
    expect(progress.at(-1)).toMatchObject({ phase: 'blobs', done: report.manifest.blobs.bytes })
  })

  it('takes a consistent snapshot while a writer keeps inserting', async () => {
    const base = tmpDir('louder-backup-')
    const source = place(join(base, 'source'))
    await populate(source, { observations: 3000 })
    const { identity, recipient } = await newIdentity()

    // The writer inserts an observation naming a new blob, and bumps a counter in meta, in one transaction;
    // meta is dumped first and observations last, so only a true snapshot keeps the two in step.
    const writerDb = await openDatabase(source)
    const writerBlobs = await makeFsBlobStore(join(source.dataDir, 'blobs'), { sweepTemp: false })
    let written = 0
    let stop = false
    let writtenWhenSnapshotEnded = -1
    const writer = (async () => {
      while (!stop) {
        const key = await putBlob(writerBlobs, Buffer.from(`concurrent blob ${written}`))
        await writerDb.writeTransaction(async (trx) => {
          const repos = makeStore({ ...writerDb, kysely: trx }).repos
          await repos.observations.insert({ id: uuidv7(), narrative: `concurrent ${key}`, occurredAt: Date.now(), location: null, createdBy: (await trx.selectFrom('users').select('id').executeTakeFirstOrThrow()).id, createdAt: Date.now(), updatedAt: Date.now() })
          await repos.meta.set('concurrent', String(written + 1))
        })
        written++
        await new Promise((r) => setImmediate(r))
      }
    })()
    while (written < 5) await new Promise((r) => setTimeout(r, 5))

    const file = join(base, 'live.age')
    const report = await backup({
      config: source,
      out: file,
      recipients: [recipient],
      onProgress: (p) => {
        if (p.phase === 'blobs' && writtenWhenSnapshotEnded < 0) writtenWhenSnapshotEnded = written
      },
    })
    const writtenAtEnd = written
    while (written < writtenAtEnd + 3) await new Promise((r) => setTimeout(r, 5))
    stop = true
    await writer
    await writerDb.close()

    const inBackup = report.manifest.tables.find((t) => t.name === 'observations')!.rows - 3000
    // The writer was busy before, during and after the snapshot.
    expect(inBackup).toBeGreaterThanOrEqual(5)
    expect(writtenWhenSnapshotEnded).toBeGreaterThan(inBackup)

    const target = place(join(base, 'restored'))
    await restore({ config: target, input: file, identities: [identity] })
    const db = await openDatabase(target)
    try {
      const store = makeStore(db)
      for (const { name, rows } of report.manifest.tables) {
        const n = await db.kysely.selectFrom(name as 'meta').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()
        expect(Number(n.n), name).toBe(rows)
      }
      expect(await store.repos.meta.get('concurrent')).toBe(String(inBackup))
      // Every blob the snapshot names was copied (blobs are written before the rows naming them).
      const restoredBlobs = await makeFsBlobStore(join(target.dataDir, 'blobs'))
      const named = await db.kysely.selectFrom('observations').select('narrative').where('narrative', 'like', 'concurrent %').execute()
      expect(named).toHaveLength(inBackup)
      for (const { narrative } of named) expect(await restoredBlobs.has(narrative.slice('concurrent '.length))).toBe(true)
    } finally {
      await db.close()
    }
    expect(await openWitness(target)).toBe(WITNESS)
  })

  it('writes a tar that `tar` itself can unpack, whose SHA256SUMS check out', async () => {
    const { base, identity, file } = await backedUp({ observations: 10 })
    const d = new Decrypter()
    d.addIdentity(identity)
    const tarFile = join(base, 'plain.tar')
    writeFileSync(tarFile, await d.decrypt(readFileSync(file)))
    const out = join(base, 'by-hand')
    mkdirSync(out)
    const { execFileSync } = await import('node:child_process')
    execFileSync('tar', ['-xf', tarFile, '-C', out])
    execFileSync('sha256sum', ['--quiet', '-c', 'SHA256SUMS'], { cwd: out })
    expect(readdirSync(out).sort()).toEqual(['SHA256SUMS', 'blobs', 'db', 'keys', 'louder-backup.json', 'sealed'])
    expect(readdirSync(join(out, 'blobs'))).toHaveLength(5)
    // Named blobs carry their checksums in SHA256SUMS, which sha256sum -c just checked.
    expect(readdirSync(join(out, 'sealed'))).toHaveLength(2)
    expect(readFileSync(join(out, 'SHA256SUMS'), 'utf8')).toMatch(/^[0-9a-f]{64} {2}sealed\/[0-9a-f]{64}$/m)
    const users = readFileSync(join(out, 'db', 'users', '00000001.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l))
    expect(users.map((u) => u.email).sort()).toEqual(['admin@example.org', 'r@example.org'])
  })

  it('splits a large table into several parts and several keyset pages', async () => {
    const { report, base, identity, file, source } = await backedUp({ observations: 4000 })
    expect(report.manifest.tables.find((t) => t.name === 'observations')!.rows).toBe(4000)
    const paths = (await unpack(file, identity)).map((e) => e.path)
    const parts = paths.filter((p) => p.startsWith('db/observations/'))
    expect(parts.length).toBeGreaterThanOrEqual(2)
    expect(parts).toEqual(parts.map((_, i) => `db/observations/${String(i + 1).padStart(8, '0')}.jsonl`))
    expect(paths[0]).toBe('louder-backup.json')
    expect(paths[1]).toBe('keys/master.key')
    expect(paths.at(-1)).toBe('SHA256SUMS')
    const target = place(join(base, 'restored'))
    await restore({ config: target, input: file, identities: [identity] })
    await expectSameData(source, target)
  })

  it('encrypts to every recipient: any one of them restores', async () => {
    const base = tmpDir('louder-backup-')
    const source = place(join(base, 'source'))
    await populate(source, { observations: 3 })
    const a = await newIdentity()
    const b = await newIdentity()
    const recipientsFile = join(base, 'recipients.txt')
    writeFileSync(recipientsFile, `# the board's offline key\n${b.recipient}\n\n`)
    const recipients = await readRecipients([a.recipient], [recipientsFile])
    expect(recipients).toEqual([a.recipient, b.recipient])
    const file = join(base, 'two.age')
    await backup({ config: source, out: file, recipients })
    const identityFile = join(base, 'b.txt')
    writeFileSync(identityFile, `# created: today\n# public key: ${b.recipient}\n${b.identity}\n`)
    await restore({ config: place(join(base, 'by-b')), input: file, identities: await readIdentities(identityFile) })
    await restore({ config: place(join(base, 'by-a')), input: file, identities: [a.identity] })
    expect(await openWitness(place(join(base, 'by-b')))).toBe(WITNESS)
  })

  describe('refuses, and leaves nothing behind', () => {
    it('a backup without a recipient', async () => {
      const base = tmpDir('louder-backup-')
      const source = place(join(base, 'source'))
      await populate(source, { observations: 1 })
      const file = join(base, 'none.age')
      await expectCode(backup({ config: source, out: file, recipients: [] }), 'backup_no_recipient', /no recipient/)
      await expectCode(backup({ config: source, out: file, recipients: ['age1nope'] }), 'backup_recipients', /not a valid age recipient/)
      await expect(readRecipients(['ssh-ed25519 AAAA'], [])).rejects.toThrow(/not an age recipient/)
      expect(readdirSync(base)).toEqual(['source'])
    })

    it('overwriting a backup unless forced, and a data directory without a database', async () => {
      const { base, source, recipient, file, identity } = await backedUp({ observations: 1 })
      const before = readFileSync(file)
      await expectCode(backup({ config: source, out: file, recipients: [recipient] }), 'backup_exists', /already exists.*--force/)
      expect(readFileSync(file).equals(before)).toBe(true)
      await backup({ config: source, out: file, recipients: [recipient], force: true })
      expect(readFileSync(file).equals(before)).toBe(false)
      await restore({ config: place(join(base, 'after-force')), input: file, identities: [identity] })

      const empty = place(join(base, 'nothing-here'))
      await expectCode(backup({ config: empty, out: join(base, 'x.age'), recipients: [recipient] }), 'backup_no_database', /no Louder database/)
      expect(existsSync(empty.dataDir)).toBe(false)
      expect(existsSync(join(base, 'x.age.partial'))).toBe(false)
    })

    it('a backup that would be incomplete: a damaged blob, a missing master key, an unknown table', async () => {
      const base = tmpDir('louder-backup-')
      const source = place(join(base, 'source'))
      const { blobKeys } = await populate(source, { observations: 5 })
      const { recipient } = await newIdentity()
      const out = join(base, 'out.age')
      const attempt = () => backup({ config: source, out, recipients: [recipient] })

      const victim = blobKeys.find((k) => statSync(blobPath(source, k)).size === 513)!
      const original = readFileSync(blobPath(source, victim))
      writeFileSync(blobPath(source, victim), flip(original, 100))
      await expectCode(attempt(), 'backup_blob_damaged', new RegExp(`blob ${victim} in the data directory is damaged`))
      writeFileSync(blobPath(source, victim), original)

      const key = readFileSync(source.masterKeyFile)
      Keyring.open(join(base, 'other.key'), { create: true })
      writeFileSync(source.masterKeyFile, readFileSync(join(base, 'other.key')))
      await expectCode(attempt(), 'backup_key_mismatch', /lacks key\(s\) [0-9a-f]{16} that this database uses/)
      writeFileSync(source.masterKeyFile, key)

      const db = await openDatabase(source)
      await sql`create table notes_on_the_side (id text primary key)`.execute(db.kysely)
      await db.close()
      await expectCode(attempt(), 'backup_unknown_table', /notes_on_the_side/)
      expect(readdirSync(base).sort()).toEqual(['other.key', 'source'])
    })

    it('an interrupted backup or restore', async () => {
      const { base, source, recipient, file, identity } = await backedUp({ observations: 50 })
      const stop = new AbortController()
      const out = join(base, 'interrupted.age')
      const interrupted = backup({
        config: source,
        out,
        recipients: [recipient],
        signal: stop.signal,
        onProgress: (p) => p.phase === 'blobs' && stop.abort(new Error('operator pressed Ctrl-C')),
      })
      await expect(interrupted).rejects.toThrow('operator pressed Ctrl-C')
      expect(existsSync(out)).toBe(false)
      expect(existsSync(`${out}.partial`)).toBe(false)

      const again = new AbortController()
      const target = place(join(base, 'restored'))
      const restoring = restore({
        config: target,
        input: file,
        identities: [identity],
        signal: again.signal,
        onProgress: (p) => p.phase === 'blobs' && again.abort(new Error('operator pressed Ctrl-C')),
      })
      await expect(restoring).rejects.toThrow('operator pressed Ctrl-C')
      expect(existsSync(target.dataDir)).toBe(false)
    })

    it('the wrong identity', async () => {
      const { base, file } = await backedUp({ observations: 1 })
      const stranger = await newIdentity()
      const target = place(join(base, 'restored'))
      await expectCode(restore({ config: target, input: file, identities: [stranger.identity] }), 'backup_wrong_identity', /encrypted to other recipients/)
      expect(existsSync(target.dataDir)).toBe(false)
      await expect(readIdentities(file)).rejects.toThrow(/is not an age identity/)
    })

    it.each([
      ['cut short near its end', (b: Buffer) => b.subarray(0, b.length - 1000)],
      ['cut short in the middle', (b: Buffer) => b.subarray(0, Math.floor(b.length / 2))],
      ['cut at a chunk boundary', (b: Buffer) => b.subarray(0, payloadStart(b) + 65552 * 3)],
      ['with a byte flipped near its end', (b: Buffer) => flip(b, b.length - 100)],
      ['with a byte flipped in the middle', (b: Buffer) => flip(b, Math.floor(b.length / 2))],
      // (A flipped recipient stanza reads as 'encrypted to other recipients': age cannot tell the two apart.)
      ['with a byte flipped in the header MAC', (b: Buffer) => flip(b, b.indexOf('\n---') + 6)],
      ['with bytes appended', (b: Buffer) => Buffer.concat([b, Buffer.from('trailing')])],
      ['empty', () => Buffer.alloc(0)],
    ])('a backup %s', async (_, damage) => {
      const { base, file, identity } = await backedUp({ observations: 300 })
      const broken = join(base, 'broken.age')
      writeFileSync(broken, damage(readFileSync(file)))
      const target = place(join(base, 'restored'))
      await expectCode(restore({ config: target, input: broken, identities: [identity] }), 'backup_damaged', /damaged/)
      expect(existsSync(target.dataDir)).toBe(false)
    })

    it('a damaged backup into an existing empty directory, leaving it empty', async () => {
      const { base, file, identity } = await backedUp({ observations: 300 })
      const broken = join(base, 'broken.age')
      writeFileSync(broken, flip(readFileSync(file), readFileSync(file).length - 100))
      const target = place(join(base, 'restored'))
      mkdirSync(target.dataDir)
      await expectCode(restore({ config: target, input: broken, identities: [identity] }), 'backup_damaged', /altered or cut short/)
      expect(readdirSync(target.dataDir)).toEqual([])
    })

    describe('a backup that age accepts but whose contents are wrong (made by someone holding a recipient key)', () => {
      const cases: [string, string, RegExp, (entries: Entry[]) => Entry[]][] = [
        ['a newer format', 'backup_unsupported', /format version 3/, (e) => editManifest(e, (m) => ({ ...m, formatVersion: 3 }))],
        ['an unknown migration', 'backup_unsupported', /0002_from_the_future/, (e) => editManifest(e, (m) => ({ ...m, migrations: [...(m.migrations as string[]), '0002_from_the_future'] }))],
        ['an unknown table', 'backup_damaged', /does not know/, (e) => editManifest(e, (m) => ({ ...m, tables: [...(m.tables as object[]), { name: 'secrets', rows: 0 }] }))],
        ['a row count the rows do not match', 'backup_damaged', /table users has 2 rows; the manifest says 3/, (e) => editManifest(e, (m) => ({ ...m, tables: (m.tables as { name: string; rows: number }[]).map((t) => (t.name === 'users' ? { ...t, rows: 3 } : t)) }))],
        ['a file whose checksum is wrong', 'backup_damaged', /db\/users\/00000001.jsonl does not match its checksum/, (e) => e.map((x) => (x.path === 'db/users/00000001.jsonl' ? { ...x, body: Buffer.from(x.body.toString().replace('Admin', 'Admon')) } : x))],
        ['no SHA256SUMS', 'backup_damaged', /SHA256SUMS is missing/, (e) => e.filter((x) => x.path !== 'SHA256SUMS')],
        ['a path outside the layout', 'backup_damaged', /unexpected file \.\.\/\.\.\/etc\/cron\.d\/x/, (e) => [...e.slice(0, -1), { path: '../../etc/cron.d/x', body: Buffer.from('* * * * * root sh') }, e.at(-1)!]],
        ['a blob that is not what its name says', 'backup_damaged', /does not match its name/, (e) => e.map((x) => (x.path.startsWith('blobs/') && x.body.length === 513 ? { ...x, body: Buffer.alloc(513) } : x))],
        ['a sealed blob whose bytes were changed', 'backup_damaged', /sealed\/[0-9a-f]{64} does not match its checksum/, (e) => e.map((x) => (x.path.startsWith('sealed/') && x.body.length === 12 ? { ...x, body: Buffer.from('SEALED BYTES') } : x))],
        ['a row that is not JSON', 'backup_damaged', /not JSON/, (e) => resum(e.map((x) => (x.path === 'db/users/00000001.jsonl' ? { ...x, body: Buffer.from(`{"id":\n`) } : x)))],
        ['a row with a nested value', 'backup_damaged', /only text, finite numbers and null/, (e) => resum(e.map((x) => (x.path === 'db/meta/00000001.jsonl' ? { ...x, body: Buffer.from('{"key":"k","value":{"a":1}}\n') } : x)))],
        ['parts out of order', 'backup_damaged', /out of order/, (e) => { const i = e.findIndex((x) => x.path.startsWith('db/users/')); const j = e.findIndex((x) => x.path.startsWith('db/meta/')); const copy = [...e]; [copy[i], copy[j]] = [copy[j]!, copy[i]!]; return copy }],
      ]
      it.each(cases)('%s', async (_, code, message, edit) => {
        const { base, file, identity, recipient } = await backedUp({ observations: 3 })
        const crafted = join(base, 'crafted.age')
        await repack(await unpack(file, identity), recipient, crafted, edit)
        const target = place(join(base, 'restored'))
        await expectCode(restore({ config: target, input: crafted, identities: [identity] }), code, message)
        expect(existsSync(target.dataDir)).toBe(false)
        expect(existsSync('/etc/cron.d/x')).toBe(false)
      })
    })

    it('a target that is not empty, or whose key file exists', async () => {
      const { base, file, identity } = await backedUp({ observations: 1 })
      const target = place(join(base, 'busy'))
      mkdirSync(target.dataDir)
      writeFileSync(join(target.dataDir, 'notes.txt'), 'mine')
      await expectCode(restore({ config: target, input: file, identities: [identity] }), 'restore_target_not_empty', /not empty/)
      expect(readdirSync(target.dataDir)).toEqual(['notes.txt'])

      const keyElsewhere = { ...place(join(base, 'fresh')), masterKeyFile: join(base, 'existing.key') }
      writeFileSync(keyElsewhere.masterKeyFile, 'do not replace me')
      await expectCode(restore({ config: keyElsewhere, input: file, identities: [identity] }), 'restore_target_not_empty', /never replaces a key/)
      expect(readFileSync(keyElsewhere.masterKeyFile, 'utf8')).toBe('do not replace me')
      expect(existsSync(keyElsewhere.dataDir)).toBe(false)
    })

    it('a restore into a live data directory that another restore already filled', async () => {
      const { base, file, identity } = await backedUp({ observations: 1 })
      const target = place(join(base, 'restored'))
      await restore({ config: target, input: file, identities: [identity] })
      await expectCode(restore({ config: target, input: file, identities: [identity] }), 'restore_target_not_empty', /not empty/)
    })
  })

  it('keeps the master key outside the data directory when told to', async () => {
    const { base, file, identity, source } = await backedUp({ observations: 2 })
    const target = { ...place(join(base, 'restored')), masterKeyFile: join(base, 'vault', 'deep', 'master.key') }
    await restore({ config: target, input: file, identities: [identity] })
    expect(readFileSync(target.masterKeyFile, 'utf8')).toBe(readFileSync(source.masterKeyFile, 'utf8'))
    expect(existsSync(join(target.dataDir, 'keys'))).toBe(false)
    expect(await openWitness(target)).toBe(WITNESS)
  })
})

describe('backup and restore across databases (PostgreSQL)', () => {
  it('restores a SQLite backup into PostgreSQL, and that back into SQLite', async () => {
    const { base, source, identity, recipient, file } = await backedUp({ observations: 2200 })
    const pg = place(join(base, 'pg-data'), await createTestDatabase())
    await restore({ config: pg, input: file, identities: [identity] })
    await expectSameData(source, pg)
    expect(await openWitness(pg)).toBe(WITNESS)

    // And a backup of PostgreSQL restores into SQLite.
    const fromPg = join(base, 'from-pg.age')
    const report = await backup({ config: pg, out: fromPg, recipients: [recipient] })
    expect(report.manifest.source.dialect).toBe('postgres')
    const sqlite = place(join(base, 'back-in-sqlite'))
    await restore({ config: sqlite, input: fromPg, identities: [identity] })
    await expectSameData(source, sqlite)
    expect(await openWitness(sqlite)).toBe(WITNESS)

    // The search indexes are rebuilt from the rows on each side: words, party and place still find the incident.
    for (const where of [pg, sqlite]) {
      const db = await openDatabase(where)
      try {
        const incidents = makeStore(db).repos.incidents
        const [one] = await incidents.list({ limit: 10 })
        expect(one).toBeDefined()
        expect((await incidents.list({ text: 'marche MARKET', limit: 10 })).map((i) => i.id)).toEqual([one!.id])
        expect((await incidents.list({ partyId: one!.actors[0]!.associated[0]!, limit: 10 })).map((i) => i.id)).toEqual([one!.id])
      } finally {
        await db.close()
      }
    }
  })

  it('refuses a PostgreSQL database that holds rows, and rolls a damaged restore back to nothing', async () => {
    const { base, identity, file } = await backedUp({ observations: 300 })
    const url = await createTestDatabase()
    const broken = join(base, 'broken.age')
    writeFileSync(broken, flip(readFileSync(file), readFileSync(file).length - 100))
    const first = place(join(base, 'pg-1'), url)
    await expectCode(restore({ config: first, input: broken, identities: [identity] }), 'backup_damaged', /damaged/)
    expect(existsSync(first.dataDir)).toBe(false)
    // The schema, created inside the restore's transaction, went with it.
    const raw = connectDatabase({ dataDir: first.dataDir, databaseUrl: url })
    try {
      expect(await listTables(raw.kysely, 'postgres')).toEqual([])
    } finally {
      await raw.close()
    }

    await restore({ config: place(join(base, 'pg-2'), url), input: file, identities: [identity] })
    const again = place(join(base, 'pg-3'), url)
    await expectCode(restore({ config: again, input: file, identities: [identity] }), 'restore_target_not_empty', /already holds Louder data/)
    expect(existsSync(again.dataDir)).toBe(false)
  })
})

interface Entry {
  path: string
  body: Buffer
}

/** The plaintext entries of a backup, in memory (small test backups only). */
async function unpack(file: string, identity: string): Promise<Entry[]> {
  const d = new Decrypter()
  d.addIdentity(identity)
  const entries: Entry[] = []
  const plain = await d.decrypt(readFileSync(file))
  for await (const entry of readTar((async function* () {
    yield plain
  })())) {
    const pieces: Buffer[] = []
    for await (const piece of entry.body) pieces.push(Buffer.from(piece))
    entries.push({ path: entry.path, body: Buffer.concat(pieces) })
  }
  return entries
}

/** Writes `entries`, edited, as a properly encrypted backup: only Louder's own checks can catch the edit. */
async function repack(entries: Entry[], recipient: string, out: string, edit: (entries: Entry[]) => Entry[]): Promise<void> {
  const chunks: Uint8Array[] = []
  const tar = new TarWriter(async (c) => void chunks.push(Buffer.from(c)), new Date())
  for (const { path, body } of edit(entries)) await tar.file(path, body.length, body)
  await tar.end()
  const e = new Encrypter()
  e.addRecipient(recipient)
  writeFileSync(out, await e.encrypt(Buffer.concat(chunks)))
}

function editManifest(entries: Entry[], edit: (m: Record<string, unknown>) => Record<string, unknown>): Entry[] {
  return resum(entries.map((x) => (x.path === 'louder-backup.json' ? { ...x, body: Buffer.from(JSON.stringify(edit(JSON.parse(x.body.toString())))) } : x)))
}

/** Recomputes SHA256SUMS so that only the check under test can object. */
function resum(entries: Entry[]): Entry[] {
  const sums = entries
    .filter((x) => !x.path.startsWith('blobs/') && x.path !== 'SHA256SUMS')
    .map((x) => `${createHash('sha256').update(x.body).digest('hex')}  ${x.path}\n`)
    .join('')
  return entries.map((x) => (x.path === 'SHA256SUMS' ? { ...x, body: Buffer.from(sums) } : x))
}

function blobPath(where: Place, key: string): string {
  return join(where.dataDir, 'blobs', key.slice(0, 2), key.slice(2, 4), key)
}

function flip(bytes: Buffer, at: number): Buffer {
  const copy = Buffer.from(bytes)
  copy[at] = copy[at]! ^ 0x01
  return copy
}

/** Where an age file's STREAM payload starts: after the header's MAC line and the 16-byte nonce. */
function payloadStart(file: Buffer): number {
  const mac = file.indexOf('\n---')
  return file.indexOf('\n', mac + 1) + 1 + 16
}
