/**
 * Canaries: passwords, API tokens, session and CSRF tokens, TOTP secrets and recovery codes go through
 * every path that handles them (sign-in, token exchange, accounts made by the API with and without a
 * password under an Idempotency-Key and replayed, two-factor enrolment, password change, failed
 * attempts), and then must be nowhere in clear: not in anything the logger wrote, not in the database's
 * files on disk (SQLite: the database, its WAL, everything under the data directory), and not in a
 * logical dump of every table (what `louder backup` writes, and for PostgreSQL every table in the schema).
 */
import { createHash, randomBytes } from 'node:crypto'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { type Kysely, sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type AppContext, createAppContext } from '../../src/app-context.ts'
import { buildConfig } from '../../src/config/build-config.ts'
import { base32Decode, hotp, totpStep } from '../../src/core/accounts/totp.ts'
import { createUser } from '../../src/core/accounts/users.ts'
import { canonicalJson } from '../../src/core/canonical-json.ts'
import { dumpTable } from '../../src/db/dump.ts'
import { TABLES_IN_DEPENDENCY_ORDER } from '../../src/db/schema.ts'
import { buildHttpApp } from '../../src/http/app.ts'
import { createLogger } from '../../src/log.ts'
import { createTestDatabase } from '../support/postgres.ts'
import { tmpDir } from '../support/tmp.ts'
import { call, signIn, withSession } from './support.ts'

/** Something to search for, and what it is (for the failure message). */
interface Secret {
  what: string
  value: string | Buffer
}

const canary = (what: string) => `CANARY-${what}-${randomBytes(9).toString('base64url')}`

/** Every file under `dir`, with its bytes. */
function filesUnder(dir: string): { path: string; bytes: Buffer }[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? filesUnder(path) : [{ path, bytes: readFileSync(path) }]
  })
}

/** Every row of every table in the database's own catalogue (not only the ones the backup knows), as text. */
async function everyRowAsText(db: Kysely<any>, dialect: 'sqlite' | 'postgres'): Promise<Map<string, string>> {
  const tables =
    dialect === 'sqlite'
      ? (await sql<{ name: string }>`select name from sqlite_master where type = 'table'`.execute(db)).rows.map((r) => r.name)
      : (await sql<{ name: string }>`select table_name as name from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE'`.execute(db)).rows.map((r) => r.name)
  const out = new Map<string, string>()
  for (const table of tables) {
    const rows = (await sql<Record<string, unknown>>`select * from ${sql.table(table)}`.execute(db)).rows
    out.set(table, rows.map((row) => Object.values(row).map((v) => (Buffer.isBuffer(v) ? `${v.toString('hex')} ${v.toString('latin1')}` : String(v))).join('\t')).join('\n'))
  }
  return out
}

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`secrets in clear: canaries [${dialect}]`, () => {
    let ctx: AppContext
    let dataDir: string
    let logs = ''
    const secrets: Secret[] = []
    /** Values that must be found where the canaries must not, so a search that finds nothing is not a search that looked nowhere. */
    const visible: string[] = []
    const keep = (what: string, value: string | Buffer) => {
      expect(value.length, what).toBeGreaterThan(8)
      secrets.push({ what, value })
    }

    beforeAll(async () => {
      dataDir = tmpDir('louder-canary-')
      const sink = new PassThrough()
      sink.on('data', (chunk: Buffer) => (logs += chunk.toString()))
      const databaseUrl = dialect === 'postgres' ? await createTestDatabase() : undefined
      ctx = await createAppContext(buildConfig({ dataDir, databaseUrl }), createLogger({ level: 'trace', destination: sink }))
      const app = await buildHttpApp(ctx)
      await app.ready()

      // An administrator, signed in for a token with a canary password; a wrong attempt first.
      const adminPassword = canary('admin-password')
      keep('admin password', adminPassword)
      const admin = await createUser(ctx.store.repos, ctx.passwords, { email: 'canary-admin@example.org', displayName: 'Canary admin', roles: ['admin'], password: adminPassword })
      visible.push(admin.user.id)
      const wrong = canary('wrong-password')
      keep('a wrong password', wrong)
      expect((await call(app, { url: '/api/v1/auth/token', body: { email: 'canary-admin@example.org', password: wrong } })).statusCode).toBe(401)
      const adminLogin = await call(app, { url: '/api/v1/auth/token', body: { email: 'canary-admin@example.org', password: adminPassword, name: 'canary' } })
      expect(adminLogin.statusCode, adminLogin.body).toBe(201)
      const adminToken = (adminLogin.json() as { token: string }).token
      keep('token from /auth/token', adminToken)

      // An account made through the API with a password of the admin's choosing, under an Idempotency-Key, and replayed.
      const chosen = canary('chosen-password')
      keep('password set by an admin', chosen)
      const chosenBody = { email: 'canary-chosen@example.org', displayName: 'Chosen', roles: ['researcher'], password: chosen }
      for (let i = 0; i < 2; i++) {
        const made = await call(app, { url: '/api/v1/users', token: adminToken, body: chosenBody, headers: { 'idempotency-key': 'canary-chosen' } })
        expect(made.statusCode, made.body).toBe(201)
        expect(made.headers['idempotent-replayed']).toBe(i === 0 ? undefined : 'true')
      }
      // Sealed, the fingerprint still tells a different password under the same key apart.
      const refusedPassword = canary('refused-password')
      keep('password of a refused request', refusedPassword)
      const other = await call(app, { url: '/api/v1/users', token: adminToken, body: { ...chosenBody, password: refusedPassword }, headers: { 'idempotency-key': 'canary-chosen' } })
      expect(other.statusCode, other.body).toBe(422)
      // The request's fingerprint is a fast hash of a body whose other fields are all in the users table:
      // stored in clear, it would let anyone with a dump test password guesses at SHA-256 speed, past argon2.
      keep('fingerprint of a request carrying a password', createHash('sha256').update(`POST /api/v1/users\n${canonicalJson({})}\n${canonicalJson(chosenBody)}`).digest('hex'))
      keep('SHA-256 of a password', createHash('sha256').update(chosen).digest('hex'))

      // An account with a generated password, under an Idempotency-Key: the stored answer holds it, sealed.
      const generated = await call(app, { url: '/api/v1/users', token: adminToken, body: { email: 'canary-generated@example.org', displayName: 'Generated', roles: ['editor'] }, headers: { 'idempotency-key': 'canary-generated' } })
      expect(generated.statusCode, generated.body).toBe(201)
      const generatedPassword = (generated.json() as { password: string }).password
      keep('generated password', generatedPassword)
      const replayed = await call(app, { url: '/api/v1/users', token: adminToken, body: { email: 'canary-generated@example.org', displayName: 'Generated', roles: ['editor'] }, headers: { 'idempotency-key': 'canary-generated' } })
      expect(replayed.headers['idempotent-replayed']).toBe('true')
      expect((replayed.json() as { password: string }).password).toBe(generatedPassword)
      visible.push('canary-generated@example.org')

      // The generated password signs in once, and is changed for a canary of the user's own.
      const session = await signIn(app, 'canary-generated@example.org', generatedPassword)
      keep('session cookie', session.cookie)
      keep('CSRF token', session.csrfToken)
      const own = canary('own-password')
      keep('password the user chose', own)
      const changed = await call(app, { url: '/api/v1/auth/password', body: { currentPassword: generatedPassword, newPassword: own }, ...withSession(session) })
      expect(changed.statusCode, changed.body).toBe(204)

      // Two-factor enrolment over the session: the secret in every encoding, the URI, the recovery codes.
      const setup = await call(app, { method: 'POST', url: '/api/v1/auth/totp/setup', ...withSession(session) })
      expect(setup.statusCode, setup.body).toBe(200)
      const { secret, uri } = setup.json() as { secret: string; uri: string }
      const raw = base32Decode(secret)
      keep('TOTP secret (base32)', secret)
      keep('TOTP secret (raw bytes)', raw)
      keep('TOTP secret (hex)', raw.toString('hex'))
      keep('TOTP secret (base64)', raw.toString('base64').replace(/=+$/, ''))
      keep('TOTP secret (base64url)', raw.toString('base64url'))
      keep('otpauth URI', uri)
      const confirm = await call(app, { url: '/api/v1/auth/totp/confirm', body: { code: hotp(raw, totpStep(Date.now())) }, ...withSession(session) })
      expect(confirm.statusCode, confirm.body).toBe(200)
      const { recoveryCodes } = confirm.json() as { recoveryCodes: string[] }
      for (const code of recoveryCodes) keep('recovery code', code)
      const withRecovery = await call(app, { url: '/api/v1/auth/token', body: { email: 'canary-generated@example.org', password: own, recoveryCode: recoveryCodes[0] } })
      expect(withRecovery.statusCode, withRecovery.body).toBe(201)
      const ownToken = (withRecovery.json() as { token: string }).token
      keep('token after a recovery code', ownToken)

      // An enrolment left half done: the pending secret is stored too.
      const pendingUser = await createUser(ctx.store.repos, ctx.passwords, { email: 'canary-pending@example.org', displayName: 'Pending', roles: ['legal'], password: canary('pending-password') })
      const pendingToken = await call(app, { url: `/api/v1/users/${pendingUser.user.id}/tokens`, token: adminToken, body: { name: 'pending' }, headers: { 'idempotency-key': 'canary-user-token' } })
      expect(pendingToken.statusCode, pendingToken.body).toBe(201)
      keep('token an admin made for a user', (pendingToken.json() as { token: string }).token)
      const pendingSetup = await call(app, { method: 'POST', url: '/api/v1/auth/totp/setup', token: (pendingToken.json() as { token: string }).token })
      expect(pendingSetup.statusCode).toBe(200)
      const pendingSecret = (pendingSetup.json() as { secret: string }).secret
      keep('pending TOTP secret (base32)', pendingSecret)
      keep('pending TOTP secret (hex)', base32Decode(pendingSecret).toString('hex'))

      // A token made for oneself under an Idempotency-Key: the stored answer holds it, sealed.
      const mine = await call(app, { url: '/api/v1/tokens', token: ownToken, body: { name: 'mine' }, headers: { 'idempotency-key': 'canary-own-token' } })
      expect(mine.statusCode, mine.body).toBe(201)
      keep('own token', (mine.json() as { token: string }).token)

      // Requests carrying them where they should be, and where they should not.
      await call(app, { url: '/api/v1/auth/session', token: ownToken })
      await call(app, { url: '/api/v1/observations', token: ownToken, headers: { 'louder-reason': 'canary check' } })
      await call(app, { url: '/api/v1/auth/login', body: { email: 'canary-generated@example.org', password: own, totp: '12345x' } })
      await call(app, { url: '/api/v1/auth/login', body: `{"email":"canary-generated@example.org","password":${JSON.stringify(own)},"password":"x"}` })
      await call(app, { url: '/api/v1/auth/login', body: { email: 'canary-generated@example.org', password: own, bogus: generatedPassword } })
      await call(app, { method: 'POST', url: '/api/v1/auth/logout', ...withSession(session) })
      await app.close()
    })
    afterAll(async () => {
      await ctx?.close()
    })

    const leaks = (haystack: string | Buffer) =>
      secrets.filter(({ value }) => (typeof haystack === 'string' ? typeof value === 'string' && (haystack.includes(value) || haystack.toLowerCase().includes(value.toLowerCase())) : haystack.includes(value))).map((s) => s.what)

    it('keeps every secret out of the logs', () => {
      expect(logs).toContain('request completed')
      expect(logs).toContain('/api/v1/auth/token')
      expect(leaks(logs)).toEqual([])
    })

    it('keeps every secret out of a logical dump of every table, as `louder backup` reads them', async () => {
      let rows = 0
      let text = ''
      for (const table of TABLES_IN_DEPENDENCY_ORDER) for await (const row of dumpTable(ctx.db.kysely, table)) (rows++, (text += `${JSON.stringify(row)}\n`))
      expect(rows).toBeGreaterThan(20)
      for (const value of visible) expect(text).toContain(value)
      expect(leaks(text)).toEqual([])
    })

    it("keeps every secret out of every table in the database's catalogue", async () => {
      const tables = await everyRowAsText(ctx.db.kysely as Kysely<any>, dialect)
      expect(tables.size).toBeGreaterThanOrEqual(TABLES_IN_DEPENDENCY_ORDER.length)
      expect([...tables.values()].join('\n')).toContain(visible[0])
      const found = [...tables].flatMap(([table, text]) => leaks(text).map((what) => `${what} in ${table}`))
      expect(found).toEqual([])
    })

    if (dialect === 'sqlite')
      it('keeps every secret out of the bytes of every file in the data directory, the WAL included', async () => {
      const whileOpen = filesUnder(dataDir)
      expect(whileOpen.map((f) => f.path).join('\n')).toMatch(/\.sqlite/)
      await ctx.close()
      const afterClose = filesUnder(dataDir)
      const all = [...whileOpen, ...afterClose]
      expect(Buffer.concat(all.map((f) => f.bytes)).includes('canary-generated@example.org')).toBe(true)
      const found = all.flatMap((f) => leaks(f.bytes).map((what) => `${what} in ${f.path.slice(dataDir.length)}`))
      expect(found).toEqual([])
      // Reopen, so afterAll has something to close and later tests could run.
      ctx = await createAppContext(buildConfig({ dataDir }), createLogger({ level: 'silent' }))
    })
  })
}
