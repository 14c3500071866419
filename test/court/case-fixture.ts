/**
 * A small case for court exports, made through the real API and use cases on SQLite: a registered device, an
 * original with its signed capture record, one without, two derivatives of the first (one Louder made, one the
 * device made and declared in a capture record), and an original whose
 * witness refused court use (it must never reach a bag).
 */
import { createHash } from 'node:crypto'
import { systemActor } from '../../src/core/access/actor.ts'
import { createDerivative } from '../../src/core/evidence/media-derivative.ts'
import { ingestMedia } from '../../src/core/evidence/ingest.ts'
import type { ExportDeps } from '../../src/court/export-bag.ts'
import { call } from '../access/support.ts'
import { signedCapture, registeredDevice } from '../evidence/device-fixture.ts'
import { fieldPhotos, once } from '../evidence/support.ts'
import { incidentBody, startTestApi, type TestApi } from '../http/harness.ts'

export interface CourtCase {
  api: TestApi
  incidentId: string
  captured: string
  plain: string
  derivative: string
  /** A derivative made on the device (a capture record naming its parent). */
  deviceDerivative: string
  refused: string
  deps(): Promise<ExportDeps>
}

const CLI = systemActor('cli')

export async function makeCourtCase(): Promise<CourtCase> {
  const api = await startTestApi('sqlite')
  const ingestDeps = () => ({ store: api.ctx.store, blobs: api.ctx.blobs, sealer: api.ctx.envelope, isUniqueViolation: api.ctx.db.isUniqueViolation })
  const [a, b, c, d] = fieldPhotos().filter((p) => p.name.endsWith('.jpg')).concat(fieldPhotos())
  const device = await registeredDevice(api.app, api.token.researcher, api.token.editor)
  const capture = signedCapture(device, { sha256: a!.sha256, byteLength: a!.bytes.length })
  const res = await call(api.app, { url: '/api/v1/captures', token: api.token.researcher, body: capture })
  if (res.statusCode !== 201) throw new Error(`capture: ${res.statusCode} ${res.body}`)
  await ingestMedia(ingestDeps(), CLI, { body: once(a!.bytes), expectedSha256: a!.sha256 })
  await ingestMedia(ingestDeps(), CLI, { body: once(b!.bytes) })
  await ingestMedia(ingestDeps(), CLI, { body: once(c!.bytes) })
  const signer = await api.ctx.logKey.signer()
  const derived = await createDerivative({ ...ingestDeps(), signer }, CLI, a!.sha256, once(d!.bytes), ['redact:faces'])
  // A publication image made on the device: a capture record naming its parent, then its bytes (as field sync sends them).
  const published = Buffer.concat([d!.bytes, Buffer.from('#made on the device')])
  const publishedSha = createHash('sha256').update(published).digest('hex')
  const declared = await call(api.app, { url: '/api/v1/captures', token: api.token.researcher, body: signedCapture(device, { sha256: publishedSha, byteLength: published.length, parentSha256: a!.sha256 }) })
  if (declared.statusCode !== 201) throw new Error(`derivative capture: ${declared.statusCode} ${declared.body}`)
  await ingestMedia(api.ctx.ingest, CLI, { body: once(published), expectedSha256: publishedSha })

  const partyId = ((await call(api.app, { url: '/api/v1/parties', token: api.token.editor, body: { name: `Court militia ${Date.now()}`, interCode: 3 } })).json() as { id: string }).id
  const witness = (court: boolean) => ({ witnesses: [{ name: 'Witness', role: 'witness', consent: { publication: false, partners: false, court } }] })
  const observation = async (media: string[], court: boolean) => {
    const r = await call(api.app, { url: '/api/v1/observations', token: api.token.researcher, body: { narrative: 'seen', occurredAt: '2024-05-01T10:00:00Z', location: { lat: 12.5, lon: -3.25 }, media, restricted: witness(court) } })
    if (r.statusCode !== 201) throw new Error(`observation: ${r.statusCode} ${r.body}`)
    return (r.json() as { id: string }).id
  }
  const agreed = await observation([a!.sha256, b!.sha256], true)
  const refused = await observation([c!.sha256], false)
  const inc = await call(api.app, { url: '/api/v1/incidents', token: api.token.editor, body: incidentBody(partyId, { observationIds: [agreed, refused], location: { lat: 12.5, lon: -3.25 } }) })
  if (inc.statusCode !== 201) throw new Error(`incident: ${inc.statusCode} ${inc.body}`)
  return {
    api,
    incidentId: (inc.json() as { id: string }).id,
    captured: a!.sha256,
    plain: b!.sha256,
    derivative: derived.item.sha256,
    deviceDerivative: publishedSha,
    refused: c!.sha256,
    deps: async () => ({ store: api.ctx.store, blobs: api.ctx.blobs, sealer: api.ctx.sealer, streams: api.ctx.envelope, signer: await api.ctx.logKey.signer() }),
  }
}
