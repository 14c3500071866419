import type { Command } from 'commander'

/**
 * `louder verify PATH`: checks a court bag (a directory or a .tar), offline, with no data directory: BagIt
 * first, then Louder's proofs when the bag has them. Prints notes, then one `FILE: STEP: what is wrong` line
 * per failure; exit 0 when everything holds, 1 otherwise.
 */
export function registerVerify(program: Command): void {
  program
    .command('verify')
    .description("check a court bag (directory or .tar): BagIt digests, then Louder's proofs, signatures, log proofs and timestamps")
    .argument('<path>', 'a bag directory or a tar of one')
    .action(async (path: string) => {
      const { formatProblems, verifyBag } = await import('../../court/verify-bag.ts')
      const result = await verifyBag(path)
      for (const note of result.notes) process.stdout.write(`${note}\n`)
      for (const line of formatProblems(result.problems)) process.stdout.write(`${line}\n`)
      process.stdout.write(result.ok ? 'OK: the bag verifies.\n' : `FAILED: ${result.problems.length} problem(s).\n`)
      process.exitCode = result.ok ? 0 : 1
    })
}
