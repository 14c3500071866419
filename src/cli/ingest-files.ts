/**
 * What `louder ingest` does (src/cli/commands/ingest.ts registers it; loaded only when it runs). Files stream
 * from disk through hashing and sealing; nothing is read whole into memory.
 */
import { existsSync, readFileSync } from 'node:fs'
import { stat } from 'node:fs/promises'
import { createAppContext } from '../app-context.ts'
import { readFilePieces } from '../blobs/file-pieces.ts'
import { captureFor, registerCapture, reserveCaptureSealing } from '../core/evidence/capture.service.ts'
import { ingestMedia } from '../core/evidence/ingest.ts'
import { createLogger } from '../log.ts'
import { CLI_ACTOR, cliAuditEntry } from './cli-audit.ts'
import { configFrom } from './config-options.ts'
import { fileErrorReason } from './file-error.ts'

/** Files sealed at once (see below). */
export const INGEST_CONCURRENCY = 2

interface IngestOptions {
  incident?: string
  record?: string
  sig?: string
}

export async function ingestCommand(files: string[], opts: IngestOptions & Record<string, unknown>): Promise<void> {
  if (!!opts.record !== !!opts.sig) throw new Error('--record and --sig go together')
  if (opts.record && files.length !== 1) throw new Error('--record describes one file: ingest it on its own')
  const ctx = await createAppContext(configFrom(opts), createLogger({ level: 'warn' }))
  const deps = ctx.ingest
  let failed = false
  try {
    let expected: { sha256: string; byteLength: number } | null = null
    if (opts.record && opts.sig) {
      const record: unknown = JSON.parse(readFileSync(opts.record, 'utf8'))
      const signature = existsSync(opts.sig) ? readFileSync(opts.sig, 'utf8').trim() : opts.sig
      const sealing = await reserveCaptureSealing(ctx.sealer)
      const receipt = await ctx.store.transaction((repos) => registerCapture(repos, sealing, CLI_ACTOR, { record, signature }))
      const capture = await captureFor(ctx.store.repos, receipt.sha256)
      expected = { sha256: receipt.sha256, byteLength: capture?.byteLength ?? -1 }
      process.stderr.write(`capture record logged at index ${receipt.logIndex} for ${receipt.sha256}\n`)
    }
    // Two files at a time (the sealing threads' number on most machines): one file's reads, writes and fsync
    // overlap the other's hashing and encryption. Lines go out in the order the files were named.
    const lines: (string | null)[] = files.map(() => null)
    let printed = 0
    const settle = (n: number, line: string) => {
      lines[n] = line
      while (printed < files.length && lines[printed] !== null) process.stdout.write(lines[printed++]!)
    }
    let next = 0
    const sealOne = async (n: number, file: string) => {
      try {
        const size = (await stat(file)).size
        process.stderr.write(`[${n + 1}/${files.length}] sealing ${file} (${size} bytes)\n`)
        const result = await ingestMedia(
          deps,
          CLI_ACTOR,
          { body: readFilePieces(file), incidentId: opts.incident ?? null, expectedSha256: expected?.sha256, expectedByteLength: expected && expected.byteLength >= 0 ? expected.byteLength : null },
          {
            inTransaction: (repos, item) => repos.audit.append(cliAuditEntry('ingest', 'media.ingest', 'ok', { resourceType: 'media', resourceId: item.sha256 })),
          },
        )
        settle(n, `${result.item.sha256} ${result.status} ${file}\n`)
      } catch (err) {
        failed = true
        process.stderr.write(`louder: ${file}: ${fileErrorReason(err)}\n`)
        settle(n, '')
      }
    }
    await Promise.all(
      Array.from({ length: Math.min(INGEST_CONCURRENCY, files.length) }, async () => {
        for (let n = next++; n < files.length; n = next++) await sealOne(n, files[n]!)
      }),
    )
  } finally {
    await ctx.close()
  }
  if (failed) process.exitCode = 1
}
