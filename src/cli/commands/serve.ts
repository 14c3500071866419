import { type Command, Option } from 'commander'
import { configFrom, untilSignal, withServerOptions } from '../config-options.ts'

export function registerServe(program: Command): void {
  withServerOptions(program.command('serve').description('run the API server (with an embedded job worker)'))
    .option('--demo', 'load the clearly labelled fictional demo dataset on first start')
    .option('--no-worker', 'do not run jobs in this process (run `louder worker` separately)')
    .addOption(new Option('--log-level <level>', 'log level').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'))
    .action(async (opts) => {
      // Loaded when the command runs, so `louder --help` and other commands start fast.
      const { createAppContext, SERVER_SQLITE_READERS } = await import('../../app-context.ts')
      const { bootstrapFirstStart } = await import('../../bootstrap.ts')
      const { seedDemo } = await import('../../demo/seed-demo.ts')
      const { buildHttpApp } = await import('../../http/app.ts')
      const { Worker } = await import('../../jobs/worker.ts')
      const { createLogger } = await import('../../log.ts')
      const { IDEMPOTENCY_RETENTION_MS, jobHandlers, UPLOAD_EXPIRY_INTERVAL_MS } = await import('../../worker-handlers.ts')
      const config = configFrom(opts)
      const logger = createLogger({ level: opts.logLevel })
      const ctx = await createAppContext(config, logger, { sqliteReaders: SERVER_SQLITE_READERS, warmSealing: true })
      const admin = await bootstrapFirstStart(ctx)
      if (admin) {
        // Shown once, on the terminal only; the copy in the file is for whoever starts it as a service.
        process.stdout.write(
          `\nFirst start: initial administrator created.\n  email:    ${admin.email}\n  password: ${admin.password}\n` +
            `  (also in ${admin.file}, readable only by you; delete it after first sign-in)\n` +
            `  master key: ${config.masterKeyFile}. Losing it loses the evidence: escrow it now (see docs/backup.md).\n\n`,
        )
      }
      if (opts.demo && (await seedDemo(ctx))) process.stdout.write('Demo dataset loaded (fictional; every record is labelled [DEMO · fictional]).\n')

      const app = await buildHttpApp(ctx)
      const worker = opts.worker ? new Worker(ctx.jobs, jobHandlers(ctx), { logger: logger.child({ module: 'worker' }) }) : null
      await ctx.jobs.enqueue('platform.prune-idempotency', { olderThanMs: IDEMPOTENCY_RETENTION_MS })
      // Also seals uploads whose last byte arrived just before the server stopped (before their seal).
      await ctx.jobs.enqueue('sync.expire-uploads', {})
      const uploadExpiry = setInterval(() => {
        ctx.jobs.enqueue('sync.expire-uploads', {}).catch((err: unknown) => logger.error({ err: { message: (err as Error)?.message } }, 'could not queue upload expiry'))
      }, UPLOAD_EXPIRY_INTERVAL_MS)
      uploadExpiry.unref()
      worker?.start()
      const address = await app.listen({ port: config.port, host: config.host })
      const port = (app.server.address() as { port: number }).port
      process.stdout.write(`Louder ${ctx.version} listening on http://${config.host}:${port} (${ctx.db.describe()}); API at ${address}/api/v1, OpenAPI at /api/openapi.json\n`)
      // The matching index loads in the background (seconds per million hashes): the first match need not wait.
      ctx.matchIndex.current().catch((err: unknown) => logger.error({ err: { message: (err as Error)?.message } }, 'could not load the matching index'))

      const signal = await untilSignal()
      logger.info({ signal }, 'shutting down')
      clearInterval(uploadExpiry)
      // Drain: stop taking requests and jobs, let running ones finish, then close the database.
      await app.close()
      await worker?.stop()
      await ctx.close()
    })
}
