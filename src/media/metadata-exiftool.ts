/** Video (and other container) metadata through ExifTool (`exiftool -j -n`): a separate process, killed at its time limit. */
import { MediaError } from '../core/matching/media-error.ts'
import { runProcess } from './run-process.ts'

export const EXIFTOOL_TIMEOUT_MS = 30_000

/** ExifTool's notes about our own temporary file, not about the evidence. */
const ABOUT_THE_COPY = ['SourceFile', 'Directory', 'FileName', 'FilePermissions', 'FileModifyDate', 'FileAccessDate', 'FileInodeChangeDate', 'ExifToolVersion']

export async function readVideoMetadata(path: string, timeoutMs = EXIFTOOL_TIMEOUT_MS): Promise<Record<string, unknown>> {
  let result
  try {
    result = await runProcess('exiftool', ['-j', '-n', '-api', 'LargeFileSupport=1', path], { timeoutMs, maxStdout: 8 * 1024 * 1024 })
  } catch (err) {
    throw new MediaError('unsupported', `ExifTool could not be run (${(err as Error).message})`)
  }
  if (result.timedOut) throw new MediaError('timeout', `ExifTool ran past ${timeoutMs} ms and was killed`)
  let parsed: unknown
  try {
    parsed = JSON.parse(result.stdout.toString('utf8'))
  } catch {
    throw new MediaError('corrupt', `ExifTool gave no readable answer (${result.stderr.split('\n')[0]!.slice(0, 200)})`)
  }
  const tags = Array.isArray(parsed) && typeof parsed[0] === 'object' && parsed[0] !== null ? { ...(parsed[0] as Record<string, unknown>) } : null
  if (!tags) throw new MediaError('corrupt', 'ExifTool found nothing to report')
  for (const key of ABOUT_THE_COPY) delete tags[key]
  return tags
}
