/**
 * What `louder ingest` does (src/cli/commands/ingest.ts registers it; loaded only when it runs). Files stream
 * from disk through hashing and sealing; nothing is read whole into memory.
 */
import { existsSync, readFileSync } from 'node:fs'
import { stat } from 'node:fs/promises'
import { createAppContext } from '../app-context.ts'
import { fileSource } from '../blobs/file-pieces.ts'
import { tuneForBulkSealing } from '../protection/sealing-pool.ts'
import { captureFor, registerCapture, reserveCaptureSealing } from '../core/evidence/capture.service.ts'
import { ingestMedia } from '../core/evidence/ingest.ts'
import { createLogger } from '../log.ts'
import { CLI_ACTOR, cliAuditEntry } from './cli-audit.ts'
import { configFrom } from './config-options.ts'
import { fileErrorReason } from './file-error.ts'

/** Files sealed at once: the sealing threads' number on most machines, so one file's reads, writes and fsyncs overlap the other's hashing and encryption. */
export const INGEST_CONCURRENCY = 2

/**
 * Runs `seal` over `files`, INGEST_CONCURRENCY at a time, largest first, so that the sealing threads finish
 * together: in the order given, a large file that came last was sealed on one thread while the other idled.
 * Files of one size are sealed one after the other: copies of the same bytes sealed at once would both be
 * sealed and written, one of them for nothing (ingest then destroys it). `size` is null for a file that
 * cannot be stat'ed (`seal` reports it). Every file is tried; the first failure is thrown at the end.
 */
export async function sealLargestFirst(files: readonly string[], seal: (file: string, n: number, size: number | null) => Promise<void>): Promise<void> {
  const sizes = await Promise.all(files.map((file) => stat(file).then((s) => s.size, () => null)))
  const order = files.map((_, n) => n).sort((a, b) => (sizes[b] ?? -1) - (sizes[a] ?? -1) || a - b)
  const groups: number[][] = []
  for (const n of order) {
    const last = groups.at(-1)
    if (last && sizes[n] !== null && sizes[last[0]!] === sizes[n]) last.push(n)
    else groups.push([n])
  }
  let next = 0
  const lanes = await Promise.allSettled(
    Array.from({ length: Math.min(INGEST_CONCURRENCY, files.length) }, async () => {
      for (let group = groups[next++]; group; group = groups[next++]) for (const n of group) await seal(files[n]!, n, sizes[n]!)
    }),
  )
  const failed = lanes.find((lane) => lane.status === 'rejected')
  if (failed) throw failed.reason
}

interface IngestOptions {
  incident?: string
  record?: string
  sig?: string
}

export async function ingestCommand(files: string[], opts: IngestOptions & Record<string, unknown>): Promise<void> {
  if (!!opts.record !== !!opts.sig) throw new Error('--record and --sig go together')
  if (opts.record && files.length !== 1) throw new Error('--record describes one file: ingest it on its own')
  tuneForBulkSealing()
  const ctx = await createAppContext(configFrom(opts), createLogger({ level: 'warn' }), { warmSealing: true })
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
    // Lines go out in the order the files were named, whatever order they are sealed in.
    const lines: (string | null)[] = files.map(() => null)
    let printed = 0
    const settle = (n: number, line: string) => {
      lines[n] = line
      while (printed < files.length && lines[printed] !== null) process.stdout.write(lines[printed++]!)
    }
    await sealLargestFirst(files, async (file, n, size) => {
      try {
        if (size === null) await stat(file) // says why: missing, unreadable
        process.stderr.write(`[${n + 1}/${files.length}] sealing ${file} (${size} bytes)\n`)
        const result = await ingestMedia(
          deps,
          CLI_ACTOR,
          { body: fileSource(file), incidentId: opts.incident ?? null, expectedSha256: expected?.sha256, expectedByteLength: expected && expected.byteLength >= 0 ? expected.byteLength : null },
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
    })
  } finally {
    await ctx.close()
  }
  if (failed) process.exitCode = 1
}
