/**
 * Private temporary plaintext copies for decoders that need a file (ExifTool, ffmpeg, exifr): a directory of
 * mode 0700 under the OS temp directory (often RAM, cleared at boot) rather than the data directory, which
 * must never hold evidence in clear. Removed when the work ends, however it ends.
 */
import { createWriteStream } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { PlainWorkspace } from '../core/evidence/media-processing.ts'

export function makePlainWorkspace(root = tmpdir()): PlainWorkspace {
  return {
    async withPlainCopy(body, fn) {
      const dir = await mkdtemp(join(root, 'louder-work-'))
      try {
        const path = join(dir, 'item')
        await pipeline(Readable.from(body), createWriteStream(path, { mode: 0o600 }))
        return await fn(path)
      } finally {
        await rm(dir, { recursive: true, force: true })
      }
    },
  }
}
