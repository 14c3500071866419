import type { Pixels } from './pdq.ts'

/** Media as the locker holds it (bytes) or the CLI finds it (a file). */
export type MediaInput = Uint8Array | { path: string }

export type MediaKind = 'image' | 'video'

/** One sampled video frame, already small (the decoder scales it), with where it sits in the video. */
export interface VideoFrame {
  pixels: Pixels
  /** Presentation time from the start of the video, in milliseconds. */
  frameMs: number
}

/**
 * What hashing needs from a media decoder (src/media implements it with sharp and ffmpeg). Every method
 * throws MediaError for media it cannot or will not read.
 */
export interface MediaDecoder {
  /** Image or video, decided from the content, never from a name. */
  probe(input: MediaInput): Promise<MediaKind>
  /** RGB pixels, EXIF orientation applied, large images already reduced as PDQ's reference does. */
  decodeImage(input: MediaInput): Promise<Pixels>
  /** Frames sampled once a second and at scene changes, in order. */
  videoFrames(input: MediaInput): AsyncIterable<VideoFrame>
}
