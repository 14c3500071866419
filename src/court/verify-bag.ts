import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { BagProblem } from '../core/court/bagit-format.ts'
import { unsafePathReason } from '../core/court/bagit-format.ts'
import { verifyLouderProofs } from '../core/court/louder-proofs.ts'
import { unpackBagTar } from '../ops/bag-unpack.ts'
import { validateBag } from './bagit-validate.ts'
import { opensslTimestampChecker } from './timestamp-verify.ts'

/** Small payload files (events, proofs, records) are read whole; past this a bag is hostile or not Louder's. */
const MAX_PROOF_FILE_BYTES = 256 << 20

export interface BagVerification {
  ok: boolean
  problems: BagProblem[]
  notes: string[]
}

/** `louder verify`'s core: BagIt first, then Louder's proofs (when the bag has them), everything reported. */
export async function verifyBag(path: string, options: { timestamps?: boolean } = {}): Promise<BagVerification> {
  const info = await stat(path)
  if (info.isDirectory()) return verifyBagDirectory(path, options)
  const scratch = await mkdtemp(join(tmpdir(), 'louder-verify-'))
  try {
    const root = await extractBagTar(path, scratch)
    if (typeof root !== 'string') return { ok: false, problems: [root], notes: [] }
    return await verifyBagDirectory(root, options)
  } finally {
    await rm(scratch, { recursive: true, force: true })
  }
}

export async function verifyBagDirectory(root: string, options: { timestamps?: boolean } = {}): Promise<BagVerification> {
  const bagit = await validateBag(root)
  const checker = options.timestamps === false ? null : await opensslTimestampChecker(root)
  const proofs = await verifyLouderProofs(
    {
      payload: bagit.payload,
      async read(path) {
        const size = bagit.payload.get(path)?.bytes ?? 0
        if (size > MAX_PROOF_FILE_BYTES) throw new RangeError(`${path} is ${size} bytes, too large to be a proof file`)
        return readFile(join(root, path))
      },
    },
    checker,
  )
  const problems = [...bagit.problems, ...proofs.problems]
  return { ok: problems.length === 0, problems, notes: proofs.notes }
}

/**
 * Unpacks a serialised bag (RFC 8493 §4.2: one top-level directory) into `into` (src/ops/bag-unpack.ts: only
 * files and directories, each path checked before anything is written).
 */
async function extractBagTar(tarPath: string, into: string): Promise<string | BagProblem> {
  try {
    const refused = await unpackBagTar(tarPath, into, unsafePathReason)
    if (refused) return { file: refused.path, step: 'tar', message: refused.problem }
  } catch (err) {
    return { file: tarPath, step: 'tar', message: `is not a readable tar (${(err as Error).message})` }
  }
  const entries = await readdir(into)
  if (entries.length !== 1) return { file: tarPath, step: 'tar', message: 'a serialised bag unpacks into exactly one top-level directory' }
  return join(into, entries[0]!)
}

/** The report as `louder verify` prints it: one `FILE: STEP: what is wrong` line per problem. */
export function formatProblems(problems: readonly BagProblem[]): string[] {
  return problems.map((p) => `${p.file}: ${p.step}: ${p.message}`)
}
