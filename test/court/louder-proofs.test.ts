/**
 * The core of `louder verify` on bags built in memory from an in-memory log: a device key's standing is
 * decided by the log's order (registered before the capture's event, not revoked before it), whatever else holds.
 */
import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { verifierKey } from '../../src/core/custody/checkpoint.ts'
import { appendCustodyEvent, inclusionProof } from '../../src/core/custody/custody-log.ts'
import type { CustodyEvent } from '../../src/core/custody/custody-event.ts'
import { signCheckpoint } from '../../src/core/custody/sign-checkpoint.ts'
import { BAG, type LouderBagManifest } from '../../src/core/court/bag-layout.ts'
import { verifyLouderProofs } from '../../src/core/court/louder-proofs.ts'
import { captureRecordBytes } from '../../src/core/evidence/capture-record.ts'
import { memoryCustodyLog } from '../custody/memory-log.ts'
import { testSigner } from '../custody/note-verifier.ts'
import { newDevice, signedCapture } from '../evidence/device-fixture.ts'

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex')
const AT = '2026-01-01T00:00:00.000Z'

/** A one-original bag whose log holds `order` (key registration, capture, revocation) in that order. */
async function bagWith(order: ('register' | 'capture' | 'revoke')[]) {
  const repos = memoryCustodyLog()
  const signer = testSigner()
  const device = newDevice()
  const original = Buffer.from('the original bytes')
  const { record, signature } = signedCapture(device, { sha256: sha(original), byteLength: original.length })
  const recordBytes = captureRecordBytes(record)
  const events: { index: number; body: string }[] = []
  const log = async (event: CustodyEvent) => {
    const { index } = await appendCustodyEvent(repos, event)
    events.push({ index, body: repos.entries[index]!.body })
  }
  for (const step of order) {
    if (step === 'register') await log({ v: 1, type: 'key.registered', at: AT, actor: 'user:a', keyId: device.keyId, publicKey: device.publicKey })
    if (step === 'revoke') await log({ v: 1, type: 'key.revoked', at: AT, actor: 'user:a', keyId: device.keyId, reason: 'lost' })
    if (step === 'capture') await log({ v: 1, type: 'capture.registered', at: AT, actor: `device:${device.keyId}`, sha256: sha(original), recordSha256: sha(recordBytes), deviceKeyId: device.keyId })
  }
  const checkpoint = await signCheckpoint(repos, signer)
  const files = new Map<string, Buffer>()
  const manifest: LouderBagManifest = { schema: 'louder.bag', v: 1, exportId: 'x', createdAt: AT, incidents: [], originals: [sha(original)], derivatives: [], checkpoints: [checkpoint.size], timestamps: [] }
  files.set(BAG.manifest, Buffer.from(JSON.stringify(manifest)))
  files.set(BAG.original(sha(original)), original)
  files.set(BAG.captureRecord(sha(original)), recordBytes)
  files.set(BAG.captureSignature(sha(original)), Buffer.from(signature))
  files.set(BAG.logKey, Buffer.from(verifierKey(signer.name, signer.publicKey)))
  files.set(BAG.checkpoint(checkpoint.size), Buffer.from(checkpoint.note))
  files.set(BAG.events, Buffer.from(events.map((e) => `{"event":${e.body},"index":${e.index}}\n`).join('')))
  for (const e of events) {
    const p = await inclusionProof(repos, e.index, checkpoint.size)
    files.set(BAG.inclusionProof(e.index), Buffer.from(JSON.stringify({ index: e.index, size: checkpoint.size, hashes: p.hashes.map((h) => h.toString('hex')) })))
  }
  const payload = new Map([...files].map(([path, bytes]) => [path, { sha256: sha(bytes), bytes: bytes.length }]))
  return verifyLouderProofs({ payload, read: async (path) => files.get(path)! }, null)
}

describe("Louder's proofs: a device key's standing in the log", () => {
  it('holds when the key was registered before the capture was logged', async () => {
    expect((await bagWith(['register', 'capture'])).problems).toEqual([])
    expect((await bagWith(['register', 'capture', 'revoke'])).problems).toEqual([])
  })

  it('fails a capture logged before its key was registered', async () => {
    const { problems } = await bagWith(['capture', 'register'])
    expect(problems).toEqual([expect.objectContaining({ step: 'device key', message: expect.stringMatching(/registered .* after the capture/) })])
  })

  it('fails a capture logged after its key was revoked', async () => {
    const { problems } = await bagWith(['register', 'revoke', 'capture'])
    expect(problems).toEqual([expect.objectContaining({ step: 'device key', message: expect.stringMatching(/revoked .* before the capture/) })])
  })

  it('fails a capture whose key never appears in the log', async () => {
    const { problems } = await bagWith(['capture'])
    expect(problems.map((p) => p.step)).toEqual(['device key'])
  })
})
