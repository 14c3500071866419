import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign } from 'node:crypto'
import type { LogSigner } from '../core/custody/checkpoint.ts'
import { isValidKeyName } from '../core/custody/checkpoint.ts'
import type { CustodyLogRepository } from '../core/custody/custody-log-repository.ts'
import type { Sealer } from '../core/ports/sealer.ts'

/**
 * The custody log's Ed25519 signing key. It is kept in the database, its private half sealed with envelope
 * encryption under the master key, rather than in a second key file: every process on a shared PostgreSQL
 * sees the same key, backups carry it (with the master key, inside their own encryption) and restores bring
 * it back, and there is no second secret file to escrow. Losing or changing it would orphan every
 * checkpoint already published, so it is made once and never replaced.
 */
interface LogKeyRecord {
  v: 1
  name: string
  /** Raw 32-byte public key, base64. */
  publicKey: string
  /** PKCS#8 DER of the private key, sealed (context `custody.log-key:<name>`). */
  privateKey: string
}

/** The log's name (its origin line and key name) for a public URL: `louder.<host>/log`. */
export function logNameFor(publicUrl: string): string {
  const name = `louder.${new URL(publicUrl).host}/log`
  if (!isValidKeyName(name)) throw new Error(`cannot make a log name from ${publicUrl}`)
  return name
}

const context = (name: string) => `custody.log-key:${name}`

function rawPublicKey(key: KeyObject): Buffer {
  const jwk = key.export({ format: 'jwk' })
  return Buffer.from(jwk.x!, 'base64url')
}

/**
 * The key, made on first use. The name is fixed when the key is made: a later change of public URL must
 * not change the origin of a log whose checkpoints are already out in the world.
 */
export function makeLogKey(deps: { log: () => CustodyLogRepository; sealer: Sealer; name: string }): { signer(): Promise<LogSigner> } {
  let opened: Promise<LogSigner> | null = null
  return {
    signer() {
      opened ??= openOrCreate(deps).catch((err: unknown) => {
        opened = null
        throw err
      })
      return opened
    },
  }
}

async function openOrCreate(deps: { log: () => CustodyLogRepository; sealer: Sealer; name: string }): Promise<LogSigner> {
  const log = deps.log()
  let text = await log.logKey()
  if (text === null) {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519')
    const record: LogKeyRecord = {
      v: 1,
      name: deps.name,
      publicKey: rawPublicKey(publicKey).toString('base64'),
      privateKey: await deps.sealer.seal(privateKey.export({ format: 'der', type: 'pkcs8' }), context(deps.name)),
    }
    // Two processes may both get here on a new database: the first record stored wins, the other is dropped.
    text = await log.saveLogKeyIfAbsent(JSON.stringify(record))
  }
  const record = JSON.parse(text) as LogKeyRecord
  const privateKey = createPrivateKey({ key: await deps.sealer.open(record.privateKey, context(record.name)), format: 'der', type: 'pkcs8' })
  const publicKey = rawPublicKey(createPublicKey(privateKey))
  if (publicKey.toString('base64') !== record.publicKey) throw new Error('the custody log key record is damaged: its public key does not match its private key')
  return { name: record.name, publicKey, sign: (message) => sign(null, message, privateKey) }
}
