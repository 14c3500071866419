/**
 * Louder's proofs in a bag, checked after BagIt's: originals against their names and capture records,
 * capture signatures and the device keys' standing in the log, every custody event's inclusion in a signed
 * checkpoint, consistency between checkpoints, timestamps, and derivation lineage. Pure: the bag's files come
 * through `BagContents`, and RFC 3161 checks (CMS, certificate chains) through a `TimestampChecker`.
 */
import { createHash, verify } from 'node:crypto'
import { canonicalJson } from '../canonical-json.ts'
import { leafHash } from '../custody/merkle.ts'
import { verifyConsistency, verifyInclusion } from '../custody/verify.ts'
import { parseCaptureRecord, verifyCaptureSignature } from '../evidence/capture-record.ts'
import type { BagProblem } from './bagit-format.ts'
import { BAG, LOUDER_BAG_SCHEMA, type LouderBagManifest } from './bag-layout.ts'
import { type LogVerifierKey, parseVerifierKey, verifyCheckpointNote } from './signed-note.ts'

export interface BagContents {
  /** Payload files (`data/…`) with the SHA-256 BagIt validation computed while streaming them. */
  payload: ReadonlyMap<string, { sha256: string | null; bytes: number }>
  /** A small payload file's bytes (records, events, proofs); the adapter refuses huge ones. */
  read(path: string): Promise<Buffer>
}

/** Checks one RFC 3161 reply over a file's bytes with a TSA's certificate chain; a problem, or null when it holds. */
export interface TimestampChecker {
  check(reply: string, data: string, chain: string): Promise<string | null>
}

export interface ProofReport {
  problems: BagProblem[]
  /** What was checked or could not be, for the person running the verifier. */
  notes: string[]
}

interface LoggedEvent {
  index: number
  event: Record<string, unknown> & { type: string }
}

const SHA256_HEX = /^[0-9a-f]{64}$/
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex')

export async function verifyLouderProofs(bag: BagContents, timestamps: TimestampChecker | null): Promise<ProofReport> {
  const problems: BagProblem[] = []
  const notes: string[] = []
  const fail = (file: string, step: string, message: string) => problems.push({ file, step, message })
  if (!bag.payload.has(BAG.manifest)) {
    notes.push("Louder's proofs are absent: this is a plain BagIt bag (no data/louder.json).")
    return { problems, notes }
  }
  const json = async <T>(path: string, step: string): Promise<T | null> => {
    if (!bag.payload.has(path)) {
      fail(path, step, 'is missing')
      return null
    }
    try {
      return JSON.parse((await bag.read(path)).toString('utf8')) as T
    } catch (err) {
      fail(path, step, `is not readable JSON (${(err as Error).message})`)
      return null
    }
  }

  const manifest = await json<LouderBagManifest>(BAG.manifest, 'layout')
  if (!manifest) return { problems, notes }
  if (manifest.schema !== LOUDER_BAG_SCHEMA || manifest.v !== 1 || !Array.isArray(manifest.originals) || !Array.isArray(manifest.checkpoints)) {
    fail(BAG.manifest, 'layout', 'is not a louder.bag version 1 manifest')
    return { problems, notes }
  }

  // The log key: every checkpoint and derivation record must be signed by it.
  let logKey: LogVerifierKey | null = null
  if (!bag.payload.has(BAG.logKey)) fail(BAG.logKey, 'log key', 'is missing')
  else {
    const parsed = parseVerifierKey((await bag.read(BAG.logKey)).toString('utf8'))
    if (typeof parsed === 'string') fail(BAG.logKey, 'log key', parsed)
    else {
      logKey = parsed
      notes.push(`Log key: ${(await bag.read(BAG.logKey)).toString('utf8').trim()} (compare it with the one Louder publishes at /api/v1/log/key).`)
    }
  }

  // Checkpoints, each signed by the log key, and consistency between consecutive ones.
  const roots = new Map<number, Buffer>()
  for (const size of manifest.checkpoints) {
    const path = BAG.checkpoint(size)
    if (!bag.payload.has(path)) {
      fail(path, 'checkpoint', 'is missing')
      continue
    }
    if (!logKey) continue
    const checked = verifyCheckpointNote((await bag.read(path)).toString('utf8'), logKey)
    if (typeof checked === 'string') fail(path, 'checkpoint', checked)
    else if (checked.size !== size) fail(path, 'checkpoint', `states size ${checked.size}, not ${size}`)
    else roots.set(size, checked.root)
  }
  const sizes = [...manifest.checkpoints].sort((a, b) => a - b)
  for (let i = 1; i < sizes.length; i++) {
    const [from, to] = [sizes[i - 1]!, sizes[i]!]
    const path = BAG.consistencyProof(from, to)
    const proof = await json<{ from: number; to: number; hashes: string[] }>(path, 'consistency')
    if (!proof) continue
    const a = roots.get(from)
    const b = roots.get(to)
    if (!a || !b) continue
    if (proof.from !== from || proof.to !== to || !Array.isArray(proof.hashes) || !verifyConsistency(from, to, a, b, hexes(proof.hashes)))
      fail(path, 'consistency', `does not prove the log of ${to} entries extends the log of ${from}`)
  }

  // Custody events: log order, each included in a signed checkpoint.
  const events: LoggedEvent[] = []
  if (!bag.payload.has(BAG.events)) fail(BAG.events, 'event', 'is missing')
  else {
    const lines = (await bag.read(BAG.events)).toString('utf8').split('\n').filter((l) => l !== '')
    let last = -1
    for (const [n, line] of lines.entries()) {
      let parsed: LoggedEvent
      try {
        parsed = JSON.parse(line) as LoggedEvent
      } catch {
        fail(BAG.events, 'event', `line ${n + 1} is not JSON`)
        continue
      }
      if (!Number.isSafeInteger(parsed.index) || parsed.index <= last || typeof parsed.event !== 'object' || parsed.event === null) {
        fail(BAG.events, 'event', `line ${n + 1} is not an event in log order`)
        continue
      }
      last = parsed.index
      events.push(parsed)
      const proofPath = BAG.inclusionProof(parsed.index)
      const proof = await json<{ index: number; size: number; hashes: string[] }>(proofPath, 'inclusion')
      if (!proof) continue
      const root = roots.get(proof.size)
      if (!root) {
        fail(proofPath, 'inclusion', `is against a tree of ${proof.size} entries, for which the bag has no valid signed checkpoint`)
        continue
      }
      const leaf = leafHash(Buffer.from(canonicalJson(parsed.event), 'utf8'))
      if (proof.index !== parsed.index || !Array.isArray(proof.hashes) || !verifyInclusion(parsed.index, proof.size, leaf, hexes(proof.hashes), root))
        fail(proofPath, 'inclusion', `event ${parsed.index} (line ${n + 1} of ${BAG.events}) is not in the signed log of ${proof.size} entries as given`)
    }
  }
  const eventsOf = (type: string) => events.filter((e) => e.event.type === type)

  // Originals: named by their hash, received in the log, capture records signed by a key in good standing.
  for (const sha of manifest.originals) {
    const path = BAG.original(sha)
    const file = bag.payload.get(path)
    if (!SHA256_HEX.test(sha) || !file) {
      fail(path, 'original', 'is missing')
      continue
    }
    if (file.sha256 !== sha) fail(path, 'original', `its SHA-256 is ${file.sha256}, not the hash it is named by`)
    if (!events.some((e) => (e.event.type === 'media.received' || e.event.type === 'capture.registered') && e.event.sha256 === sha))
      fail(path, 'original', 'no custody event in the bag records it')
    if (bag.payload.has(BAG.captureRecord(sha))) await checkCapture(bag, sha, file.bytes, eventsOf, fail)
  }

  // Media the inventory does not list: it would otherwise ride along unchecked (the inventory itself is unsigned).
  const listed = new Set([...manifest.originals.map(BAG.original), ...(manifest.derivatives ?? []).flatMap((d) => [BAG.derivative(d), BAG.derivation(d)])])
  for (const path of bag.payload.keys())
    if ((path.startsWith('data/originals/') || path.startsWith('data/derivatives/')) && !listed.has(path)) fail(path, 'layout', `is in the bag but ${BAG.manifest} does not list it`)

  // Derivatives: named by hash, signed derivation record from a parent in the bag, logged.
  for (const sha of manifest.derivatives ?? []) {
    const path = BAG.derivative(sha)
    const file = bag.payload.get(path)
    if (!SHA256_HEX.test(sha) || !file) {
      fail(path, 'derivative', 'is missing')
      continue
    }
    if (file.sha256 !== sha) fail(path, 'derivative', `its SHA-256 is ${file.sha256}, not the hash it is named by`)
    const recordPath = BAG.derivation(sha)
    const stored = await json<{ record: { parentSha256: string; operations: string[] }; signature: string; keyName: string }>(recordPath, 'lineage')
    if (!stored) continue
    const parent = stored.record?.parentSha256
    if (!manifest.originals.includes(parent) && !(manifest.derivatives ?? []).includes(parent)) fail(recordPath, 'lineage', `its parent ${parent} is not in the bag`)
    if (!logKey || stored.keyName !== logKey.name || !safeVerify(canonicalJson(stored.record), stored.signature, logKey))
      fail(recordPath, 'lineage', 'the derivation record is not signed by the log key')
    if (!eventsOf('derivative.created').some((e) => e.event.sha256 === sha && e.event.parentSha256 === parent))
      fail(recordPath, 'lineage', 'no derivative.created event in the bag records this derivation')
  }

  // RFC 3161 timestamps over checkpoints.
  for (const t of manifest.timestamps ?? []) {
    const reply = BAG.timestamp(t.size, t.n)
    if (!bag.payload.has(reply)) fail(reply, 'timestamp', 'is missing')
    else if (!bag.payload.has(BAG.tsaChain(t.tsa))) fail(BAG.tsaChain(t.tsa), 'timestamp', 'is missing')
    else if (!timestamps) notes.push(`${reply}: timestamp not checked (needs openssl)`)
    else {
      const problem = await timestamps.check(reply, BAG.checkpoint(t.size), BAG.tsaChain(t.tsa))
      if (problem) fail(reply, 'timestamp', problem)
    }
  }
  notes.push(
    `Louder's proofs: ${manifest.originals.length} originals, ${(manifest.derivatives ?? []).length} derivatives, ${events.length} custody events, ${sizes.length} checkpoints, ${(manifest.timestamps ?? []).length} timestamps.`,
  )
  return { problems, notes }
}

async function checkCapture(
  bag: BagContents,
  sha: string,
  byteLength: number,
  eventsOf: (type: string) => LoggedEvent[],
  fail: (file: string, step: string, message: string) => void,
): Promise<void> {
  const recordPath = BAG.captureRecord(sha)
  const sigPath = BAG.captureSignature(sha)
  const bytes = await bag.read(recordPath)
  let record
  try {
    record = parseCaptureRecord(JSON.parse(bytes.toString('utf8')))
  } catch (err) {
    fail(recordPath, 'capture record', `is not a valid capture record (${(err as Error).message})`)
    return
  }
  if (record.sha256 !== sha) fail(recordPath, 'capture record', `names media ${record.sha256}, not ${sha}`)
  if (record.byteLength !== byteLength) fail(recordPath, 'capture record', `declares ${record.byteLength} bytes; the original has ${byteLength}`)
  const registered = eventsOf('capture.registered').find((e) => e.event.sha256 === sha)
  if (!registered) {
    fail(recordPath, 'capture record', 'no capture.registered event in the bag logs it')
    return
  }
  if (registered.event.recordSha256 !== sha256(bytes)) fail(recordPath, 'capture record', 'is not the record the log registered (its SHA-256 differs)')
  const keyId = record.device.keyId
  const keyEvent = eventsOf('key.registered').find((e) => e.event.keyId === keyId)
  if (!keyEvent) {
    fail(recordPath, 'device key', `device key ${keyId} has no key.registered event in the bag`)
    return
  }
  if (!bag.payload.has(sigPath)) {
    fail(sigPath, 'signature', 'is missing')
    return
  }
  if (!verifyCaptureSignature(record, (await bag.read(sigPath)).toString('utf8').trim(), String(keyEvent.event.publicKey)))
    fail(sigPath, 'signature', `is not device key ${keyId}'s signature over the capture record`)
  // The log's order decides, never a device clock (core/evidence/device.ts keyVouchesAt).
  if (keyEvent.index >= registered.index) fail(recordPath, 'device key', `key ${keyId} was registered (event ${keyEvent.index}) after the capture was logged (event ${registered.index})`)
  const revoked = eventsOf('key.revoked').find((e) => e.event.keyId === keyId && e.index < registered.index)
  if (revoked) fail(recordPath, 'device key', `key ${keyId} was revoked (event ${revoked.index}) before the capture was logged (event ${registered.index})`)
}

function hexes(list: unknown[]): Buffer[] {
  return list.map((h) => (typeof h === 'string' && /^[0-9a-f]{64}$/.test(h) ? Buffer.from(h, 'hex') : Buffer.alloc(0)))
}

function safeVerify(message: string, signatureB64: unknown, key: LogVerifierKey): boolean {
  try {
    return typeof signatureB64 === 'string' && verify(null, Buffer.from(message, 'utf8'), key.publicKey, Buffer.from(signatureB64, 'base64'))
  } catch {
    return false
  }
}
