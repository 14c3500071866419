import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import type { Kysely } from 'kysely'
import { uuidv7 } from '../core/ids.ts'
import type { ByteSource } from '../core/ports/byte-source.ts'
import type { Database } from '../db/schema.ts'
import { type Keyring, KeyringError } from './keyring.ts'
import type { SealingPool } from './sealing-pool.ts'
import { chunkNonce, STREAM_CHUNK, STREAM_MAGIC, STREAM_PREFIX_BYTES, STREAM_TAG, StreamSealing } from './stream-seal.ts'

/** A value that cannot be opened: wrong key, wrong context, tampered or truncated ciphertext, destroyed key. */
export class SealError extends Error {
  readonly code = 'seal_broken'
}

const FIELD_PREFIX = 'lse1'
const CHUNK = STREAM_CHUNK
const TAG = STREAM_TAG

/**
 * Envelope encryption: every sealed value or blob has its own data key (AES-256-GCM), stored only wrapped
 * by the master key. Rotating the master key re-wraps data keys and never touches the data; destroying a
 * data key makes what it sealed unreadable for good (crypto-shredding).
 */
export class Envelope {
  readonly #db: Kysely<Database>
  readonly #keyring: Keyring
  readonly #cache = new Map<string, Buffer>()
  readonly #pool: SealingPool | null

  /** `pool`: threads that seal streams off the event loop (`sealStream`); without one, streams are sealed in process. */
  constructor(db: Kysely<Database>, keyring: Keyring, options: { pool?: SealingPool } = {}) {
    this.#db = db
    this.#keyring = keyring
    this.#pool = options.pool ?? null
  }

  /** Creates and stores a new data key; `db` lets a caller create it inside its own transaction. */
  async newDataKey(db: Kysely<Database> = this.#db): Promise<{ id: string; key: Buffer }> {
    const key = randomBytes(32)
    const id = uuidv7()
    const kek = this.#keyring.active
    await db.insertInto('data_keys').values({ id, kek_id: kek.id, wrapped: wrap(kek.key, key, id), created_at: Date.now(), destroyed_at: null }).execute()
    this.#remember(id, key)
    return { id, key }
  }

  async reserveDataKey(): Promise<string> {
    return (await this.newDataKey()).id
  }

  async dataKey(id: string): Promise<Buffer> {
    const cached = this.#cache.get(id)
    if (cached) return cached
    const row = await this.#db.selectFrom('data_keys').selectAll().where('id', '=', id).executeTakeFirst()
    if (!row) throw new SealError(`data key ${id} does not exist`)
    if (row.destroyed_at !== null) throw new SealError(`data key ${id} was destroyed`)
    const kek = this.#keyring.byId(row.kek_id)
    if (!kek) throw new KeyringError(`master key ${row.kek_id} is not in ${this.#keyring.file}; restore it from escrow`)
    const key = unwrap(kek.key, row.wrapped, id)
    this.#remember(id, key)
    return key
  }

  /**
   * Seals a field value. `context` (e.g. `observations.witnesses:<id>`) is bound as associated data, so a
   * ciphertext copied to another record or field does not open there.
   */
  async seal(plaintext: string | Buffer, context: string, options: { dataKeyId?: string; db?: Kysely<Database> } = {}): Promise<string> {
    const { id, key } = options.dataKeyId ? { id: options.dataKeyId, key: await this.dataKey(options.dataKeyId) } : await this.newDataKey(options.db)
    const nonce = randomBytes(12)
    const cipher = createCipheriv('aes-256-gcm', key, nonce)
    cipher.setAAD(Buffer.from(context))
    const body = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()])
    return `${FIELD_PREFIX}.${id}.${nonce.toString('base64url')}.${body.toString('base64url')}`
  }

  async open(sealed: string, context: string): Promise<Buffer> {
    const [prefix, id, nonce, body] = sealed.split('.')
    if (prefix !== FIELD_PREFIX || !id || !nonce || !body) throw new SealError('not a sealed value')
    const key = await this.dataKey(id)
    const raw = Buffer.from(body, 'base64url')
    try {
      // authTagLength: without it GCM accepts a tag as short as 4 bytes, and a value whose body is only a
      // short tag could be forged by trying 2^32 of them.
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(nonce, 'base64url'), { authTagLength: TAG })
      decipher.setAAD(Buffer.from(context))
      decipher.setAuthTag(raw.subarray(raw.length - TAG))
      return Buffer.concat([decipher.update(raw.subarray(0, raw.length - TAG)), decipher.final()])
    } catch {
      throw new SealError('sealed value does not open: altered, or opened in the wrong context')
    }
  }

  async openText(sealed: string, context: string): Promise<string> {
    return (await this.open(sealed, context)).toString('utf8')
  }

  /** The data key a sealed value used, so related fields of one record can share it. */
  static dataKeyIdOf(sealed: string): string | null {
    const [prefix, id] = sealed.split('.')
    return prefix === FIELD_PREFIX && id ? id : null
  }

  /** Encrypts a byte stream in 64 KiB authenticated chunks (the STREAM construction): no chunk can be altered, reordered or dropped unnoticed. */
  async *encryptStream(dataKeyId: string, source: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
    const sealing = new StreamSealing(await this.dataKey(dataKeyId))
    yield sealing.header()
    for await (const piece of source) {
      const out = sealing.push(piece)
      if (out.length > 0) yield out
    }
    yield sealing.finish()
  }

  /**
   * `encryptStream` that also hashes the plaintext, in one pass. With a pool the hashing and encryption run on
   * its threads (the event loop only hands pieces over), so two items seal on two cores at once.
   */
  sealStream(dataKeyId: string, source: ByteSource): { body: AsyncIterable<Uint8Array>; sha256(): string } {
    const key = () => this.dataKey(dataKeyId)
    if (this.#pool) return this.#pool.seal(key, source)
    let digest: string | null = null
    async function* body(): AsyncGenerator<Buffer> {
      const sealing = new StreamSealing(await key(), { hashPlaintext: true })
      yield sealing.header()
      for await (const piece of source) {
        const out = sealing.push(piece)
        if (out.length > 0) yield out
      }
      yield sealing.finish()
      digest = sealing.sha256()
    }
    return {
      body: body(),
      sha256() {
        if (digest === null) throw new Error('the plaintext hash is known only once the sealed body has been read to its end')
        return digest
      },
    }
  }

  async *decryptStream(dataKeyId: string, source: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
    const key = await this.dataKey(dataKeyId)
    let pending = Buffer.alloc(0)
    let prefix: Buffer | null = null
    let counter = 0
    let done = false
    for await (const piece of source) {
      pending = pending.length === 0 ? Buffer.from(piece) : Buffer.concat([pending, piece])
      if (!prefix) {
        const headerBytes = STREAM_MAGIC.length + STREAM_PREFIX_BYTES
        if (pending.length < headerBytes) continue
        if (!pending.subarray(0, STREAM_MAGIC.length).equals(STREAM_MAGIC)) throw new SealError('not a sealed stream')
        prefix = Buffer.from(pending.subarray(STREAM_MAGIC.length, headerBytes))
        pending = pending.subarray(headerBytes)
      }
      while (pending.length > CHUNK + TAG) {
        if (done) throw new SealError('sealed stream has data after its last chunk')
        yield openChunk(key, prefix, counter++, pending.subarray(0, CHUNK + TAG), false)
        pending = pending.subarray(CHUNK + TAG)
      }
    }
    if (!prefix) throw new SealError('sealed stream is truncated')
    yield openChunk(key, prefix, counter, pending, true)
    done = true
  }

  /** Re-wraps every data key under a new master key; the data itself is not touched. */
  async rotateMasterKey(onProgress?: (done: number, total: number) => void): Promise<{ masterKeyId: string; rewrapped: number }> {
    const next = this.#keyring.addKey()
    const stale = await this.#db.selectFrom('data_keys').select(['id', 'kek_id', 'wrapped']).where('kek_id', '!=', next.id).execute()
    let done = 0
    for (const row of stale) {
      const kek = this.#keyring.byId(row.kek_id)
      if (!kek) throw new KeyringError(`master key ${row.kek_id} is missing; cannot re-wrap data key ${row.id}`)
      const key = unwrap(kek.key, row.wrapped, row.id)
      await this.#db.updateTable('data_keys').set({ kek_id: next.id, wrapped: wrap(next.key, key, row.id) }).where('id', '=', row.id).where('kek_id', '=', row.kek_id).execute()
      done++
      onProgress?.(done, stale.length)
    }
    return { masterKeyId: next.id, rewrapped: done }
  }

  /** Crypto-shreds a data key: its wrapped bytes are erased, and whatever it sealed can never be opened again. */
  async destroyDataKey(id: string): Promise<void> {
    await this.#db.updateTable('data_keys').set({ wrapped: '', destroyed_at: Date.now() }).where('id', '=', id).execute()
    this.#cache.delete(id)
  }

  #remember(id: string, key: Buffer): void {
    if (this.#cache.size >= 10_000) this.#cache.delete(this.#cache.keys().next().value!)
    this.#cache.set(id, key)
  }
}

function wrap(kek: Buffer, key: Buffer, id: string): string {
  const nonce = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', kek, nonce)
  cipher.setAAD(Buffer.from(`louder-data-key:${id}`))
  return Buffer.concat([nonce, cipher.update(key), cipher.final(), cipher.getAuthTag()]).toString('base64')
}

function unwrap(kek: Buffer, wrapped: string, id: string): Buffer {
  const raw = Buffer.from(wrapped, 'base64')
  try {
    const decipher = createDecipheriv('aes-256-gcm', kek, raw.subarray(0, 12), { authTagLength: TAG })
    decipher.setAAD(Buffer.from(`louder-data-key:${id}`))
    decipher.setAuthTag(raw.subarray(raw.length - TAG))
    return Buffer.concat([decipher.update(raw.subarray(12, raw.length - TAG)), decipher.final()])
  } catch {
    throw new SealError(`data key ${id} does not unwrap: the master key file does not match this database`)
  }
}

function openChunk(key: Buffer, prefix: Buffer, counter: number, sealed: Buffer, last: boolean): Buffer {
  if (sealed.length < TAG) throw new SealError('sealed stream is truncated')
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, chunkNonce(prefix, counter, last), { authTagLength: TAG })
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG))
    return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - TAG)), decipher.final()])
  } catch {
    throw new SealError(`sealed stream chunk ${counter} is altered, reordered or truncated`)
  }
}
