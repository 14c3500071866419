/**
 * Video frames for PDQ, sampled by ffmpeg: the only place ffmpeg and ffprobe are run. Frames come out as raw
 * RGB at a small fixed size through a pipe (nothing written to disk), with their timestamps from ffmpeg's
 * `showinfo` filter on stderr.
 */
import { spawn } from 'node:child_process'
import { MediaError } from '../core/matching/media-error.ts'
import type { VideoFrame } from '../core/matching/media-decoder.ts'
import { runProcess } from './run-process.ts'

// Found on PATH (Debian's ffmpeg package installs both).
const FFMPEG = 'ffmpeg'
const FFPROBE = 'ffprobe'

/**
 * Frames are scaled to this square by area averaging: big enough for PDQ's tent filter to do the rest
 * (window 2 per pass), small enough that a frame is 192 KiB.
 */
export const FRAME_SIZE = 256
const FRAME_BYTES = FRAME_SIZE * FRAME_SIZE * 3
/** A scene-change score above this (0–1, ffmpeg's `scene`) samples a frame between the once-a-second ones. */
export const SCENE_THRESHOLD = 0.3
/** Same limit as images: a video frame declaring more pixels is refused by the decoder. */
const MAX_FRAME_PIXELS = 100_000_000

export interface VideoProbe {
  hasVideo: boolean
  streams: number
}

/** What ffprobe finds in the file; a MediaError when it is not a media file at all. */
export async function probeVideo(path: string, timeoutMs = 30_000): Promise<VideoProbe> {
  const res = await runProcess(FFPROBE, ['-v', 'error', '-show_entries', 'stream=codec_type', '-of', 'json', '--', path], { timeoutMs })
  if (res.timedOut) throw new MediaError('timeout', `ffprobe took longer than ${timeoutMs / 1000} s`)
  if (res.code !== 0) throw new MediaError('unsupported', 'neither an image nor a video we can read')
  let streams: { codec_type?: string }[]
  try {
    streams = (JSON.parse(res.stdout.toString('utf8')) as { streams?: { codec_type?: string }[] }).streams ?? []
  } catch {
    throw new MediaError('unsupported', 'neither an image nor a video we can read')
  }
  return { hasVideo: streams.some((s) => s.codec_type === 'video'), streams: streams.length }
}

/**
 * Samples frames once a second (a frame is taken when a second has passed since the last one taken) and at
 * scene changes, plus the first frame. `timeoutMs` bounds the whole run; ffmpeg is killed when it passes.
 */
export async function* sampleVideoFrames(path: string, opts: { timeoutMs?: number } = {}): AsyncGenerator<VideoFrame> {
  const timeoutMs = opts.timeoutMs ?? 10 * 60_000
  const select = `select='eq(n\\,0)+gt(scene\\,${SCENE_THRESHOLD})+gte(t-prev_selected_t\\,1)'`
  const args = [
    '-hide_banner', '-nostdin', '-loglevel', 'info',
    '-max_pixels', String(MAX_FRAME_PIXELS),
    '-i', path,
    '-map', '0:v:0', '-an', '-sn', '-dn',
    '-vf', `${select},showinfo,scale=${FRAME_SIZE}:${FRAME_SIZE}:flags=area,format=rgb24`,
    '-fps_mode', 'passthrough',
    '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1',
  ]
  const child = spawn(FFMPEG, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    child.kill('SIGKILL')
  }, timeoutMs)
  const times: number[] = []
  let stderrTail = ''
  let pendingLine = ''
  let wake: (() => void) | null = null
  const closed = new Promise<{ code: number | null }>((resolve) => {
    child.once('close', (code) => {
      resolve({ code })
      wake?.()
    })
  })
  const spawnFailed = new Promise<never>((_, reject) => child.once('error', reject))
  spawnFailed.catch(() => {})
  let exited = false
  void closed.then(() => (exited = true))
  child.stderr.on('data', (d: Buffer) => {
    const text = pendingLine + d.toString()
    const lines = text.split('\n')
    pendingLine = lines.pop()!
    for (const line of lines) {
      const m = /Parsed_showinfo.*\bpts_time:\s*(-?[0-9.]+)/.exec(line)
      if (m) times.push(Math.max(0, Math.round(Number(m[1]) * 1000)))
      else stderrTail = (stderrTail + line + '\n').slice(-4096)
    }
    wake?.()
  })
  try {
    let frame = Buffer.alloc(FRAME_BYTES)
    let filled = 0
    let index = 0
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
      let at = 0
      while (at < chunk.length) {
        const n = Math.min(FRAME_BYTES - filled, chunk.length - at)
        chunk.copy(frame, filled, at, at + n)
        filled += n
        at += n
        if (filled < FRAME_BYTES) continue
        // The frame's showinfo line may still be in the stderr pipe: wait for it (or for the end).
        while (times.length <= index && !exited) await new Promise<void>((r) => (wake = r))
        if (times.length <= index) throw new MediaError('corrupt', 'ffmpeg gave a frame without a timestamp')
        yield { pixels: { data: new Uint8Array(frame.buffer, frame.byteOffset, FRAME_BYTES), width: FRAME_SIZE, height: FRAME_SIZE, channels: 3 }, frameMs: times[index]! }
        index++
        frame = Buffer.alloc(FRAME_BYTES)
        filled = 0
      }
    }
    const { code } = await Promise.race([closed, spawnFailed])
    if (timedOut) throw new MediaError('timeout', `ffmpeg took longer than ${timeoutMs / 1000} s`)
    if (code !== 0) throw videoErrorFrom(stderrTail)
    if (index === 0) throw new MediaError('corrupt', 'the video has no decodable frame')
  } finally {
    clearTimeout(timer)
    if (!exited) child.kill('SIGKILL')
  }
}

function videoErrorFrom(stderr: string): MediaError {
  if (/matches no streams|Stream map '0:v:0'/i.test(stderr)) return new MediaError('no_video_stream', 'the file has no video stream')
  if (/Invalid data found when processing input/i.test(stderr)) return new MediaError('unsupported', 'not a video we can read')
  const last = stderr.trim().split('\n').filter(Boolean).pop() ?? 'ffmpeg failed'
  return new MediaError('corrupt', `the video could not be decoded (${last.replace(/^\[[^\]]*\]\s*/, '').slice(0, 200)})`)
}
