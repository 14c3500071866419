import type { Command } from 'commander'
import { configFrom, withDataOptions } from '../config-options.ts'
import { interruptible } from '../interrupt.ts'
import { formatBytes, progressReporter } from '../progress.ts'

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value]

/** `louder backup`: an encrypted, consistent snapshot of a data directory (src/ops/backup.ts, docs/backup.md). */
export function registerBackup(program: Command): void {
  withDataOptions(
    program
      .command('backup')
      .description('write an age-encrypted, consistent snapshot of the database, blobs and master key (safe while a server runs)'),
  )
    .requiredOption('--out <file>', 'backup file to write; it appears only once complete')
    .option('--recipient <age1...>', 'age recipient to encrypt to (repeatable)', collect)
    .option('--recipients-file <file>', 'file of age recipients, one per line, # comments (repeatable)', collect)
    .option('--force', 'replace --out if it exists')
    .option('--json', 'machine-readable output')
    .action(async (opts) => {
      // Loaded when the command runs, so `louder --help` and other commands start fast.
      const { readRecipients } = await import('../../ops/backup-format.ts')
      const { backup } = await import('../../ops/backup.ts')
      const config = configFrom(opts)
      const recipients = await readRecipients(opts.recipient ?? [], opts.recipientsFile ?? [])
      const progress = progressReporter('backup')
      const interrupt = interruptible('backup')
      try {
        const report = await backup({ config, out: opts.out, recipients, force: opts.force === true, signal: interrupt.signal, onProgress: progress.onProgress })
        progress.end()
        const m = report.manifest
        const rows = m.tables.reduce((n, t) => n + t.rows, 0)
        if (opts.json) process.stdout.write(`${JSON.stringify({ file: report.file, bytes: report.bytes, recipients: report.recipients, manifest: m })}\n`)
        else
          process.stdout.write(
            `backup written to ${report.file} (${formatBytes(report.bytes)}, encrypted to ${report.recipients} recipient${report.recipients === 1 ? '' : 's'}): ` +
              `${rows} rows in ${m.tables.length} tables, ${m.blobs.count} blobs (${formatBytes(m.blobs.bytes)}), master key(s) ${m.masterKeyIds.join(', ')}\n`,
          )
      } finally {
        progress.end()
        interrupt.dispose()
      }
    })
}
