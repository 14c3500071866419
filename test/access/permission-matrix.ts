/**
 * THE permission matrix: for every operation the server answers, who may call it. It is the
 * specification the code is checked against (permission-matrix.test.ts), written from what the roles
 * mean, not copied from src/core/access/policy.ts:
 *
 * - researcher: records observations (and edits their own, once editing exists);
 * - editor: reviews, verifies and publishes; manages parties and sees the partner organisations work is
 *   shared with;
 * - legal: reads restricted fields and originals, exports evidence;
 * - partner: sees only what is shared with their organisation (nothing of the internal register; the
 *   parties thesaurus is reference data, not register content, and what is shared names parties);
 * - admin: manages accounts, organisations, keys, settings, jobs and reads the audit log; an admin is
 *   also trusted with the register (Louder's admins are staff, not outside operators);
 * - everyone signed in manages their own session, password, two-factor login and API tokens.
 *
 * 'deny' means 401 for a caller without credentials and 403 for a signed-in one, with nothing but a problem
 * document in the body. Resource-level rules (a researcher edits only their own observations, a partner
 * sees only what is shared with them) sit below this table and are tested with the records in hand.
 *
 * Adding a route without adding its row here fails the suite; so does a row for a route that is gone.
 */
import { ROLES, type Role } from '../../src/core/access/actor.ts'

export type Caller = 'anonymous' | Role
export type Outcome = 'allow' | 'deny'
export type Row = Readonly<Record<Caller, Outcome>>

export const CALLERS: readonly Caller[] = ['anonymous', ...ROLES]

const A = 'allow'
const D = 'deny'
const row = (anonymous: Outcome, admin: Outcome, editor: Outcome, researcher: Outcome, legal: Outcome, partner: Outcome): Row => ({ anonymous, admin, editor, researcher, legal, partner })

// prettier-ignore
export const PERMISSION_MATRIX: Readonly<Record<string, Row>> = {
  //                                         anonymous admin editor researcher legal partner
  // The platform
  'GET /api/v1/health':                  row(A,        A,    A,     A,         A,    A),
  'GET /api/openapi.json':               row(A,        A,    A,     A,         A,    A),

  // Signing in, and what everyone signed in does for themselves
  'POST /api/v1/auth/login':             row(A,        A,    A,     A,         A,    A),
  'POST /api/v1/auth/token':             row(A,        A,    A,     A,         A,    A),
  'POST /api/v1/auth/logout':            row(D,        A,    A,     A,         A,    A),
  'GET /api/v1/auth/session':            row(D,        A,    A,     A,         A,    A),
  'POST /api/v1/auth/password':          row(D,        A,    A,     A,         A,    A),
  'POST /api/v1/auth/totp/setup':        row(D,        A,    A,     A,         A,    A),
  'POST /api/v1/auth/totp/confirm':      row(D,        A,    A,     A,         A,    A),
  'POST /api/v1/auth/totp/disable':      row(D,        A,    A,     A,         A,    A),
  'GET /api/v1/tokens':                  row(D,        A,    A,     A,         A,    A),
  'POST /api/v1/tokens':                 row(D,        A,    A,     A,         A,    A),
  'DELETE /api/v1/tokens/{id}':          row(D,        A,    A,     A,         A,    A),

  // Accounts: admins only
  'GET /api/v1/users':                   row(D,        A,    D,     D,         D,    D),
  'POST /api/v1/users':                  row(D,        A,    D,     D,         D,    D),
  'GET /api/v1/users/{id}':              row(D,        A,    D,     D,         D,    D),
  'PATCH /api/v1/users/{id}':            row(D,        A,    D,     D,         D,    D),
  'POST /api/v1/users/{id}/reset-2fa':   row(D,        A,    D,     D,         D,    D),
  'POST /api/v1/users/{id}/tokens':      row(D,        A,    D,     D,         D,    D),

  // Organisations: editors see whom they share with; admins manage them
  'GET /api/v1/orgs':                    row(D,        A,    A,     D,         D,    D),
  'POST /api/v1/orgs':                   row(D,        A,    D,     D,         D,    D),
  'PATCH /api/v1/orgs/{id}':             row(D,        A,    D,     D,         D,    D),

  // Audit log and settings: admins only
  'GET /api/v1/audit':                   row(D,        A,    D,     D,         D,    D),
  'GET /api/v1/audit/export':            row(D,        A,    D,     D,         D,    D),
  'GET /api/v1/settings':                row(D,        A,    D,     D,         D,    D),
  'PATCH /api/v1/settings':              row(D,        A,    D,     D,         D,    D),

  // The register: researchers and editors record, legal reads, partners see none of the raw material
  'POST /api/v1/observations':           row(D,        A,    A,     A,         D,    D),
  'GET /api/v1/observations':            row(D,        A,    A,     A,         A,    D),
  'GET /api/v1/observations/{id}':       row(D,        A,    A,     A,         A,    D),
  // Witness identities and restricted notes: legal, and the researcher who recorded them (authorship is checked below the table).
  'GET /api/v1/observations/{id}/restricted': row(D,  D,    D,     A,         A,    D),
  // Changing what a witness agreed to: the same people, the same authorship rule.
  'PATCH /api/v1/observations/{id}/witnesses/{index}/consent': row(D, D, D, A, A, D),

  // The parties thesaurus: reference data every signed-in user reads (what is shared with partners names
  // parties); editors keep it
  'GET /api/v1/parties':                 row(D,        A,    A,     A,         A,    A),
  'GET /api/v1/parties/{id}':            row(D,        A,    A,     A,         A,    A),
  'POST /api/v1/parties':                row(D,        A,    A,     D,         D,    D),
  'PATCH /api/v1/parties/{id}':          row(D,        A,    A,     D,         D,    D),
  'POST /api/v1/parties/{id}/archive':   row(D,        A,    A,     D,         D,    D),

  // Administrative areas: reference data every signed-in user reads and locates points in; importing a
  // country's boundaries changes how everything is placed, so admins only
  'GET /api/v1/areas':                   row(D,        A,    A,     A,         A,    A),
  'GET /api/v1/areas/locate':            row(D,        A,    A,     A,         A,    A),
  'POST /api/v1/areas/import':           row(D,        A,    D,     D,         D,    D),

  // Incidents: editors code, review and publish; researchers, legal and admins read and discuss; the
  // restricted part goes to legal and the editor who coded it (checked in the use case); partners see
  // only what is shared with them, never the register itself
  'POST /api/v1/incidents':              row(D,        A,    A,     D,         D,    D),
  'GET /api/v1/incidents':               row(D,        A,    A,     A,         A,    D),
  'GET /api/v1/incidents/{id}':          row(D,        A,    A,     A,         A,    D),
  'PATCH /api/v1/incidents/{id}':        row(D,        A,    A,     D,         D,    D),
  'POST /api/v1/incidents/{id}/transitions': row(D,    A,    A,     D,         D,    D),
  'POST /api/v1/incidents/{id}/observations': row(D,   A,    A,     D,         D,    D),
  'POST /api/v1/incidents/{id}/lock':    row(D,        A,    A,     D,         D,    D),
  'DELETE /api/v1/incidents/{id}/lock':  row(D,        A,    A,     D,         D,    D),
  'GET /api/v1/incidents/{id}/comments': row(D,        A,    A,     A,         A,    D),
  'POST /api/v1/incidents/{id}/comments': row(D,       A,    A,     A,         A,    D),
  'GET /api/v1/incidents/{id}/history':  row(D,        A,    A,     A,         A,    D),
  'GET /api/v1/incidents/{id}/restricted': row(D,      D,    A,     D,         A,    D),

  // The public view: published incidents, generalised, for anyone
  'GET /api/v1/public/incidents':        row(A,        A,    A,     A,         A,    A),
  'GET /api/v1/public/incidents/{id}':   row(A,        A,    A,     A,         A,    A),
  'GET /api/v1/public/incidents/export': row(A,        A,    A,     A,         A,    A),

  // Matching: the desk and partners may ask; what partners see is filtered in the use case
  'POST /api/v1/match':                  row(D,        A,    A,     A,         A,    A),

  // Background jobs: admins only
  'GET /api/v1/jobs':                    row(D,        A,    D,     D,         D,    D),
  'POST /api/v1/jobs/{id}/retry':        row(D,        A,    D,     D,         D,    D),

  // The custody log: public, so anyone can check it with their own code (an entry's event body is added
  // for legal and admin only, below the table)
  'GET /api/v1/log/checkpoint':          row(A,        A,    A,     A,         A,    A),
  'GET /api/v1/log/key':                 row(A,        A,    A,     A,         A,    A),
  'GET /api/v1/log/entries/{index}':     row(A,        A,    A,     A,         A,    A),
  'GET /api/v1/log/proofs/inclusion':    row(A,        A,    A,     A,         A,    A),
  'GET /api/v1/log/proofs/consistency':  row(A,        A,    A,     A,         A,    A),

  // Capture devices and hash-first capture records: whoever carries a device asks for its key to be
  // registered and logs its captures; editors and admins approve or revoke keys; legal sees which keys exist
  'POST /api/v1/devices':                row(D,        A,    A,     A,         D,    D),
  'GET /api/v1/devices':                 row(D,        A,    A,     D,         A,    D),
  'GET /api/v1/devices/{keyId}':         row(D,        A,    A,     D,         A,    D),
  'POST /api/v1/devices/{keyId}/approve': row(D,       A,    A,     D,         D,    D),
  'POST /api/v1/devices/{keyId}/revoke': row(D,        A,    A,     D,         D,    D),
  // Field sync: the batch form of recording observations, logging captures and requesting device keys.
  'POST /api/v1/sync/batch':             row(D,        A,    A,     A,         D,    D),
  'POST /api/v1/captures':               row(D,        A,    A,     A,         D,    D),

  // The evidence locker: whoever gathers material seals it and legal may ask whether it is held; originals
  // and their metadata go to legal and admins only; editors follow custody and work on working copies
  'POST /api/v1/media':                  row(D,        A,    A,     A,         D,    D),
  // Resumable uploads (tus): whoever may seal media; each upload is its creator's alone (test/sync/uploads.test.ts).
  'POST /api/v1/uploads':                row(D,        A,    A,     A,         D,    D),
  'PATCH /api/v1/uploads/{id}':          row(D,        A,    A,     A,         D,    D),
  'DELETE /api/v1/uploads/{id}':         row(D,        A,    A,     A,         D,    D),
  // (HEAD /api/v1/media/{sha256}, whether an item is held, is not in the OpenAPI document that lists these
  // rows; test/evidence/media-http.test.ts checks it: researcher, editor, legal and admin)
  'GET /api/v1/media/{sha256}/content':  row(D,        A,    D,     D,         A,    D),
  'GET /api/v1/media/{sha256}/metadata': row(D,        A,    D,     D,         A,    D),
  'GET /api/v1/media/{sha256}/custody':  row(D,        A,    A,     D,         A,    D),
  'POST /api/v1/media/{sha256}/working-copy': row(D,   A,    A,     D,         D,    D),
  // Court exports hold decrypted originals: legal officers and admins make and download them.
  'POST /api/v1/exports':                row(D,        A,    D,     D,         A,    D),
  'GET /api/v1/exports/{id}':            row(D,        A,    D,     D,         A,    D),
}
