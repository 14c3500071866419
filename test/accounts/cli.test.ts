/**
 * `louder admin create-user | create-token | reset-2fa | create-org` as processes on a data directory:
 * exit codes 0, 1 and 2, one line per error, and what they make works against the API. Few processes,
 * several at once: each start of bin/louder costs a couple of seconds.
 */
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createAppContext } from '../../src/app-context.ts'
import { buildConfig } from '../../src/config/build-config.ts'
import { buildHttpApp } from '../../src/http/app.ts'
import { createLogger } from '../../src/log.ts'
import { bearer } from '../http/harness.ts'
import { tmpDir } from '../support/tmp.ts'

const LOUDER = join(import.meta.dirname, '..', '..', 'bin', 'louder')

/** Runs bin/louder with `stdin` piped in (or an empty, closed stdin), and no LOUDER_* settings inherited. */
function louder(args: string[], stdin = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('LOUDER_')))
  return new Promise((resolve, reject) => {
    const child = spawn(LOUDER, args, { env, stdio: ['pipe', 'pipe', 'pipe'], timeout: 60_000 })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.stdin.on('error', () => {}) // a command that exits before reading stdin closes the pipe
    child.stdin.end(stdin)
    child.once('error', reject)
    child.once('close', (code) => resolve({ code, stdout, stderr }))
  })
}

describe('louder admin, as processes', () => {
  it('creates users, tokens and organisations and resets second factors, with exit codes 0, 1 and 2', async () => {
    const data = tmpDir('louder-admin-cli-')
    const d = ['--data', data]
    const password = 'correct horse battery staple'

    const [created, badRole, shortPassword, noRole] = await Promise.all([
      louder(['admin', 'create-user', ...d, '--email', 'Amina@Example.org', '--role', 'editor', 'legal', '--name', 'Amina K', '--json'], `${password}\nignored second line\n`),
      louder(['admin', 'create-user', ...d, '--email', 'x@example.org', '--role', 'superuser'], password),
      louder(['admin', 'create-user', ...d, '--email', 'x@example.org', '--role', 'researcher'], 'too short\n'),
      louder(['admin', 'create-user', ...d, '--email', 'x@example.org'], password),
    ])
    expect(created.stderr).toBe('')
    expect(created.code).toBe(0)
    const amina = JSON.parse(created.stdout)
    expect(amina).toEqual({ id: expect.any(String), email: 'amina@example.org', displayName: 'Amina K', roles: ['editor', 'legal'], orgId: null, mustChangePassword: false })
    expect(badRole.code).toBe(2)
    expect(noRole.code).toBe(2)
    expect(shortPassword.code).toBe(1)
    expect(shortPassword.stderr).toBe('louder: the password on stdin is shorter than 12 characters\n')

    const [org, token, wrongRole, reset, nobody, generated, twice] = await Promise.all([
      louder(['admin', 'create-org', ...d, '--name', 'Coastal Monitors', '--json']),
      louder(['admin', 'create-token', ...d, '--email', 'amina@example.org', '--role', 'legal', '--expires', '30d', '--json']),
      louder(['admin', 'create-token', ...d, '--email', 'amina@example.org', '--role', 'admin']),
      louder(['admin', 'reset-2fa', ...d, '--email', 'amina@example.org']),
      louder(['admin', 'reset-2fa', ...d, '--email', 'nobody@example.org']),
      louder(['admin', 'create-user', ...d, '--email', 'pat@example.org', '--role', 'partner', '--generate-password', '--json']),
      louder(['admin', 'create-user', ...d, '--email', 'AMINA@example.org', '--role', 'editor'], password),
    ])
    expect(org.code).toBe(0)
    expect(JSON.parse(org.stdout)).toMatchObject({ name: 'Coastal Monitors' })
    expect(token.code).toBe(0)
    const issued = JSON.parse(token.stdout)
    expect(Date.parse(issued.expiresAt) - Date.now()).toBeGreaterThan(29 * 86_400_000)
    expect(wrongRole.code).toBe(1)
    expect(wrongRole.stderr).toBe('louder: --role: the user does not hold admin\n')
    expect(reset.code).toBe(0)
    expect(reset.stdout).toMatch(/^two-factor login removed for amina@example.org/)
    expect(nobody.code).toBe(1)
    expect(nobody.stderr).toBe('louder: no user with email nobody@example.org\n')
    expect(generated.code).toBe(0)
    const pat = JSON.parse(generated.stdout)
    expect(pat).toMatchObject({ email: 'pat@example.org', roles: ['partner'], mustChangePassword: true, password: expect.stringMatching(/^[A-Za-z0-9]{20}$/) })
    expect(twice.code).toBe(1)
    expect(twice.stderr).toBe('louder: An account with amina@example.org exists already.\n')

    // Rotating the master key re-wraps the data keys (the sealed stored responses among them) and is audited.
    const rotated = await louder(['admin', 'rotate-master-key', ...d, '--retire', '--json'])
    expect(rotated.code, rotated.stderr).toBe(0)
    expect(JSON.parse(rotated.stdout)).toMatchObject({ rewrapped: expect.any(Number), retired: [expect.stringMatching(/^[0-9a-f]{16}$/)] })

    // What the CLI made works against the API on the same data.
    const ctx = await createAppContext(buildConfig({ dataDir: data }), createLogger({ level: 'silent' }))
    const app = await buildHttpApp(ctx)
    try {
      const login = (email: string, pw: string) => app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password: pw } })
      const signedIn = await login('amina@example.org', password)
      expect(signedIn.statusCode, signedIn.body).toBe(200)
      expect((await login('pat@example.org', pat.password)).json().user.mustChangePassword).toBe(true)
      const me = await app.inject({ method: 'GET', url: '/api/v1/auth/session', headers: bearer(issued.token) })
      expect(me.json().user.id).toBe(amina.id)
      // The token holds legal only, so not the editor's organisation list.
      expect((await app.inject({ method: 'GET', url: '/api/v1/orgs', headers: bearer(issued.token) })).statusCode).toBe(403)

      const entries = await ctx.store.repos.audit.list({ limit: 100 })
      const cli = entries.filter((e) => e.actor === 'system:cli')
      expect(cli.every((e) => e.via === 'cli' && e.userId === null && e.route?.startsWith('louder admin '))).toBe(true)
      const summary = cli.map((e) => `${e.action} ${e.outcome}`).sort()
      expect(summary).toEqual(['key.rotate ok', 'org.create ok', 'user.create failed', 'user.create ok', 'user.create ok', 'user.reset-2fa failed', 'user.reset-2fa ok', 'user.token.create failed', 'user.token.create ok'])
      for (const e of cli) expect(JSON.stringify(e)).not.toContain(password)
      expect(JSON.stringify(cli)).not.toContain(pat.password)
      expect(JSON.stringify(cli)).not.toContain(issued.token)
    } finally {
      await app.close()
      await ctx.close()
    }
  }, 120_000)
})
