import { createPublicKey, generateKeyPairSync } from 'node:crypto'
import { chmod, mkdir, open, readFile, rename, rm } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { deviceKeyId, devicePrivateKey, parseCaptureRecord, signCaptureRecord } from '../core/evidence/capture-record.ts'
import { rawPublicKey } from '../core/evidence/device-key.ts'

/**
 * A device directory holds one Ed25519 key: `device.key` (PKCS#8 PEM, mode 0600: whoever reads it can sign
 * as the device) and `device.pub` (base64 of the raw public key, what the server is sent).
 */
export const DEFAULT_DEVICE_DIR = join(homedir(), '.louder', 'device')
const PRIVATE_FILE = 'device.key'
const PUBLIC_FILE = 'device.pub'

export interface DeviceKeyInfo {
  keyId: string
  publicKey: string
}

/** Makes a new key. Refuses to replace one unless `force`: a lost key cannot sign again, and its captures stay its own. */
export async function initDeviceKey(dir: string, force: boolean): Promise<DeviceKeyInfo> {
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const { publicKey, privateKey } = generateKeyPairSync('ed25519')
  const raw = rawPublicKey(publicKey)
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }) as string
  const target = join(dir, PRIVATE_FILE)
  if (force) {
    // Written beside and renamed, so a crash leaves the old key or the new one, never half a key.
    const temp = `${target}.${process.pid}.tmp`
    await writeDurably(temp, pem, 'wx')
    await rename(temp, target)
  } else {
    try {
      await writeDurably(target, pem, 'wx')
    } catch (err) {
      if ((err as { code?: string }).code === 'EEXIST') throw new Error(`${target} already exists; use --force to replace it (the old key then signs nothing more)`)
      throw err
    }
  }
  await writeDurably(join(dir, PUBLIC_FILE), `${raw.toString('base64')}\n`, 'w')
  return { keyId: deviceKeyId(raw), publicKey: raw.toString('base64') }
}

async function writeDurably(path: string, text: string, flag: 'w' | 'wx'): Promise<void> {
  const file = await open(path, flag, 0o600)
  try {
    await file.writeFile(text)
    await file.sync()
  } catch (err) {
    await file.close()
    await rm(path, { force: true })
    throw err
  }
  await file.close()
  // The mode given to open() is masked by the umask; a private key must end up 0600 whatever it is.
  await chmod(path, 0o600)
}

/** Signs a capture record file with the directory's key; the record must name this key. */
export async function signRecordFile(dir: string, recordPath: string): Promise<string> {
  const key = devicePrivateKey(await readFile(join(dir, PRIVATE_FILE), 'utf8'))
  let json: unknown
  try {
    json = JSON.parse(await readFile(recordPath, 'utf8'))
  } catch (err) {
    throw new Error(`${recordPath}: ${err instanceof SyntaxError ? 'not JSON' : (err as Error).message}`)
  }
  let record
  try {
    record = parseCaptureRecord(json)
  } catch (err) {
    const errors = (err as { errors?: { field: string; message: string }[] }).errors ?? []
    throw new Error(`${recordPath} is not a valid capture record:\n${errors.map((e) => `${e.field || '/'} ${e.message}`).join('\n')}`)
  }
  const keyId = deviceKeyId(rawPublicKey(createPublicKey(key)))
  if (record.device.keyId !== keyId) throw new Error(`${recordPath} names device key ${record.device.keyId}, but this device's key is ${keyId}`)
  return signCaptureRecord(record, key)
}
