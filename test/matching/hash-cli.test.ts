/** `louder hash` through the real CLI: images and videos told apart by content, bad files reported, others still hashed. */
import { execFileSync } from 'node:child_process'
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { hammingDistance } from '../../src/core/matching/hash256.ts'
import { runLouder } from '../large/server-process.ts'
import { expectedHashes, fixture } from './fixtures.ts'

const dir = mkdtempSync(join(tmpdir(), 'louder-hash-cli-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('louder hash', () => {
  it('prints pdq_hex quality per image and per kept frame with t=SECONDS, and reports bad files', async () => {
    // Misleading names: the command must probe, not trust extensions.
    const video = join(dir, 'looks-like-a-photo.jpg')
    execFileSync('ffmpeg', ['-v', 'error', '-nostdin', '-y', '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=10:duration=2', '-c:v', 'libx264', '-preset', 'ultrafast', '-f', 'mp4', video], { timeout: 60_000 })
    const image = join(dir, 'no-extension')
    copyFileSync(fixture('q0122.jpg'), image)
    const empty = join(dir, 'empty.png')
    writeFileSync(empty, '')

    const res = await runLouder(['hash', image, join(dir, 'missing.jpg'), video, empty], undefined, 60_000)
    expect(res.code).toBe(1)
    const lines = res.stdout.trim().split('\n')
    expect(lines[0]).toMatch(/^[0-9a-f]{64} \d{1,3}$/)
    const [hash] = lines[0]!.split(' ')
    expect(hammingDistance(hash!, expectedHashes()['q0122.jpg']!)).toBeLessThanOrEqual(16)
    const frames = lines.slice(1)
    expect(frames.length).toBeGreaterThan(0)
    for (const line of frames) expect(line).toMatch(/^[0-9a-f]{64} \d{1,3} t=\d+\.\d{3}$/)
    expect(frames[0]).toMatch(/ t=0\.000$/)
    expect(res.stderr).toBe(`louder: ${join(dir, 'missing.jpg')}: no such file\nlouder: ${empty}: the file is empty\n`)
  }, 90_000)

  it('exits 0 when every file hashes', async () => {
    const res = await runLouder(['hash', fixture('bridge-1-original.jpg')], undefined, 60_000)
    expect(res).toMatchObject({ code: 0, stderr: '' })
    expect(res.stdout).toMatch(/^[0-9a-f]{64} 100\n$/)
  })
})
