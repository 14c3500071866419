import { createCipheriv, randomBytes } from 'node:crypto'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFinished } from 'vitest'
import { collect, pieces } from '../../test/support/byte-streams.ts'
import { tmpDir } from '../../test/support/tmp.ts'
import { openDatabase } from '../db/database.ts'
import type { DialectAdapter } from '../db/dialect/dialect-adapter.ts'
import { Envelope, SealError } from './envelope.ts'
import { Keyring, KeyringError } from './keyring.ts'

const CHUNK = 64 * 1024
const HEADER = 11
const TAG = 16

let db: DialectAdapter

beforeAll(async () => {
  db = await openDatabase({ dataDir: tmpDir('louder-envelope-'), databaseUrl: null })
})
afterAll(async () => {
  await db?.close()
})

function newKeyring(): Keyring {
  return Keyring.open(join(tmpDir('louder-keys-'), 'master.key'), { create: true })
}


describe('Envelope: sealed fields', () => {
  let envelope: Envelope
  beforeEach(() => {
    envelope = new Envelope(db.kysely, newKeyring())
  })

  it('opens what it sealed, in the same context', async () => {
    for (const value of ['witness: Amal Haddad, +961 …', '', 'نص عربي'.repeat(1000)]) {
      const sealed = await envelope.seal(value, 'observations.witnesses:1')
      expect(sealed).not.toContain(value || '\u0000')
      expect(await envelope.openText(sealed, 'observations.witnesses:1')).toBe(value)
    }
    const bytes = randomBytes(5_000)
    expect((await envelope.open(await envelope.seal(bytes, 'ctx'), 'ctx')).equals(bytes)).toBe(true)
  })

  it('gives each value its own data key unless told to share one', async () => {
    const a = await envelope.seal('a', 'ctx')
    const b = await envelope.seal('b', 'ctx')
    expect(Envelope.dataKeyIdOf(a)).not.toBe(Envelope.dataKeyIdOf(b))
    const c = await envelope.seal('c', 'ctx', { dataKeyId: Envelope.dataKeyIdOf(a)! })
    expect(Envelope.dataKeyIdOf(c)).toBe(Envelope.dataKeyIdOf(a))
    expect(await envelope.openText(c, 'ctx')).toBe('c')
    expect(Envelope.dataKeyIdOf('plain text')).toBeNull()
    // The same value sealed twice never looks the same.
    expect(await envelope.seal('a', 'ctx', { dataKeyId: Envelope.dataKeyIdOf(a)! })).not.toBe(a)
  })

  it('does not open in another context', async () => {
    const sealed = await envelope.seal('secret', 'observations.witnesses:1')
    await expect(envelope.open(sealed, 'observations.witnesses:2')).rejects.toBeInstanceOf(SealError)
    await expect(envelope.open(sealed, '')).rejects.toBeInstanceOf(SealError)
  })

  it('does not open a value that was tampered with', async () => {
    const sealed = await envelope.seal('secret value of some length', 'ctx')
    const [prefix, id, nonce, body] = sealed.split('.') as [string, string, string, string]
    const raw = Buffer.from(body, 'base64url')
    for (let i = 0; i < raw.length; i += 3) {
      const flipped = Buffer.from(raw)
      flipped[i]! ^= 0x01
      await expect(envelope.open([prefix, id, nonce, flipped.toString('base64url')].join('.'), 'ctx')).rejects.toBeInstanceOf(SealError)
    }
    const otherNonce = randomBytes(12).toString('base64url')
    await expect(envelope.open([prefix, id, otherNonce, body].join('.'), 'ctx')).rejects.toBeInstanceOf(SealError)
    for (const cut of [1, 16, raw.length - 1])
      await expect(envelope.open([prefix, id, nonce, raw.subarray(0, raw.length - cut).toString('base64url')].join('.'), 'ctx')).rejects.toBeInstanceOf(SealError)
  })

  it('refuses authentication tags shorter than 128 bits', async () => {
    // Someone who can write to the database could otherwise forge a value with a 4-byte tag by trying 2^32 of them.
    // Here the forgery is made with the data key itself, to show that such a short tag would be accepted.
    const sealed = await envelope.seal('x', 'ctx')
    const id = Envelope.dataKeyIdOf(sealed)!
    const key = await envelope.dataKey(id)
    const nonce = randomBytes(12)
    const cipher = createCipheriv('aes-256-gcm', key, nonce)
    cipher.setAAD(Buffer.from('ctx'))
    cipher.final()
    const shortTag = cipher.getAuthTag().subarray(0, 4)
    await expect(envelope.open(`lse1.${id}.${nonce.toString('base64url')}.${shortTag.toString('base64url')}`, 'ctx')).rejects.toBeInstanceOf(SealError)
  })

  it('refuses what is not a sealed value', async () => {
    for (const bad of ['', 'plain', 'lse1', 'lse1.a.b', 'lse2.a.b.c', 'lse1..b.c'])
      await expect(envelope.open(bad, 'ctx')).rejects.toBeInstanceOf(SealError)
    await expect(envelope.open('lse1.00000000-0000-7000-8000-000000000000.AAAA.AAAA', 'ctx')).rejects.toThrow(/does not exist/)
  })

  it('never opens a value again once its data key is destroyed', async () => {
    const keyring = newKeyring()
    const sealer = new Envelope(db.kysely, keyring)
    const sealed = await sealer.seal('shred me', 'ctx')
    const id = Envelope.dataKeyIdOf(sealed)!
    expect(await sealer.openText(sealed, 'ctx')).toBe('shred me')
    await sealer.destroyDataKey(id)
    await expect(sealer.open(sealed, 'ctx')).rejects.toThrow(SealError)
    await expect(new Envelope(db.kysely, keyring).open(sealed, 'ctx')).rejects.toThrow(/destroyed/)
    const row = await db.kysely.selectFrom('data_keys').selectAll().where('id', '=', id).executeTakeFirstOrThrow()
    expect(row.wrapped).toBe('')
    expect(row.destroyed_at).not.toBeNull()
  })

  it('creates a data key inside the caller\'s transaction', async () => {
    let id = ''
    await expect(
      db.writeTransaction(async (trx) => {
        id = (await envelope.newDataKey(trx)).id
        throw new Error('rolled back')
      }),
    ).rejects.toThrow('rolled back')
    const row = await db.kysely.selectFrom('data_keys').select('id').where('id', '=', id).executeTakeFirst()
    expect(row).toBeUndefined()
  })

  it('says so when the master key that wrapped a data key is missing', async () => {
    const sealed = await envelope.seal('x', 'ctx')
    const stranger = new Envelope(db.kysely, newKeyring())
    await expect(stranger.open(sealed, 'ctx')).rejects.toBeInstanceOf(KeyringError)
  })
})

describe('Envelope: master key rotation', () => {
  it('re-wraps every data key, and old data opens before and after the old key is retired', async () => {
    const file = join(tmpDir('louder-keys-'), 'master.key')
    const keyring = Keyring.open(file, { create: true })
    const oldKeyId = keyring.active.id
    // A database of its own, so that every data key in it is this keyring's.
    const db = await openDatabase({ dataDir: tmpDir('louder-envelope-'), databaseUrl: null })
    onTestFinished(() => db.close())
    const envelope = new Envelope(db.kysely, keyring)
    const values = Array.from({ length: 6 }, (_, i) => `value ${i}`)
    const sealed = await Promise.all(values.map((v, i) => envelope.seal(v, `ctx:${i}`)))
    const mine = () => db.kysely.selectFrom('data_keys').selectAll().execute()
    expect((await mine()).map((r) => r.kek_id)).toEqual(Array(6).fill(oldKeyId))

    const progress: [number, number][] = []
    const rotated = await envelope.rotateMasterKey((done, total) => progress.push([done, total]))
    expect(rotated.rewrapped).toBe(6)
    expect(rotated.masterKeyId).toBe(keyring.active.id)
    expect(rotated.masterKeyId).not.toBe(oldKeyId)
    expect(progress).toEqual([1, 2, 3, 4, 5, 6].map((n) => [n, 6]))
    expect((await mine()).map((r) => r.kek_id)).toEqual(Array(6).fill(rotated.masterKeyId))

    // A process that starts now has both keys in the file and no cached data keys.
    const bothKeys = Keyring.open(file, { create: false })
    expect(bothKeys.ids).toEqual([oldKeyId, rotated.masterKeyId])
    const fresh = new Envelope(db.kysely, bothKeys)
    for (const [i, s] of sealed.entries()) expect(await fresh.openText(s, `ctx:${i}`)).toBe(values[i])

    bothKeys.retireOldKeys()
    const onlyNew = Keyring.open(file, { create: false })
    expect(onlyNew.ids).toEqual([rotated.masterKeyId])
    const afterRetire = new Envelope(db.kysely, onlyNew)
    for (const [i, s] of sealed.entries()) expect(await afterRetire.openText(s, `ctx:${i}`)).toBe(values[i])

    // Rotating again re-wraps them again.
    expect((await afterRetire.rotateMasterKey()).rewrapped).toBe(6)
    const newest = new Envelope(db.kysely, Keyring.open(file, { create: false }))
    expect(await newest.openText(sealed[0]!, 'ctx:0')).toBe(values[0])
  })
})

describe('Envelope: sealed streams', () => {
  let envelope: Envelope
  let dataKeyId: string
  beforeAll(async () => {
    envelope = new Envelope(db.kysely, newKeyring())
    dataKeyId = (await envelope.newDataKey()).id
  })

  const seal = (bytes: Uint8Array, sizes?: number[]) => collect(envelope.encryptStream(dataKeyId, pieces(bytes, sizes)))
  const unseal = (bytes: Uint8Array, sizes?: number[]) => collect(envelope.decryptStream(dataKeyId, pieces(bytes, sizes)))

  it.each([
    ['0 bytes', 0],
    ['1 byte', 1],
    ['exactly one chunk (64 KiB)', CHUNK],
    ['one chunk and one byte', CHUNK + 1],
    ['about 1 MiB', 1_048_576 + 4_099],
  ])('round-trips %s', async (_what, length) => {
    const plain = randomBytes(length)
    const sealed = await seal(plain, [1_000, 70_000, 13])
    const chunks = Math.max(1, Math.ceil(length / CHUNK))
    expect(sealed.length).toBe(HEADER + length + chunks * TAG)
    expect((await unseal(sealed)).equals(plain)).toBe(true)
    // However the sealed bytes arrive.
    expect((await unseal(sealed, [1, 7, 65_552, 100_000])).equals(plain)).toBe(true)
  })

  it('round-trips any bytes, however both sides are chunked (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 3 * CHUNK + 100 }),
        fc.array(fc.integer({ min: 1, max: 2 * CHUNK }), { minLength: 1, maxLength: 5 }),
        fc.array(fc.integer({ min: 1, max: 2 * CHUNK }), { minLength: 1, maxLength: 5 }),
        async (plain, inSizes, outSizes) => {
          const sealed = await seal(plain, inSizes)
          expect((await unseal(sealed, outSizes)).equals(Buffer.from(plain))).toBe(true)
        },
      ),
      { numRuns: 40, seed: 20250101 },
    )
  })

  it('never seals the same bytes the same way twice', async () => {
    const plain = randomBytes(100)
    expect((await seal(plain)).equals(await seal(plain))).toBe(false)
  })

  describe('detects tampering', () => {
    let plain: Buffer
    let sealed: Buffer
    const chunkAt = (i: number) => HEADER + i * (CHUNK + TAG)
    beforeAll(async () => {
      // Three chunks: two full, one short last.
      plain = randomBytes(2 * CHUNK + 5_000)
      sealed = await seal(plain)
    })
    const refused = (bytes: Uint8Array) => expect(unseal(bytes)).rejects.toBeInstanceOf(SealError)

    it('truncation anywhere', async () => {
      for (const length of [0, 5, HEADER - 1, HEADER, HEADER + 15, HEADER + 16, chunkAt(1), chunkAt(1) + 1, chunkAt(2), sealed.length - 1])
        await refused(sealed.subarray(0, length))
    })

    it('a stream cut exactly after a full chunk, when there is no short last chunk', async () => {
      const twoFull = await seal(randomBytes(2 * CHUNK))
      // Two chunks, the second flagged last; dropping it leaves a first chunk not flagged last.
      await refused(twoFull.subarray(0, chunkAt(1)))
    })

    it('chunks reordered, dropped or repeated', async () => {
      const c = [0, 1].map((i) => sealed.subarray(chunkAt(i), chunkAt(i + 1)))
      const header = sealed.subarray(0, HEADER)
      const last = sealed.subarray(chunkAt(2))
      await refused(Buffer.concat([header, c[1]!, c[0]!, last]))
      await refused(Buffer.concat([header, c[0]!, last]))
      await refused(Buffer.concat([header, c[0]!, c[0]!, c[1]!, last]))
      await refused(Buffer.concat([header, last]))
    })

    it('garbage appended after the last chunk', async () => {
      for (const extra of [1, 16, 1_000, CHUNK + TAG + 1]) await refused(Buffer.concat([sealed, randomBytes(extra)]))
    })

    it('a chunk spliced in from another stream under the same data key', async () => {
      const other = await seal(randomBytes(2 * CHUNK + 5_000))
      await refused(Buffer.concat([sealed.subarray(0, chunkAt(1)), other.subarray(chunkAt(1), chunkAt(2)), sealed.subarray(chunkAt(2))]))
    })

    it('a single flipped bit, in the header, any chunk or any tag', async () => {
      const positions = [0, 3, 4, 10, HEADER, HEADER + 1_000, chunkAt(1) - 1, chunkAt(1) - TAG, chunkAt(1), chunkAt(2) - 1, chunkAt(2), sealed.length - TAG, sealed.length - 1]
      for (const at of positions)
        for (const bit of [0, 7]) {
          const flipped = Buffer.from(sealed)
          flipped[at]! ^= 1 << bit
          await refused(flipped)
        }
    })

    it('the wrong data key, or a destroyed one', async () => {
      const other = await envelope.newDataKey()
      await expect(collect(envelope.decryptStream(other.id, pieces(sealed)))).rejects.toBeInstanceOf(SealError)
      const doomed = await envelope.newDataKey()
      const sealedDoomed = await collect(envelope.encryptStream(doomed.id, pieces(plain)))
      await envelope.destroyDataKey(doomed.id)
      await expect(collect(envelope.decryptStream(doomed.id, pieces(sealedDoomed)))).rejects.toBeInstanceOf(SealError)
    })

    it('but not an untouched stream', async () => {
      expect((await unseal(sealed)).equals(plain)).toBe(true)
    })
  })
})
