import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { tmpDir } from '../../test/support/tmp.ts'
import { fingerprint, Keyring, KeyringError, writeSecretFile } from './keyring.ts'

const keyFile = () => join(tmpDir('louder-keys-'), 'keys', 'master.key')
const LINE = /^louder-master-key v1 [0-9a-f]{16} [A-Za-z0-9+/]{43}=$/

describe('Keyring', () => {
  it('creates a key file only its owner can read, in a private directory', () => {
    const file = keyFile()
    const ring = Keyring.open(file, { create: true })
    expect(statSync(file).mode & 0o777).toBe(0o600)
    expect(statSync(join(file, '..')).mode & 0o077).toBe(0)
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(LINE)
    expect(ring.ids).toEqual([ring.active.id])
    expect(ring.active.key).toHaveLength(32)
    expect(ring.active.id).toBe(fingerprint(ring.active.key))
    // No temp file is left beside it.
    expect(readdirSync(join(file, '..'))).toEqual(['master.key'])
  })

  it('opens the same key again', () => {
    const file = keyFile()
    const created = Keyring.open(file, { create: true })
    const opened = Keyring.open(file, { create: false })
    expect(opened.active.id).toBe(created.active.id)
    expect(opened.active.key.equals(created.active.key)).toBe(true)
    expect(Keyring.open(file, { create: true }).active.id).toBe(created.active.id)
  })

  it('refuses to start without its key file rather than make a new one', () => {
    const file = keyFile()
    expect(() => Keyring.open(file, { create: false })).toThrow(KeyringError)
    expect(() => Keyring.open(file, { create: false })).toThrow(/not found.*escrow/)
    expect(existsSync(file)).toBe(false)
  })

  it('refuses a damaged key file', () => {
    const file = keyFile()
    Keyring.open(file, { create: true })
    const text = readFileSync(file, 'utf8')
    // Change one base64 character of the key: still well-formed, but no longer matching its fingerprint.
    const at = text.lastIndexOf('=') - 5
    writeFileSync(file, text.slice(0, at) + (text[at] === 'A' ? 'B' : 'A') + text.slice(at + 1))
    expect(() => Keyring.open(file, { create: false })).toThrow(/line 1 is damaged/)
  })

  it.each([
    ['a PEM key', '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIDb5\n-----END PRIVATE KEY-----\n', /line 1 is not a Louder master key/],
    ['a truncated line', 'louder-master-key v1 0123456789abcdef AAAA\n', /line 1 is not a Louder master key/],
    ['an empty file', '\n\n', /holds no key/],
    ['binary noise', '\u0000\u0001\u00ff garbage', /not a Louder master key/],
  ])('refuses a foreign file: %s', (_what, text, message) => {
    const file = keyFile()
    writeSecretFile(file, text)
    expect(() => Keyring.open(file, { create: false })).toThrow(KeyringError)
    expect(() => Keyring.open(file, { create: true })).toThrow(message)
    // Nothing overwrote the operator's file.
    expect(readFileSync(file, 'utf8')).toBe(text)
  })

  it('names the bad line of a file with several keys', () => {
    const file = keyFile()
    const ring = Keyring.open(file, { create: true })
    ring.addKey()
    writeFileSync(file, `${readFileSync(file, 'utf8')}not a key\n`)
    expect(() => Keyring.open(file, { create: false })).toThrow(/line 3/)
  })

  it('adds keys, the newest one active, and keeps the older ones until retired', () => {
    const file = keyFile()
    const ring = Keyring.open(file, { create: true })
    const first = ring.active
    const second = ring.addKey()
    expect(ring.active.id).toBe(second.id)
    expect(ring.ids).toEqual([first.id, second.id])
    expect(ring.byId(first.id)?.key.equals(first.key)).toBe(true)
    expect(Keyring.open(file, { create: false }).ids).toEqual([first.id, second.id])

    expect(ring.retireOldKeys()).toEqual([first.id])
    expect(ring.ids).toEqual([second.id])
    expect(ring.byId(first.id)).toBeUndefined()
    expect(Keyring.open(file, { create: false }).ids).toEqual([second.id])
    expect(statSync(file).mode & 0o777).toBe(0o600)
  })

  it('finds a key another process added since it opened the file', () => {
    const file = keyFile()
    const here = Keyring.open(file, { create: true })
    const there = Keyring.open(file, { create: false })
    const added = there.addKey()
    expect(here.byId(added.id)?.key.equals(added.key)).toBe(true)
    expect(here.byId('0000000000000000')).toBeUndefined()
  })

  it('serializes to exactly its file', () => {
    const file = keyFile()
    const ring = Keyring.open(file, { create: true })
    ring.addKey()
    expect(ring.serialize()).toBe(readFileSync(file, 'utf8'))
  })
})

describe('writeSecretFile', () => {
  it('replaces a file that others could read with one only its owner can', () => {
    const file = join(tmpDir('louder-secret-'), 'secret')
    writeFileSync(file, 'old', { mode: 0o644 })
    writeSecretFile(file, 'new')
    expect(readFileSync(file, 'utf8')).toBe('new')
    expect(statSync(file).mode & 0o777).toBe(0o600)
    expect(readdirSync(join(file, '..'))).toEqual(['secret'])
  })
})
