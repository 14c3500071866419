import { LouderError } from '../errors.ts'

/**
 * Why a file could not be hashed. Hostile or broken media must end here, never in a crash: the locker's job
 * records the code, the CLI prints the message.
 */
export type MediaErrorCode =
  /** No bytes at all. */
  | 'empty'
  /** Neither an image sharp can read nor a file ffmpeg can probe. */
  | 'unsupported'
  /** Damaged or truncated data. */
  | 'corrupt'
  /** Declares more pixels than we agree to decode (a decompression bomb, or just too large). */
  | 'too_large'
  /** Under 5×5 pixels: PDQ has nothing to hash. */
  | 'too_small'
  /** A media file without a video stream (audio only, subtitles…). */
  | 'no_video_stream'
  /** A decoder ran past its time limit and was killed. */
  | 'timeout'

export class MediaError extends LouderError {
  declare readonly code: MediaErrorCode
  constructor(code: MediaErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message)
    if (options?.cause !== undefined) this.cause = options.cause
  }
}
