/** The MediaDecoder the core hashes through: sharp for images, ffmpeg for video. */
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { MediaDecoder, MediaInput, MediaKind, VideoFrame } from '../core/matching/media-decoder.ts'
import { MediaError } from '../core/matching/media-error.ts'
import { probeVideo, sampleVideoFrames } from './ffmpeg-video.ts'
import { decodeImageForPdq, readImageHeader } from './sharp-image.ts'

export function makeMediaDecoder(opts: { videoTimeoutMs?: number } = {}): MediaDecoder {
  return {
    async probe(input) {
      await refuseEmpty(input)
      try {
        await readImageHeader(sourceOf(input))
        return 'image'
      } catch (err) {
        // An image too large or damaged is still an image: report that, not "unsupported".
        if (err instanceof MediaError && err.code !== 'unsupported') throw err
      }
      const probe = await withFile(input, (path) => probeVideo(path))
      if (!probe.hasVideo) throw new MediaError('no_video_stream', probe.streams ? 'the file has no video stream' : 'neither an image nor a video we can read')
      return 'video' satisfies MediaKind
    },
    async decodeImage(input) {
      await refuseEmpty(input)
      return decodeImageForPdq(sourceOf(input))
    },
    async *videoFrames(input): AsyncGenerator<VideoFrame> {
      await refuseEmpty(input)
      if ('path' in input) {
        yield* checkedFrames(input.path, opts.videoTimeoutMs)
        return
      }
      // ffmpeg needs a seekable file for most containers (an MP4's index may sit at its end).
      const dir = await mkdtemp(join(tmpdir(), 'louder-video-'))
      try {
        const path = join(dir, 'input')
        await writeFile(path, input, { mode: 0o600 })
        yield* checkedFrames(path, opts.videoTimeoutMs)
      } finally {
        await rm(dir, { recursive: true, force: true })
      }
    },
  }
}

async function* checkedFrames(path: string, timeoutMs: number | undefined): AsyncGenerator<VideoFrame> {
  const probe = await probeVideo(path)
  if (!probe.hasVideo) throw new MediaError('no_video_stream', 'the file has no video stream')
  yield* sampleVideoFrames(path, { timeoutMs })
}

function sourceOf(input: MediaInput): Uint8Array | string {
  return 'path' in input ? input.path : input
}

async function refuseEmpty(input: MediaInput): Promise<void> {
  const size = 'path' in input ? (await stat(input.path)).size : input.byteLength
  if (size === 0) throw new MediaError('empty', 'the file is empty')
}

async function withFile<T>(input: MediaInput, fn: (path: string) => Promise<T>): Promise<T> {
  if ('path' in input) return fn(input.path)
  const dir = await mkdtemp(join(tmpdir(), 'louder-media-'))
  try {
    const path = join(dir, 'input')
    await writeFile(path, input, { mode: 0o600 })
    return await fn(path)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
