import { readFile } from 'node:fs/promises'
import type { Command } from 'commander'
import { withDataOptions } from '../config-options.ts'

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value]

/**
 * `louder export case --data DIR --incident ID… --out PATH [--tar] [--recipient AGE…] [--tsa URL --tsa-ca PEM…]`:
 * a court bag of the incidents' court-consented material with every proof (src/court/export-bag.ts).
 */
export function registerExport(program: Command): void {
  const exp = program.command('export').description('export evidence')
  withDataOptions(exp.command('case').description('write a BagIt court bag of incidents: consented originals, records, custody proofs, timestamps, verifier'))
    .requiredOption('--incident <id>', 'an incident to export (repeatable)', collect)
    .requiredOption('--out <path>', 'the bag directory to create, or the .tar file with --tar')
    .option('--tar', 'write one tar file instead of a directory')
    .option('--recipient <age1...>', 'age-encrypt the tar to this recipient (repeatable; needs --tar)', collect)
    .option('--tsa <url>', 'RFC 3161 timestamp authority to timestamp the checkpoint with (repeatable, paired with --tsa-ca)', collect)
    .option('--tsa-ca <pem>', "the TSA's CA certificate file, in --tsa order (repeatable)", collect)
    .option('--organisation <name>', 'Source-Organization in bag-info.txt', 'Louder')
    .option('--contact <name>', 'Contact-Name in bag-info.txt', 'legal officer')
    .action(async (opts) => {
      const { createAppContext } = await import('../../app-context.ts')
      const { createLogger } = await import('../../log.ts')
      const { configFrom } = await import('../config-options.ts')
      const { CLI_ACTOR } = await import('../cli-audit.ts')
      const { exportCaseBag } = await import('../../court/export-bag.ts')
      const urls: string[] = opts.tsa ?? []
      const cas: string[] = opts.tsaCa ?? []
      if (urls.length !== cas.length) throw new Error('give one --tsa-ca for each --tsa')
      const authorities = await Promise.all(urls.map(async (url, i) => ({ url, caPem: await readFile(cas[i]!, 'utf8') })))
      const ctx = await createAppContext(configFrom(opts), createLogger({ level: 'warn' }))
      try {
        const r = await exportCaseBag(
          { store: ctx.store, blobs: ctx.blobs, sealer: ctx.sealer, streams: ctx.envelope, signer: await ctx.logKey.signer() },
          CLI_ACTOR,
          { ip: null, method: null, route: 'louder export case', reason: null },
          { incidents: opts.incident, out: opts.out, tar: opts.tar === true, recipients: opts.recipient, authorities, organisation: opts.organisation, contact: opts.contact },
        )
        for (const f of r.timestampFailures) process.stderr.write(`louder: timestamp: ${f}\n`)
        for (const sha of r.notHeld) process.stderr.write(`louder: ${sha}: named by an observation but not in the locker; not exported\n`)
        process.stdout.write(
          `export ${r.exportId} written to ${r.path}: ${r.originals} originals, ${r.derivatives} derivatives, ${r.events} custody events; bag SHA-256 ${r.bagSha256} logged at index ${r.logIndex}\n`,
        )
      } finally {
        await ctx.close()
      }
    })
}
