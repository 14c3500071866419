/** `louder ingest` as an operator runs it: one line per file, progress on stderr, capture records checked. */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createAppContext } from '../../src/app-context.ts'
import { INGEST_CONCURRENCY, sealLargestFirst } from '../../src/cli/ingest-files.ts'
import { buildConfig } from '../../src/config/build-config.ts'
import { systemActor } from '../../src/core/access/actor.ts'
import { approveDevice, requestDevice } from '../../src/core/evidence/device.service.ts'
import { createLogger } from '../../src/log.ts'
import { runLouder } from '../large/server-process.ts'
import { filesHolding } from '../support/canary.ts'
import { tmpDir } from '../support/tmp.ts'
import { newDevice, signedCapture } from './device-fixture.ts'
import { CANARY, fieldPhotos } from './support.ts'

describe('louder ingest', () => {
  it('seals files once each, prints sha256 and new|existing per file, and checks a capture record', { timeout: 90_000 }, async () => {
    const dataDir = tmpDir('louder-ingest-cli-')
    const photos = fieldPhotos()
    const first = await runLouder(['ingest', '--data', dataDir, ...photos.map((p) => p.path)])
    expect(first.code, first.stderr).toBe(0)
    expect(first.stdout.trim().split('\n')).toEqual(photos.map((p) => `${p.sha256} new ${p.path}`))
    expect(first.stderr).toMatch(/\[1\/\d+\] sealing/)
    const again = await runLouder(['ingest', '--data', dataDir, photos[0]!.path, join(dataDir, 'no-such-file')])
    expect(again.code).toBe(1)
    expect(again.stdout).toBe(`${photos[0]!.sha256} existing ${photos[0]!.path}\n`)
    expect(again.stderr).toMatch(/no-such-file: no such file/)
    expect(filesHolding(dataDir, CANARY)).toEqual([])

    // A device registered on this data directory, and a capture record it signed for a file received later by hand.
    const device = newDevice()
    const ctx = await createAppContext(buildConfig({ dataDir }), createLogger({ level: 'silent' }))
    try {
      const admin = systemActor('test')
      await ctx.store.transaction((repos) => requestDevice(repos, admin, { publicKey: device.publicKey, name: 'Field phone' }))
      await ctx.store.transaction((repos) => approveDevice(repos, admin, device.keyId))
    } finally {
      await ctx.close()
    }
    const extra = join(dataDir, 'handed-over.bin')
    writeFileSync(extra, `material handed over ${Date.now()}`)
    const { createHash } = await import('node:crypto')
    const { readFileSync } = await import('node:fs')
    const bytes = readFileSync(extra)
    const capture = signedCapture(device, { sha256: createHash('sha256').update(bytes).digest('hex'), byteLength: bytes.length, mediaType: 'application/octet-stream' })
    writeFileSync(join(dataDir, 'capture.json'), JSON.stringify(capture.record))
    writeFileSync(join(dataDir, 'capture.sig'), capture.signature)
    const withRecord = await runLouder(['ingest', '--data', dataDir, extra, '--record', join(dataDir, 'capture.json'), '--sig', join(dataDir, 'capture.sig')])
    expect(withRecord.code, withRecord.stderr).toBe(0)
    expect(withRecord.stdout).toBe(`${capture.record.sha256} new ${extra}\n`)
    expect(withRecord.stderr).toMatch(/capture record logged at index \d+/)

    // A record for other bytes: the file is refused, nothing of it kept.
    const other = signedCapture(device)
    writeFileSync(join(dataDir, 'other.json'), JSON.stringify(other.record))
    const mismatch = await runLouder(['ingest', '--data', dataDir, photos[0]!.path, '--record', join(dataDir, 'other.json'), '--sig', other.signature])
    expect(mismatch.code).toBe(1)
    expect(mismatch.stderr).toMatch(/not the declared/)
  })
})

describe('sealLargestFirst', () => {
  it('starts the largest files first, two at a time, files of one size one after the other, and a file it cannot stat last', async () => {
    const dir = tmpDir('louder-largest-first-')
    const files = [10, 3000, 0, 700, 3000].map((size, n) => {
      const path = join(dir, `f${n}`)
      writeFileSync(path, Buffer.alloc(size))
      return path
    })
    files.push(join(dir, 'missing'))
    const started: string[] = []
    const running = new Set<number>()
    let most = 0
    await sealLargestFirst(files, async (file, n, size) => {
      expect(files[n]).toBe(file)
      // Two copies of the same bytes are never sealed at once (both would be written before either is recorded).
      if (size === 3000) expect([...running].some((m) => m === 1 || m === 4)).toBe(false)
      started.push(`${n}:${size}`)
      running.add(n)
      most = Math.max(most, running.size)
      await new Promise((resolve) => setTimeout(resolve, 5))
      running.delete(n)
    })
    expect(started.slice(0, 2)).toEqual(['1:3000', '3:700'])
    expect(started.sort()).toEqual(['0:10', '1:3000', '2:0', '3:700', '4:3000', '5:null'])
    expect(most).toBe(INGEST_CONCURRENCY)
  })

  it('tries every file when one fails, then throws the first failure', async () => {
    const dir = tmpDir('louder-largest-first-')
    const files = [1, 2, 3].map((size, n) => {
      const path = join(dir, `g${n}`)
      writeFileSync(path, Buffer.alloc(size))
      return path
    })
    const tried: number[] = []
    await expect(
      sealLargestFirst(files, async (_file, n) => {
        tried.push(n)
        if (n === 2) throw new Error('disk full')
      }),
    ).rejects.toThrow('disk full')
    expect(tried.sort()).toEqual([0, 1, 2])
  })
})
