/**
 * What goes into a court bag for some incidents: the originals whose people agreed to court use, their
 * derivatives, capture records, the custody events about all of them (and about the device keys that signed
 * the records), a fresh signed checkpoint with an inclusion proof per event, earlier timestamped checkpoints
 * with consistency proofs between them. No I/O of its own: src/court/export-bag.ts writes what this gathers.
 */
import { type Actor, actorKey } from '../access/actor.ts'
import { authorize } from '../access/policy.ts'
import { auditEntry, type AuditOrigin } from '../audit/audit.ts'
import type { LogSigner } from '../custody/checkpoint.ts'
import { verifierKey } from '../custody/checkpoint.ts'
import type { StoredCheckpoint } from '../custody/custody-log-repository.ts'
import { consistencyProof, inclusionProof } from '../custody/custody-log.ts'
import { appendCustodyEvent } from '../custody/custody-log.ts'
import { signCheckpoint } from '../custody/sign-checkpoint.ts'
import { NotFoundError } from '../errors.ts'
import { captureRecordBytes } from '../evidence/capture-record.ts'
import { openCaptureRecord } from '../evidence/capture.service.ts'
import type { MediaItem, Sha256 } from '../evidence/media-item.ts'
import { consentedMedia } from '../incidents/public-view.ts'
import type { Repositories, Store } from '../ports/repositories.ts'
import type { Sealer } from '../ports/sealer.ts'
import { toRfc3339 } from '../time.ts'

export interface CaseExportDeps {
  store: Store
  sealer: Sealer
  signer: LogSigner
}

export interface GatheredItems {
  originals: MediaItem[]
  derivatives: MediaItem[]
  /** Consented media the observations name but the locker does not hold. */
  notHeld: Sha256[]
}

/** The consented originals of the incidents, and every derivative made from them (consent carries over). */
export async function gatherCaseItems(repos: Repositories, actor: Actor, incidentIds: readonly string[]): Promise<GatheredItems> {
  authorize(actor, 'court.export')
  for (const id of incidentIds) if (!(await repos.incidents.byId(id))) throw new NotFoundError('incident', id)
  const backing = await repos.incidents.backingObservations([...incidentIds])
  const wanted = [...new Set(incidentIds.flatMap((id) => consentedMedia(backing.get(id) ?? [], 'court')))]
  const originals: MediaItem[] = []
  const derivatives: MediaItem[] = []
  const notHeld: Sha256[] = []
  const seen = new Set<string>()
  const queue: Sha256[] = []
  for (const sha of wanted) {
    const item = await repos.mediaItems.bySha256(sha)
    if (!item) notHeld.push(sha)
    else if (!seen.has(sha)) {
      seen.add(sha)
      ;(item.kind === 'original' ? originals : derivatives).push(item)
      queue.push(sha)
    }
  }
  // Derivatives are found through the `derivative.created` events linked to their parent (ingest.ts logAbout).
  while (queue.length) {
    const parent = queue.shift()!
    for (const index of await repos.mediaItems.custodyEvents(parent)) {
      const entry = await repos.custodyLog.entry(index)
      const event = entry && (JSON.parse(entry.body) as { type: string; sha256?: string; parentSha256?: string })
      if (!event || event.type !== 'derivative.created' || event.parentSha256 !== parent || !event.sha256 || seen.has(event.sha256)) continue
      const item = await repos.mediaItems.bySha256(event.sha256)
      if (!item) continue
      seen.add(item.sha256)
      derivatives.push(item)
      queue.push(item.sha256)
    }
  }
  return { originals, derivatives, notHeld }
}

export interface CaseProofs {
  logVerifierKey: string
  /** The checkpoint every inclusion proof is against: signed now, after the originals' access events. */
  checkpoint: StoredCheckpoint
  /** Earlier checkpoints that were timestamped, then `checkpoint`, ascending. */
  checkpoints: StoredCheckpoint[]
  consistency: { from: number; to: number; hashes: string[] }[]
  events: { index: number; body: string; proof: { index: number; size: number; hashes: string[] } }[]
  captures: { sha256: Sha256; record: Buffer; signature: string }[]
  deviceKeys: { keyId: string; publicKey: string }[]
}

/**
 * The proofs for the gathered items. Call it after the originals were read (their `access` events then belong
 * to the trail); `timestampedSizes` are earlier checkpoints with timestamps to carry along.
 */
export async function gatherCaseProofs(deps: CaseExportDeps, items: GatheredItems, timestampedSizes: readonly number[], now = Date.now()): Promise<CaseProofs> {
  const repos = deps.store.repos
  const indices = new Set<number>()
  const captures: CaseProofs['captures'] = []
  const deviceKeys = new Map<string, string>()
  for (const item of [...items.originals, ...items.derivatives]) for (const i of await repos.mediaItems.custodyEvents(item.sha256)) indices.add(i)
  for (const item of items.originals) {
    const capture = await repos.captures.get(item.sha256)
    if (!capture) continue
    indices.add(capture.logIndex)
    const record = await openCaptureRecord(deps.sealer, capture)
    captures.push({ sha256: item.sha256, record: captureRecordBytes(record), signature: capture.signature })
    const device = await repos.devices.get(capture.deviceKeyId)
    if (device) {
      deviceKeys.set(device.keyId, device.publicKey)
      if (device.registeredLogIndex !== null) indices.add(device.registeredLogIndex)
      if (device.revokedLogIndex !== null) indices.add(device.revokedLogIndex)
    }
  }
  const checkpoint = await signCheckpoint(repos, deps.signer, now)
  const earlier: StoredCheckpoint[] = []
  for (const size of [...new Set(timestampedSizes)].sort((a, b) => a - b)) {
    if (size <= 0 || size >= checkpoint.size) continue
    const cp = await repos.custodyLog.checkpointAt(size)
    if (cp) earlier.push(cp)
  }
  const checkpoints = [...earlier, checkpoint]
  const consistency: CaseProofs['consistency'] = []
  for (let i = 1; i < checkpoints.length; i++) {
    const p = await consistencyProof(repos, checkpoints[i - 1]!.size, checkpoints[i]!.size)
    consistency.push({ from: p.from, to: p.to, hashes: p.hashes.map((h) => h.toString('hex')) })
  }
  const events: CaseProofs['events'] = []
  for (const index of [...indices].sort((a, b) => a - b)) {
    if (index >= checkpoint.size) continue
    const entry = await repos.custodyLog.entry(index)
    if (!entry) continue
    const p = await inclusionProof(repos, index, checkpoint.size)
    events.push({ index, body: entry.body, proof: { index, size: checkpoint.size, hashes: p.hashes.map((h) => h.toString('hex')) } })
  }
  return {
    logVerifierKey: verifierKey(deps.signer.name, deps.signer.publicKey),
    checkpoint,
    checkpoints,
    consistency,
    events,
    captures,
    deviceKeys: [...deviceKeys].map(([keyId, publicKey]) => ({ keyId, publicKey })),
  }
}

/** The export is itself a custody event, naming the bag's hash (SHA-256 of its tagmanifest-sha256.txt), and audited. */
export async function recordExport(store: Store, actor: Actor, origin: AuditOrigin, exportId: string, bagSha256: Sha256, items: number, now = Date.now()): Promise<{ index: number }> {
  return store.transaction(async (repos) => {
    const entry = await appendCustodyEvent(repos, { v: 1, type: 'export.created', at: toRfc3339(now), actor: actorKey(actor), exportId, sha256: bagSha256, items }, now)
    await repos.audit.append(auditEntry(actor, 'court.export', 'ok', origin, { status: 200, resourceType: 'export', resourceId: exportId }, now))
    return { index: entry.index }
  })
}
