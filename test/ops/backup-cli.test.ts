import { execFile } from 'node:child_process'
import { existsSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { tmpDir } from '../support/tmp.ts'
import { newIdentity, openWitness, place, populate, WITNESS } from './fixture.ts'

const LOUDER = join(import.meta.dirname, '..', '..', 'bin', 'louder')

/** Runs bin/louder as a process, with no LOUDER_* settings inherited from the test's environment. */
function louder(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('LOUDER_')))
  return new Promise((resolve) => {
    execFile(LOUDER, args, { env: { ...clean, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0
      resolve({ code, stdout, stderr })
    })
  })
}

describe('louder backup / louder restore as processes', () => {
  it('backs up and restores, with exit codes 0, 1 and 2', async () => {
    const base = tmpDir('louder-cli-')
    const source = place(join(base, 'data'))
    await populate(source, { observations: 20 })
    const { identity, recipient } = await newIdentity()
    const other = await newIdentity()
    const recipientsFile = join(base, 'recipients.txt')
    writeFileSync(recipientsFile, `# escrow\n${other.recipient}\n`)
    const identityFile = join(base, 'key.txt')
    writeFileSync(identityFile, `# public key: ${recipient}\n${identity}\n`, { mode: 0o600 })
    const file = join(base, 'backup.age')

    const made = await louder(['backup', '--data', source.dataDir, '--out', file, '--recipient', recipient, '--recipients-file', recipientsFile, '--json'])
    expect(made.stderr).toMatch(/backup blobs: 100%/)
    expect(made.code).toBe(0)
    const report = JSON.parse(made.stdout)
    expect(report).toMatchObject({ file, recipients: 2, manifest: { format: 'louder-backup', blobs: { count: 7 } } })

    // The data directory can come from the environment, like every other command's.
    const restoredDir = join(base, 'restored')
    const restored = await louder(['restore', '--in', file, '--identity', identityFile], { LOUDER_DATA_DIR: restoredDir })
    expect(restored.stderr).not.toMatch(/louder:/)
    expect(restored.code).toBe(0)
    expect(restored.stdout).toMatch(/^restored the backup of .* keep it escrowed\n$/)
    expect(await openWitness(place(restoredDir))).toBe(WITNESS)

    // Errors: exit 1, one `louder: …` line, nothing created.
    const again = await louder(['backup', '--data', source.dataDir, '--out', file, '--recipient', recipient])
    expect(again.code).toBe(1)
    expect(again.stderr).toMatch(/^louder: .*already exists.*--force to replace it\n$/)
    const noRecipient = await louder(['backup', '--data', source.dataDir, '--out', join(base, 'x.age')])
    expect(noRecipient.code).toBe(1)
    expect(noRecipient.stderr).toMatch(/^louder: no recipient/)
    const strangerFile = join(base, 'stranger.txt')
    writeFileSync(strangerFile, `${(await newIdentity()).identity}\n`)
    const wrong = await louder(['restore', '--in', file, '--identity', identityFile, '--data', restoredDir])
    expect(wrong.code).toBe(1)
    expect(wrong.stderr).toMatch(/^louder: .* is not empty/)
    const fresh = join(base, 'fresh')
    const notAKey = await louder(['restore', '--in', file, '--identity', recipientsFile, '--data', fresh])
    expect(notAKey.code).toBe(1)
    expect(notAKey.stderr).toMatch(/line 2 is not an age identity/)
    expect(notAKey.stderr).not.toContain(other.recipient)
    const bad = await louder(['restore', '--in', file, '--identity', strangerFile, '--data', fresh])
    expect(bad.code).toBe(1)
    expect(bad.stderr).toMatch(/^louder: identity file .*stranger.txt cannot open .*backup.age: it was encrypted to other recipients/)
    expect(existsSync(fresh)).toBe(false)

    // Bad usage: exit 2.
    expect((await louder(['backup', '--data', source.dataDir, '--recipient', recipient])).code).toBe(2)
    expect((await louder(['restore', '--in', file, '--data', fresh])).code).toBe(2)
    expect((await louder(['backup', '--out', file, '--no-such-flag'])).code).toBe(2)
    expect(readdirSync(base).sort()).toEqual(['backup.age', 'data', 'key.txt', 'recipients.txt', 'restored', 'stranger.txt'])
  }, 180_000)
})
