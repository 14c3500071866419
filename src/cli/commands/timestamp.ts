import { readFile } from 'node:fs/promises'
import type { Command } from 'commander'
import { withDataOptions } from '../config-options.ts'

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value]

/**
 * `louder timestamp --data DIR --tsa URL --tsa-ca CA.pem [--tsa … --tsa-ca …]`: signs a checkpoint and has
 * every TSA timestamp it (RFC 3161); court bags made later carry it. Exit 1 when no authority answered well.
 */
export function registerTimestamp(program: Command): void {
  withDataOptions(program.command('timestamp').description('sign a custody log checkpoint and have RFC 3161 authorities timestamp it'))
    .requiredOption('--tsa <url>', 'timestamp authority URL (repeatable, paired with --tsa-ca)', collect)
    .requiredOption('--tsa-ca <pem>', "the TSA's CA certificate file, in --tsa order (repeatable)", collect)
    .action(async (opts) => {
      const { createAppContext } = await import('../../app-context.ts')
      const { createLogger } = await import('../../log.ts')
      const { configFrom } = await import('../config-options.ts')
      const { timestampCheckpoint } = await import('../../court/timestamp-checkpoint.ts')
      const urls: string[] = opts.tsa
      const cas: string[] = opts.tsaCa
      if (urls.length !== cas.length) throw new Error('give one --tsa-ca for each --tsa')
      const authorities = await Promise.all(urls.map(async (url, i) => ({ url, caPem: await readFile(cas[i]!, 'utf8') })))
      const ctx = await createAppContext(configFrom(opts), createLogger({ level: 'warn' }))
      try {
        const r = await timestampCheckpoint({ store: ctx.store, signer: await ctx.logKey.signer() }, authorities)
        for (const f of r.failures) process.stderr.write(`louder: timestamp: ${f}\n`)
        process.stdout.write(`checkpoint of ${r.checkpoint.size} entries: ${r.replies} of ${authorities.length} timestamps kept\n`)
        if (r.replies === 0) process.exitCode = 1
      } finally {
        await ctx.close()
      }
    })
}
