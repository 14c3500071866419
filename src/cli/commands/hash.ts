import type { Command } from 'commander'
import { fileErrorReason } from '../file-error.ts'

/**
 * `louder hash FILE…`: the PDQ hash and quality of each image, and of each kept frame of each video (with its
 * time in seconds). Image or video is decided by probing the content. A file that cannot be hashed gets one
 * `louder: FILE: reason` line on stderr and the exit code 1; the other files are still hashed.
 */
export function registerHash(program: Command): void {
  program
    .command('hash')
    .description('print the PDQ hash and quality of images, and of sampled frames of videos (pdq_hex quality [t=SECONDS])')
    .argument('<file...>', 'images or videos')
    .action(async (files: string[]) => {
      // Loaded when the command runs, so `louder --help` and other commands start fast.
      const { hashMedia } = await import('../../core/matching/hash-media.ts')
      const { makeMediaDecoder } = await import('../../media/media-decoder.ts')
      const decoder = makeMediaDecoder()
      let failed = false
      for (const file of files) {
        try {
          const result = await hashMedia({ decoder }, { path: file })
          const lines = result.frames.map((f) => (f.frameMs === null ? `${f.hash} ${f.quality}` : `${f.hash} ${f.quality} t=${(f.frameMs / 1000).toFixed(3)}`))
          process.stdout.write(lines.map((l) => `${l}\n`).join(''))
        } catch (err) {
          failed = true
          process.stderr.write(`louder: ${file}: ${fileErrorReason(err)}\n`)
        }
      }
      if (failed) process.exitCode = 1
    })
}
