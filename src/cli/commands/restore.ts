import type { Command } from 'commander'
import { configFrom, withDataOptions } from '../config-options.ts'
import { interruptible } from '../interrupt.ts'
import { formatBytes, progressReporter } from '../progress.ts'

/** `louder restore`: a backup into a new, empty data directory and database (src/ops/restore.ts, docs/backup.md). */
export function registerRestore(program: Command): void {
  withDataOptions(
    program
      .command('restore')
      .description('restore a backup made by `louder backup` into a new, empty data directory and database'),
  )
    .requiredOption('--in <file>', 'the backup file')
    .requiredOption('--identity <file>', "age identity file (AGE-SECRET-KEY-… lines) of one of the backup's recipients")
    .option('--json', 'machine-readable output')
    .action(async (opts) => {
      // Loaded when the command runs, so `louder --help` and other commands start fast.
      const { readIdentities } = await import('../../ops/backup-format.ts')
      const { restore } = await import('../../ops/restore.ts')
      const config = configFrom(opts)
      const identities = await readIdentities(opts.identity)
      const progress = progressReporter('restore')
      const interrupt = interruptible('restore')
      try {
        const report = await restore({
          config,
          input: opts.in,
          identities,
          identitySource: `identity file ${opts.identity}`,
          signal: interrupt.signal,
          onProgress: progress.onProgress,
        })
        progress.end()
        const m = report.manifest
        const rows = m.tables.reduce((n, t) => n + t.rows, 0)
        if (opts.json) process.stdout.write(`${JSON.stringify(report)}\n`)
        else
          process.stdout.write(
            `restored the backup of ${m.createdAt} (Louder ${m.louderVersion}, ${m.source.dialect}) into ${report.dataDir} and ${report.database}: ` +
              `${rows} rows in ${m.tables.length} tables, ${m.blobs.count} blobs (${formatBytes(m.blobs.bytes)}); ` +
              `master key written to ${report.masterKeyFile}: keep it escrowed\n`,
          )
      } finally {
        progress.end()
        interrupt.dispose()
      }
    })
}
