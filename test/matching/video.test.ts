/**
 * Video: a clip made here with ffmpeg (3 s of test pattern, 3 s of the bridge photograph, 3 s of flat colour)
 * is sampled once a second and at scene changes, and the bridge is found at 3 s.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHammingIndex } from '../../src/core/matching/hamming-index.ts'
import { hashMedia } from '../../src/core/matching/hash-media.ts'
import { MediaError } from '../../src/core/matching/media-error.ts'
import { decoder, fixture, hashImageFile } from './fixtures.ts'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'

const dir = mkdtempSync(join(tmpdir(), 'louder-video-test-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const clip = join(dir, 'clip.mp4')
const audioOnly = join(dir, 'sine.m4a')

function ffmpeg(args: string[]): void {
  execFileSync('ffmpeg', ['-v', 'error', '-nostdin', '-y', ...args], { timeout: 60_000 })
}

beforeAll(() => {
  ffmpeg([
    '-f', 'lavfi', '-i', 'testsrc=size=640x480:rate=25:duration=3',
    '-loop', '1', '-framerate', '25', '-t', '3', '-i', fixture('bridge-1-original.jpg'),
    '-f', 'lavfi', '-i', 'color=c=0x336699:size=640x480:rate=25:duration=3',
    '-filter_complex', '[0:v]setsar=1,format=yuv420p[a];[1:v]scale=640:480,setsar=1,format=yuv420p[b];[2:v]setsar=1,format=yuv420p[c];[a][b][c]concat=n=3:v=1:a=0[v]',
    '-map', '[v]', '-c:v', 'libx264', '-preset', 'ultrafast', clip,
  ])
  ffmpeg(['-f', 'lavfi', '-i', 'sine=duration=1', audioOnly])
}, 60_000)

describe('video', () => {
  it('finds the photograph in the clip at 3 s (±1 s), by probing rather than by name', async () => {
    const bridge = await hashImageFile('bridge-1-original.jpg')
    const video = await hashMedia({ decoder }, { path: clip })
    expect(video.kind).toBe('video')
    const index = createHammingIndex()
    for (const f of video.frames) index.add({ mediaSha256: 'clip', frameMs: f.frameMs, hash: f.hash, quality: f.quality })
    const matches = index.query(bridge.hash, 31)
    expect(matches.length).toBeGreaterThan(0)
    expect(Math.abs(matches[0]!.frameMs! - 3000)).toBeLessThanOrEqual(1000)
  })

  it('keeps timestamps in order and drops near-identical consecutive frames', async () => {
    const video = await hashMedia({ decoder }, { path: clip }, 'video/mp4')
    const times = video.frames.map((f) => f.frameMs!)
    expect(times).toEqual([...times].sort((a, b) => a - b))
    // 9 s at one frame a second would be 9 frames plus scene changes; the 3 s still of the bridge is one shot.
    expect(video.frames.length).toBeLessThan(9)
    expect(video.frames.filter((f) => f.frameMs! >= 3000 && f.frameMs! < 6000)).toHaveLength(1)
  })

  it('hashes video given as bytes the same as from a file', async () => {
    const fromFile = await hashMedia({ decoder }, { path: clip })
    const fromBytes = await hashMedia({ decoder }, readFileSync(clip), 'video/mp4')
    expect(fromBytes.frames).toEqual(fromFile.frames)
  })

  it('refuses a file with no video stream', async () => {
    for (const type of ['auto', 'video/mp4']) {
      const err = await hashMedia({ decoder }, { path: audioOnly }, type).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(MediaError)
      expect(err).toMatchObject({ code: 'no_video_stream', message: 'the file has no video stream' })
    }
  })

  it('refuses a truncated video with a typed error', async () => {
    const bytes = readFileSync(clip)
    const err = await hashMedia({ decoder }, bytes.subarray(0, 2000), 'video/mp4').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(MediaError)
  })
})
