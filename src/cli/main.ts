import { Command, CommanderError } from 'commander'
import { VERSION } from '../version.ts'
import { registerCommands } from './commands/index.ts'

/**
 * The `louder` command. Exit codes: 0 success, 1 errors (each on its own line), 2 bad usage.
 * Each command lives in src/cli/commands/<name>.ts and registers itself on the program.
 */
const program = new Command('louder')
  .description('Louder: field reports, sealed evidence, publishing and humanitarian outputs')
  .version(VERSION)
  .exitOverride()
  .configureOutput({ outputError: (text, write) => write(text) })

registerCommands(program)

try {
  await program.parseAsync(process.argv)
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode === 0 ? 0 : 2
  } else {
    for (const line of String(err instanceof Error ? err.message : err).split('\n')) console.error(`louder: ${line}`)
    process.exitCode = 1
  }
}
