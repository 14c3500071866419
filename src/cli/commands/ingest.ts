import type { Command } from 'commander'
import { withDataOptions } from '../config-options.ts'

/**
 * `louder ingest --data DIR FILE… [--incident ID] [--record CAPTURE.json --sig SIG]`: seals local files into
 * the locker (material received by hand), through the same use case as the API. One line per file on stdout
 * (`sha256 new|existing FILE`), progress on stderr; a file that fails gets a `louder: FILE: reason` line and
 * exit code 1, and the others are still sealed.
 */
export function registerIngest(program: Command): void {
  withDataOptions(program.command('ingest').description('seal files into the evidence locker (prints "sha256 new|existing FILE" per file)'))
    .argument('<file...>', 'files to seal, any type')
    .option('--incident <id>', 'the incident the material belongs to')
    .option('--record <capture.json>', "the file's signed capture record (one file only); it is logged first and the file must match it")
    .option('--sig <signature>', 'the capture record\'s Ed25519 signature (base64), or a file holding it')
    .action(async (files: string[], opts) => (await import('../ingest-files.ts')).ingestCommand(files, opts))
}
