/**
 * Plausible minimal requests for the API's operations, shared by the permission matrix and the audit
 * coverage test: an allowed call made with one of these reaches its use case instead of stopping at the schema.
 */
import { uuidv7 } from '../../src/core/ids.ts'
import { incidentBody, observationBody } from '../http/harness.ts'
import type { FastifyInstance } from 'fastify'
import { call, PASSWORD } from './support.ts'
import { newDevice, signedCapture } from '../evidence/device-fixture.ts'

/** Whom a call is made as: a user's email and password (for endpoints that ask for them) and a token, or none. */
export interface Identity {
  email: string
  password: string
  token: string | null
}

/** Records some bodies must name to pass validation: the test's beforeAll makes them (see partyForBodies). */
export const FIXTURES = { partyId: '' }

/** Makes the party the incident bodies name, through the API as an admin. */
export async function partyForBodies(app: FastifyInstance, adminToken: string): Promise<void> {
  const res = await call(app, { url: '/api/v1/parties', token: adminToken, body: { name: `Matrix party ${uuidv7()}`, interCode: 1 } })
  FIXTURES.partyId = (res.json() as { id: string }).id
}

/**
 * A body for each operation that takes one, keyed `METHOD /path` as in the permission matrix.
 * An operation with a body but no entry here is sent `{}` (authorisation does not depend on the body).
 */
export const BODIES: Record<string, (who: Identity) => unknown> = {
  'POST /api/v1/auth/login': (who) => ({ email: who.email, password: who.password }),
  'POST /api/v1/auth/token': (who) => ({ email: who.email, password: who.password, name: 'matrix' }),
  'POST /api/v1/auth/password': (who) => ({ currentPassword: who.password, newPassword: `${who.password} but longer` }),
  'POST /api/v1/auth/totp/confirm': () => ({ code: '000000' }),
  'POST /api/v1/auth/totp/disable': (who) => ({ email: who.email, password: who.password }),
  'POST /api/v1/tokens': () => ({ name: 'matrix' }),
  'POST /api/v1/users': () => ({ email: `${uuidv7()}@example.org`, displayName: 'Matrix', roles: ['researcher'], password: PASSWORD }),
  'PATCH /api/v1/users/{id}': () => ({ displayName: 'Renamed' }),
  'POST /api/v1/users/{id}/tokens': () => ({ name: 'matrix' }),
  'POST /api/v1/orgs': () => ({ name: `Org ${uuidv7()}` }),
  'PATCH /api/v1/orgs/{id}': () => ({ name: `Org ${uuidv7()}` }),
  // The default value: the call is real, but must not change how later calls behave.
  'PATCH /api/v1/settings': () => ({ sessionIdleMinutes: 30 }),
  'POST /api/v1/observations': () => observationBody(),
  'PATCH /api/v1/observations/{id}/witnesses/{index}/consent': () => ({ publication: true }),
  'POST /api/v1/parties': () => ({ name: `Party ${uuidv7()}`, interCode: 2 }),
  'PATCH /api/v1/parties/{id}': () => ({ description: 'Matrix' }),
  // Authorisation does not depend on the body; the audit coverage test sends real parties and observations.
  'POST /api/v1/incidents': () => incidentBody(FIXTURES.partyId),
  'PATCH /api/v1/incidents/{id}': () => ({ version: 1, narrative: 'Matrix' }),
  'POST /api/v1/incidents/{id}/transitions': () => ({ to: 'in_review', version: 1 }),
  'POST /api/v1/incidents/{id}/observations': () => ({ observationIds: [uuidv7()] }),
  'POST /api/v1/incidents/{id}/comments': () => ({ body: 'Matrix' }),
  'POST /api/v1/match': () => ({ sha256: 'e'.repeat(64) }),
  'POST /api/v1/areas/import': () => ({
    type: 'FeatureCollection',
    features: [{ type: 'Feature', properties: { ADM1_EN: 'Matrix', ADM1_PCODE: `XM-${uuidv7()}` }, geometry: { type: 'Polygon', coordinates: [[[-170, -80], [-169, -80], [-169, -79], [-170, -80]]] } }],
  }),
  'POST /api/v1/devices': () => ({ publicKey: newDevice().publicKey, name: 'Matrix phone' }),
  'POST /api/v1/devices/{keyId}/revoke': () => ({ reason: 'matrix' }),
  // A well-formed signed record from a key the server does not know: past the schema, refused by the rule (409).
  'POST /api/v1/captures': () => signedCapture(newDevice()),
  'POST /api/v1/sync/batch': () => ({ items: [{ kind: 'observation', idempotencyKey: `matrix-${uuidv7()}`, body: observationBody() }] }),
  // An incident that does not exist: past the schema and the policy, a 404 from the use case.
  'POST /api/v1/exports': () => ({ incidents: [uuidv7()] }),
}
