import type { Command } from 'commander'
import { readFieldPassphraseEnv, readTokenEnv } from '../../config/read-env.ts'

/**
 * `louder sync DIR --server URL`: sends a field folder's reports and media to a Louder server over a thin,
 * expensive, unreliable link (docs/field-sync.md). Killed at any moment and run again, it continues where it
 * stopped. Exit 0: all acknowledged; 3: some deferred by --budget or --originals; 1: errors (listed); 130: interrupted.
 */
export function registerSync(program: Command): void {
  program
    .command('sync')
    .description('send a field folder to a Louder server: reports first, then thumbnails, publication images, originals')
    .argument('<dir>', 'the field folder (louder field new)')
    .requiredOption('--server <url>', 'the Louder server, e.g. https://louder.example.org')
    .option('--token <token>', 'API token (default: LOUDER_TOKEN)')
    .option('--budget <size>', 'bytes this session may send, e.g. 20MB (reports always go)')
    .option('--originals <when>', 'now (default) or later: originals wait for a --budget that covers them or a --cheap link')
    .option('--cheap', 'the link is cheap (unmetered): with --originals later, send originals anyway')
    .option('--watch', 'keep running and send new reports as they appear')
    .option('--purge-after-ack', 'delete local originals once acknowledged and confirmed by HEAD /media')
    .option('--json', 'one JSON object per line on stdout: state changes, progress, the summary')
    .option('--max-in-flight <n>', 'requests at once (default 3)')
    .option('--device-dir <dir>', 'the device key directory (default ~/.louder/device)')
    .option('--device-name <name>', 'the name the device is registered under (default: host name)')
    .option('--passphrase-file <file>', "the folder's passphrase, to open and send restricted parts (or LOUDER_FIELD_PASSPHRASE)")
    .option('--stall-timeout <seconds>', 'abort and resume a request that makes no progress this long (default 30)')
    .option('--retry-for <seconds>', 'give an item up for this session after failing this long without progress (default 600)')
    .action(async (dir: string, opts) => (await import('../sync-command.ts')).syncCommand(dir, opts, { token: readTokenEnv(), fieldPassphrase: readFieldPassphraseEnv() }))
}
