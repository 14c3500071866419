import { createHash, type Hash } from 'node:crypto'
import { readFilePieces } from '../blobs/file-pieces.ts'

/**
 * Every digest a file needs, from one streaming read: a bag's payload is listed in several manifests
 * (sha256 and sha512 at least), and reading a gigabyte once instead of twice is most of a verification's cost.
 * Memory stays at one read buffer whatever the file's size.
 */
export async function fileDigests(path: string, algorithms: readonly string[]): Promise<{ digests: Map<string, string>; bytes: number }> {
  const hashes: [string, Hash][] = algorithms.map((alg) => [alg, createHash(alg)])
  let bytes = 0
  for await (const chunk of readFilePieces(path)) {
    bytes += chunk.byteLength
    for (const [, h] of hashes) h.update(chunk)
  }
  return { digests: new Map(hashes.map(([alg, h]) => [alg, h.digest('hex')])), bytes }
}
