import { Decrypter, Encrypter } from 'age-encryption'

/**
 * Passphrase encryption of a report's restricted part (notes, witnesses): an age file with one scrypt stanza
 * (https://age-encryption.org/v1), so `age -d` opens it by hand. `age-encryption` is imported here and in
 * src/ops/ only (test/architecture.test.ts).
 */

/** age's own default for passphrases (`age -p`). */
export const DEFAULT_SCRYPT_WORK_FACTOR = 18
/**
 * The highest work factor opened. scrypt at 2^N with r = 8 needs 2^N KiB of memory: the library accepts up to
 * 20 (1 GiB per file), which a hostile folder could ask for in every file. 18 is what `age -p` writes.
 */
export const MAX_SCRYPT_WORK_FACTOR = 18

export class RestrictedDecryptError extends Error {}

export async function encryptWithPassphrase(plaintext: string, passphrase: string, workFactor = DEFAULT_SCRYPT_WORK_FACTOR): Promise<Uint8Array> {
  if (!passphrase) throw new Error('the passphrase is empty')
  const encrypter = new Encrypter()
  encrypter.setPassphrase(passphrase)
  encrypter.setScryptWorkFactor(workFactor)
  return encrypter.encrypt(plaintext)
}

/** Opens an age file made with a passphrase; every failure is a RestrictedDecryptError saying why in words. */
export async function decryptWithPassphrase(file: Uint8Array, passphrase: string): Promise<string> {
  const header = Buffer.from(file.subarray(0, 256)).toString('latin1')
  if (!header.startsWith('age-encryption.org/v1\n')) throw new RestrictedDecryptError('is not an age file (age-encryption.org/v1)')
  const stanza = /^-> scrypt \S+ (\d+)$/m.exec(header)
  if (!stanza) throw new RestrictedDecryptError('is not encrypted with a passphrase (no scrypt stanza)')
  if (Number(stanza[1]) > MAX_SCRYPT_WORK_FACTOR) throw new RestrictedDecryptError(`asks for scrypt work factor ${stanza[1]}; at most ${MAX_SCRYPT_WORK_FACTOR} is opened`)
  const decrypter = new Decrypter()
  decrypter.addPassphrase(passphrase)
  let plain: Uint8Array
  try {
    plain = await decrypter.decrypt(file)
  } catch (err) {
    const message = (err as Error).message ?? String(err)
    if (/no identity matched/.test(message)) throw new RestrictedDecryptError('does not open with this passphrase (wrong passphrase?)')
    throw new RestrictedDecryptError(`could not be decrypted: ${message}`)
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(plain)
  } catch {
    throw new RestrictedDecryptError('decrypts to something that is not UTF-8 text')
  }
}
