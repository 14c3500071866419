/**
 * `louder serve` with a bad setting fails fast: exit 1, ONE line on stderr naming the setting and what is
 * allowed, nothing started and nothing written, and a database password never echoed back.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { cleanEnv, runLouder } from '../large/server-process.ts'

const root = mkdtempSync(join(tmpdir(), 'louder-config-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

const aFile = join(root, 'a-file')
writeFileSync(aFile, 'not a directory\n')
const aDirectory = join(root, 'a-directory')
mkdirSync(aDirectory)

const SECRET = 'Tr0ub4dor&3'

interface Case {
  name: string
  setting: string
  allowed: RegExp
  env?: Record<string, string>
  flags?: string[]
  secret?: string
}

const cases: Case[] = [
  { name: 'a port that is not a number', setting: 'LOUDER_PORT', allowed: /port number 0–65535/, env: { LOUDER_PORT: 'abc' } },
  { name: 'a port out of range', setting: 'LOUDER_PORT', allowed: /port number 0–65535/, env: { LOUDER_PORT: '70000' } },
  { name: 'a negative port', setting: 'LOUDER_PORT', allowed: /port number/, env: { LOUDER_PORT: '-1' } },
  { name: 'a bad --port flag', setting: '--port', allowed: /port number/, flags: ['--port', '8080x'] },
  { name: 'a host with a space', setting: 'LOUDER_HOST', allowed: /host name or IP address/, env: { LOUDER_HOST: 'bad host' } },
  { name: 'an ftp public URL', setting: 'LOUDER_PUBLIC_URL', allowed: /http:\/\/ or https:\/\//, env: { LOUDER_PUBLIC_URL: 'ftp://x' } },
  { name: 'a relative public URL', setting: 'LOUDER_PUBLIC_URL', allowed: /absolute http/, env: { LOUDER_PUBLIC_URL: 'louder.example.org' } },
  { name: 'a public URL with a query', setting: 'LOUDER_PUBLIC_URL', allowed: /without query or fragment/, env: { LOUDER_PUBLIC_URL: 'https://louder.example.org/?a=1' } },
  { name: 'a public URL holding a newline', setting: 'LOUDER_PUBLIC_URL', allowed: /control characters/, env: { LOUDER_PUBLIC_URL: 'https://a\nb.example.org' } },
  { name: 'a port holding a newline (still one line)', setting: 'LOUDER_PORT', allowed: /port number/, env: { LOUDER_PORT: '80\n80' } },
  { name: 'a MySQL URL', setting: 'LOUDER_DATABASE_URL', allowed: /postgres:\/\//, env: { LOUDER_DATABASE_URL: `mysql://louder:${SECRET}@db.example.org/louder` }, secret: SECRET },
  { name: 'a URL whose password holds / and @', setting: 'LOUDER_DATABASE_URL', allowed: /postgres:\/\//, env: { LOUDER_DATABASE_URL: 'mysql://louder:se/cr@et@db/x' }, secret: 'se/cr@et' },
  { name: 'a password given as a parameter', setting: 'LOUDER_DATABASE_URL', allowed: /postgres:\/\//, env: { LOUDER_DATABASE_URL: `sqlite://db?user=x&password=${SECRET}` }, secret: SECRET },
  { name: 'a bad --database-url flag', setting: '--database-url', allowed: /postgres:\/\//, flags: ['--database-url', `mysql://root:${SECRET}@localhost/louder`], secret: SECRET },
  { name: 'a data directory that is a file', setting: 'LOUDER_DATA_DIR', allowed: /a directory/, env: { LOUDER_DATA_DIR: aFile } },
  { name: 'a master key file that is a directory', setting: 'LOUDER_MASTER_KEY_FILE', allowed: /file holding the master key/, env: { LOUDER_MASTER_KEY_FILE: aDirectory } },
]

describe('louder serve with a bad setting', () => {
  // Each case is its own process; they run side by side.
  it.concurrent.for(cases)('$name: exits 1 with one line naming $setting', async (c, { expect }) => {
    const dataDir = mkdtempSync(join(root, 'data-'))
    const env = cleanEnv({ LOUDER_DATA_DIR: dataDir, LOUDER_PORT: '0', LOUDER_HOST: '127.0.0.1', ...c.env })
    const res = await runLouder(['serve', '--log-level', 'silent', ...(c.flags ?? [])], env)

    expect(res.code, res.stderr).toBe(1)
    const lines = res.stderr.split('\n').filter((l) => l !== '')
    expect(lines, res.stderr).toHaveLength(1)
    expect(res.stderr.endsWith('\n')).toBe(true)
    expect(lines[0]).toContain(c.setting)
    expect(lines[0]).toMatch(c.allowed)
    expect(lines[0]).not.toMatch(/\bat .+:\d+:\d+|Error:|node:internal|\.ts\b/)
    if (c.secret) {
      expect(res.stderr).not.toContain(c.secret)
      expect(res.stdout).not.toContain(c.secret)
      // Not even a piece of it: the parts either side of a `/` or `@` in the password.
      for (const piece of c.secret.split(/[/@]/).filter((p) => p.length > 2)) expect(res.stderr).not.toContain(piece)
    }
    // Nothing started: no first-start administrator, no database, no key.
    expect(res.stdout).toBe('')
    if (c.setting !== 'LOUDER_DATA_DIR') expect(readdirSync(dataDir)).toEqual([])
  })

  it('names both the variable and the flag, so the operator finds it either way', async () => {
    const res = await runLouder(['serve'], cleanEnv({ LOUDER_DATA_DIR: mkdtempSync(join(root, 'data-')), LOUDER_PORT: 'abc' }))
    expect(res.stderr.trim()).toBe("louder: LOUDER_PORT (--port): 'abc' is not allowed; expected a port number 0–65535 (0 picks a free port)")
  })

  it('does not echo the password when a well-formed PostgreSQL URL cannot be reached', async () => {
    const dataDir = mkdtempSync(join(root, 'data-'))
    const res = await runLouder(['serve', '--log-level', 'silent'], cleanEnv({ LOUDER_DATA_DIR: dataDir, LOUDER_PORT: '0', LOUDER_DATABASE_URL: `postgres://louder:${SECRET}@127.0.0.1:1/louder` }))
    expect(res.code).toBe(1)
    expect(res.stderr.split('\n').filter((l) => l !== '')).toHaveLength(1)
    expect(res.stderr + res.stdout).not.toContain(SECRET)
    expect(existsSync(join(dataDir, 'initial-admin.txt'))).toBe(false)
  })

  it('exits 2 on bad usage (an unknown flag), not 1', async () => {
    const res = await runLouder(['serve', '--no-such-flag'], cleanEnv({ LOUDER_DATA_DIR: mkdtempSync(join(root, 'data-')) }))
    expect(res.code).toBe(2)
    expect(res.stderr).toMatch(/unknown option/)
  })
})
