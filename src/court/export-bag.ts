/**
 * `louder export case` and `POST /api/v1/exports`: writes a court bag (BagIt 1.0 with Louder's proofs; layout
 * in core/court/bag-layout.ts), optionally as a tar, optionally age-encrypted, and logs `export.created` with
 * the bag's hash. Originals are read through the locker's `readOriginal`, so each read is itself a custody
 * event (and in the bag's trail) and an audit record.
 */
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import type { Actor } from '../core/access/actor.ts'
import type { AuditOrigin } from '../core/audit/audit.ts'
import type { LogSigner } from '../core/custody/checkpoint.ts'
import { BAG, LOUDER_BAG_SCHEMA, type LouderBagManifest } from '../core/court/bag-layout.ts'
import { gatherCaseItems, gatherCaseProofs, recordExport } from '../core/court/case-export.ts'
import { readOriginal } from '../core/evidence/media-access.ts'
import type { StreamSealer } from '../core/evidence/media-item.ts'
import { ValidationError } from '../core/errors.ts'
import { uuidv7 } from '../core/ids.ts'
import type { BlobStore } from '../core/ports/blob-store.ts'
import type { Store } from '../core/ports/repositories.ts'
import type { Sealer } from '../core/ports/sealer.ts'
import { toRfc3339 } from '../core/time.ts'
import { invalidAgeRecipients, writeBagArchive } from '../ops/bag-archive.ts'
import { BagWriter } from './bag-writer.ts'
import { loadTimestamps, saveTimestamps, timestampedSizes } from './timestamp-store.ts'
import { requestTimestamps, type TimestampAuthority } from './timestamp-client.ts'

export interface ExportDeps {
  store: Store
  blobs: BlobStore
  sealer: Sealer
  streams: StreamSealer
  signer: LogSigner
}

export interface CaseExportOptions {
  incidents: string[]
  out: string
  tar?: boolean
  recipients?: string[]
  authorities?: TimestampAuthority[]
  organisation?: string
  contact?: string
  now?: number
  /** The export's id (a UUIDv7), when the caller names the output after it first. */
  exportId?: string
}

export interface CaseExportResult {
  exportId: string
  path: string
  bagSha256: string
  originals: number
  derivatives: number
  events: number
  logIndex: number
  timestampFailures: string[]
  notHeld: string[]
}

const TEMPLATES = join(import.meta.dirname, 'standalone')

export async function exportCaseBag(deps: ExportDeps, actor: Actor, origin: AuditOrigin, options: CaseExportOptions): Promise<CaseExportResult> {
  if (options.recipients?.length && !options.tar) throw new TypeError('--recipient encrypts the tar: give --tar too')
  const bad = invalidAgeRecipients(options.recipients ?? [])
  if (bad.length) throw new ValidationError(bad.map((r) => ({ field: '/body/recipients', message: `${JSON.stringify(r.slice(0, 80))} is not an age recipient (age1…)` })))
  const now = options.now ?? Date.now()
  const exportId = options.exportId ?? uuidv7(now)
  const items = await gatherCaseItems(deps.store.repos, actor, options.incidents)
  const scratch = options.tar ? await mkdtemp(join(dirname(options.out), `.${basename(options.out)}.`)) : null
  const root = scratch ? join(scratch, `louder-export-${exportId}`) : options.out
  await mkdir(root, { recursive: false }).catch(async (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST' || (await readdir(root)).length > 0) throw new Error(`${root} exists and is not empty`)
  })
  try {
    const bag = new BagWriter(root)
    const locker = { store: deps.store, blobs: deps.blobs, sealer: deps.streams }
    const readOrigin = { ...origin, reason: `court export ${exportId}${origin.reason ? `: ${origin.reason}` : ''}` }
    for (const item of items.originals) await bag.add(BAG.original(item.sha256).slice(5), (await readOriginal(locker, actor, item.sha256, readOrigin, now)).body)
    for (const item of items.derivatives) {
      await bag.add(BAG.derivative(item.sha256).slice(5), (await readOriginal(locker, actor, item.sha256, readOrigin, now)).body)
      if (item.derivation) await bag.add(BAG.derivation(item.sha256).slice(5), item.derivation)
    }

    const proofs = await gatherCaseProofs({ store: deps.store, sealer: deps.sealer, signer: deps.signer }, items, await timestampedSizes(deps.store.repos), now)
    let timestampFailures: string[] = []
    if (options.authorities?.length) {
      const got = await requestTimestamps(proofs.checkpoint.note, options.authorities)
      timestampFailures = got.failures
      await saveTimestamps(deps.store.repos, proofs.checkpoint.size, got.replies)
    }

    for (const c of proofs.captures) {
      await bag.add(BAG.captureRecord(c.sha256).slice(5), c.record)
      await bag.add(BAG.captureSignature(c.sha256).slice(5), `${c.signature}\n`)
    }
    // One event per line in log order; the event's bytes are exactly the leaf's (RFC 8785), kept as logged.
    await bag.add(BAG.events.slice(5), proofs.events.map((e) => `{"event":${e.body},"index":${e.index}}\n`).join(''))
    for (const e of proofs.events) await bag.add(BAG.inclusionProof(e.index).slice(5), `${JSON.stringify(e.proof)}\n`)
    for (const cp of proofs.checkpoints) await bag.add(BAG.checkpoint(cp.size).slice(5), cp.note)
    for (const c of proofs.consistency) await bag.add(BAG.consistencyProof(c.from, c.to).slice(5), `${JSON.stringify(c)}\n`)
    await bag.add(BAG.logKey.slice(5), `${proofs.logVerifierKey}\n`)
    for (const d of proofs.deviceKeys) await bag.add(BAG.deviceKey(d.keyId).slice(5), `${d.publicKey}\n`)

    const chains: string[] = []
    const timestamps: LouderBagManifest['timestamps'] = []
    for (const cp of proofs.checkpoints)
      for (const [n, t] of (await loadTimestamps(deps.store.repos, cp.size)).entries()) {
        let tsa = chains.indexOf(t.caPem)
        if (tsa < 0) tsa = chains.push(t.caPem) - 1
        await bag.add(BAG.timestamp(cp.size, n).slice(5), t.reply)
        timestamps.push({ size: cp.size, n, tsa })
      }
    for (const [n, pem] of chains.entries()) await bag.add(BAG.tsaChain(n).slice(5), pem)

    const manifest: LouderBagManifest = {
      schema: LOUDER_BAG_SCHEMA,
      v: 1,
      exportId,
      createdAt: toRfc3339(now),
      incidents: options.incidents,
      originals: items.originals.map((i) => i.sha256),
      derivatives: items.derivatives.map((i) => i.sha256),
      checkpoints: proofs.checkpoints.map((c) => c.size),
      timestamps,
    }
    await bag.add(BAG.manifest.slice(5), `${JSON.stringify(manifest, null, 2)}\n`)
    await bag.add(BAG.verifyGuide.slice(5), await readFile(join(TEMPLATES, 'VERIFY.md')))
    await bag.add(BAG.verifier.slice(5), await readFile(join(TEMPLATES, 'verify.mjs')))
    const bagSha256 = await bag.finish({
      organisation: options.organisation ?? 'Louder',
      contact: options.contact ?? 'legal officer',
      externalIdentifier: `louder-export:${exportId}`,
      description: `Court export of incidents ${options.incidents.join(', ')}`,
      baggingDate: new Date(now),
    })
    if (options.tar) await writeBagArchive(root, options.out, { recipients: options.recipients, mtime: new Date(now) })
    const logged = await recordExport(deps.store, actor, origin, exportId, bagSha256, items.originals.length + items.derivatives.length, now)
    return {
      exportId,
      path: options.out,
      bagSha256,
      originals: items.originals.length,
      derivatives: items.derivatives.length,
      events: proofs.events.length,
      logIndex: logged.index,
      timestampFailures,
      notHeld: items.notHeld,
    }
  } catch (err) {
    if (!scratch) await rm(root, { recursive: true, force: true })
    throw err
  } finally {
    if (scratch) await rm(scratch, { recursive: true, force: true })
  }
}
