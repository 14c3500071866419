import { createHash } from 'node:crypto'

/**
 * C2SP tlog-checkpoint and signed-note formats (github.com/C2SP/C2SP, tlog-checkpoint.md and
 * signed-note.md; the same as golang.org/x/mod/sumdb/note), so any transparency-log tooling can check
 * Louder's log with its own code:
 *
 *   <origin>\n<size>\n<base64 root>\n\n— <key name> <base64(key hash ‖ Ed25519 signature)>\n
 *
 * The signature covers the note text up to and including the newline after the root.
 */
export interface LogSigner {
  /** The key name; also the log's origin line. */
  readonly name: string
  /** The raw 32-byte Ed25519 public key. */
  readonly publicKey: Buffer
  sign(message: Buffer): Buffer
}

/** The signature algorithm byte for Ed25519 in signed notes. */
const ED25519 = 0x01

/** A key name or origin: non-empty, printable, no spaces and no '+' (the verifier key string's separator). */
export function isValidKeyName(name: string): boolean {
  return /^[\x21-\x2a\x2c-\x7e]+$/.test(name)
}

/** First 4 bytes of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key): which key signed a line (signed-note.md). */
export function keyHash(name: string, publicKey: Buffer): Buffer {
  return createHash('sha256').update(name, 'utf8').update(Buffer.from([0x0a, ED25519])).update(publicKey).digest().subarray(0, 4)
}

/** `<name>+<key hash, 8 hex digits>+<base64(0x01 ‖ public key)>`: what a verifier is configured with. */
export function verifierKey(name: string, publicKey: Buffer): string {
  return `${name}+${keyHash(name, publicKey).toString('hex')}+${Buffer.concat([Buffer.from([ED25519]), publicKey]).toString('base64')}`
}

/** The checkpoint body (tlog-checkpoint.md): origin, decimal size, base64 root, each ending in a newline. */
export function checkpointBody(origin: string, size: number, root: Buffer): string {
  if (!isValidKeyName(origin)) throw new TypeError(`log origin ${JSON.stringify(origin)} must be printable, without spaces or '+'`)
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`bad tree size ${size}`)
  return `${origin}\n${size}\n${root.toString('base64')}\n`
}

/** Signs a note body: the body, a blank line, and one signature line. */
export function signNote(body: string, signer: LogSigner): string {
  if (!body.endsWith('\n')) throw new TypeError('a note body ends with a newline')
  const signature = signer.sign(Buffer.from(body, 'utf8'))
  const line = `\u2014 ${signer.name} ${Buffer.concat([keyHash(signer.name, signer.publicKey), signature]).toString('base64')}\n`
  return `${body}\n${line}`
}

/** A checkpoint as read back from its note (not verified: see the tests for verification from the note alone). */
export function parseCheckpointBody(note: string): { origin: string; size: number; root: Buffer } | null {
  const end = note.indexOf('\n\n')
  if (end < 0) return null
  const lines = note.slice(0, end).split('\n')
  if (lines.length < 3 || !/^(0|[1-9][0-9]*)$/.test(lines[1]!)) return null
  const root = Buffer.from(lines[2]!, 'base64')
  if (root.length !== 32 || root.toString('base64') !== lines[2]) return null
  return { origin: lines[0]!, size: Number(lines[1]), root }
}
