import { createHash, randomBytes } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync, openSync, fsyncSync, closeSync } from 'node:fs'
import { dirname } from 'node:path'

/** A 256-bit master key (key-encryption key); its id is a fingerprint, safe to store and log. */
export interface MasterKey {
  id: string
  key: Buffer
}

export class KeyringError extends Error {
  readonly code = 'keyring'
}

const LINE = /^louder-master-key v1 ([0-9a-f]{16}) ([A-Za-z0-9+/]{43}=)$/

/**
 * Master keys live in one file outside the database (DATA/keys/master.key, mode 0600, or
 * LOUDER_MASTER_KEY_FILE): one key per line, the last line is the key that wraps new data keys.
 * Rotation appends a key and re-wraps every data key; older lines stay until the operator retires them.
 * Losing this file loses every sealed field and original: escrow it (README).
 */
export class Keyring {
  readonly file: string
  #keys: MasterKey[] = []

  private constructor(file: string) {
    this.file = file
  }

  /** Opens the key file, or creates it with a fresh key when `create` is set and it does not exist. */
  static open(file: string, options: { create: boolean }): Keyring {
    const ring = new Keyring(file)
    if (!existsSync(file)) {
      if (!options.create)
        throw new KeyringError(`master key file ${file} not found; restore it from escrow, or point LOUDER_MASTER_KEY_FILE at it`)
      ring.#keys = [generateMasterKey()]
      ring.#write()
    } else ring.reload()
    return ring
  }

  reload(): void {
    const lines = readFileSync(this.file, 'utf8').split('\n').filter((l) => l.trim() !== '')
    const keys = lines.map((line, i) => {
      const m = LINE.exec(line.trim())
      if (!m) throw new KeyringError(`master key file ${this.file}: line ${i + 1} is not a Louder master key`)
      const key = Buffer.from(m[2]!, 'base64')
      if (fingerprint(key) !== m[1]) throw new KeyringError(`master key file ${this.file}: line ${i + 1} is damaged (fingerprint mismatch)`)
      return { id: m[1]!, key }
    })
    if (keys.length === 0) throw new KeyringError(`master key file ${this.file} holds no key`)
    this.#keys = keys
  }

  get active(): MasterKey {
    return this.#keys[this.#keys.length - 1]!
  }

  get ids(): string[] {
    return this.#keys.map((k) => k.id)
  }

  byId(id: string): MasterKey | undefined {
    let key = this.#keys.find((k) => k.id === id)
    if (!key) {
      // Another process may have rotated: read the file again before giving up.
      this.reload()
      key = this.#keys.find((k) => k.id === id)
    }
    return key
  }

  /** Adds a new active key (keeping the old ones for data keys not yet re-wrapped). */
  addKey(): MasterKey {
    const key = generateMasterKey()
    this.#keys.push(key)
    this.#write()
    return key
  }

  /** Drops every key but the active one; only once nothing is wrapped by them any more. */
  retireOldKeys(): string[] {
    const retired = this.#keys.slice(0, -1).map((k) => k.id)
    this.#keys = [this.active]
    this.#write()
    return retired
  }

  /** The file's text, for backups (which are themselves encrypted). */
  serialize(): string {
    return this.#keys.map((k) => `louder-master-key v1 ${k.id} ${k.key.toString('base64')}\n`).join('')
  }

  #write(): void {
    writeSecretFile(this.file, this.serialize())
  }
}

export function fingerprint(key: Buffer): string {
  return createHash('sha256').update('louder-master-key').update(key).digest('hex').slice(0, 16)
}

function generateMasterKey(): MasterKey {
  const key = randomBytes(32)
  return { id: fingerprint(key), key }
}

/** Writes a file only its owner can read, durably: temp, fsync, rename, fsync the directory. */
export function writeSecretFile(file: string, text: string): void {
  const dir = dirname(file)
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const tmp = `${file}.tmp-${process.pid}`
  writeFileSync(tmp, text, { mode: 0o600 })
  const fd = openSync(tmp, 'r')
  fsyncSync(fd)
  closeSync(fd)
  renameSync(tmp, file)
  chmodSync(file, 0o600)
  const dfd = openSync(dir, 'r')
  fsyncSync(dfd)
  closeSync(dfd)
}
