import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { buildConfig, ConfigError, redactUrl } from './build-config.ts'

describe('redactUrl', () => {
  it.each([
    ['postgres://louder:hunter2@db:5432/louder', 'postgres://louder:***@db:5432/louder'],
    // Passwords pasted unencoded: everything up to the last @ is hidden, never a piece of it shown.
    ['postgres://louder:se/cr@et@db/louder', 'postgres://louder:***@db/louder'],
    ['postgres://louder:a:b@db/louder', 'postgres://louder:***@db/louder'],
    ['postgres://:hunter2@db/louder', 'postgres://:***@db/louder'],
    ['postgres://db/louder?user=louder&password=hunter2&sslmode=require', 'postgres://db/louder?user=louder&password=***&sslmode=require'],
    ['postgres://louder@db/louder', 'postgres://louder@db/louder'],
    ['postgres://db/louder', 'postgres://db/louder'],
  ])('%s → %s', (url, shown) => {
    expect(redactUrl(url)).toBe(shown)
  })
})

describe('buildConfig', () => {
  it('defaults everything but the data directory', () => {
    const cfg = buildConfig({ dataDir: '/srv/louder' })
    expect(cfg).toEqual({ dataDir: '/srv/louder', port: 8080, host: 'localhost', publicUrl: 'http://localhost:8080', databaseUrl: null, masterKeyFile: '/srv/louder/keys/master.key', uploads: { maxBytes: 4 * 1024 ** 3, expireAfterMs: 72 * 3600_000 } })
  })

  it('lets flags win over the environment', () => {
    expect(buildConfig({ dataDir: '/a', port: '1' }, { port: '2' }).port).toBe(2)
  })

  it.each([
    [{ port: 'abc' }, 'LOUDER_PORT'],
    [{ port: '65536' }, 'LOUDER_PORT'],
    [{ host: 'a b' }, 'LOUDER_HOST'],
    [{ publicUrl: 'ftp://x' }, 'LOUDER_PUBLIC_URL'],
    [{ publicUrl: 'https://a\tb' }, 'LOUDER_PUBLIC_URL'],
    [{ databaseUrl: 'mysql://u:p@h/d' }, 'LOUDER_DATABASE_URL'],
    [{ uploadMaxBytes: '0' }, 'LOUDER_UPLOAD_MAX_BYTES'],
    [{ uploadMaxBytes: '1e9' }, 'LOUDER_UPLOAD_MAX_BYTES'],
    [{ uploadExpireHours: '0' }, 'LOUDER_UPLOAD_EXPIRE_HOURS'],
    [{ uploadExpireHours: '-1' }, 'LOUDER_UPLOAD_EXPIRE_HOURS'],
  ])('refuses %j, naming %s in one line', (raw, setting) => {
    const err = (() => {
      try {
        buildConfig({ dataDir: '/srv/louder', ...raw })
      } catch (e) {
        return e
      }
    })()
    expect(err).toBeInstanceOf(ConfigError)
    expect((err as ConfigError).message.startsWith(setting)).toBe(true)
    expect((err as ConfigError).message).not.toContain('\n')
  })

  it('refuses a data directory that is a file and a key file that is a directory', () => {
    const dir = mkdtempSync(join(tmpdir(), 'louder-cfg-'))
    try {
      writeFileSync(join(dir, 'file'), '')
      expect(() => buildConfig({ dataDir: join(dir, 'file') })).toThrow(/^LOUDER_DATA_DIR/)
      expect(() => buildConfig({ dataDir: dir, masterKeyFile: dir })).toThrow(/^LOUDER_MASTER_KEY_FILE/)
      expect(buildConfig({ dataDir: join(dir, 'new') }).dataDir).toBe(join(dir, 'new'))
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
