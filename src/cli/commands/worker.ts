import { type Command, Option } from 'commander'
import { configFrom, untilSignal, withDataOptions } from '../config-options.ts'

export function registerWorker(program: Command): void {
  withDataOptions(program.command('worker').description('run background jobs in this process (several may run at once on PostgreSQL)'))
    .addOption(new Option('--concurrency <n>', 'jobs at once').default('2').argParser(positiveInt('--concurrency')))
    .addOption(new Option('--log-level <level>', 'log level').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'))
    .action(async (opts) => {
      // Loaded when the command runs, so `louder --help` and other commands start fast.
      const { createAppContext } = await import('../../app-context.ts')
      const { Worker } = await import('../../jobs/worker.ts')
      const { createLogger } = await import('../../log.ts')
      const { jobHandlers } = await import('../../worker-handlers.ts')
      const config = configFrom(opts)
      const logger = createLogger({ level: opts.logLevel })
      const ctx = await createAppContext(config, logger, { warmSealing: true })
      const worker = new Worker(ctx.jobs, jobHandlers(ctx), { concurrency: opts.concurrency, logger: logger.child({ module: 'worker' }) })
      worker.start()
      logger.info({ worker: worker.id, database: ctx.db.describe() }, 'worker started')
      await untilSignal()
      await worker.stop()
      await ctx.close()
    })
}

export function positiveInt(flag: string) {
  return (value: string) => {
    const n = Number(value)
    if (!/^\d+$/.test(value) || n < 1) throw new Error(`${flag}: expected a whole number ≥ 1, got '${value}'`)
    return n
  }
}
