import { open } from 'node:fs/promises'

/**
 * A file's bytes front to back, in pieces of one buffer that is reused: each piece is valid only until the next
 * is asked for. For consumers that take each piece at once (hash it, copy it): fresh memory for every read
 * costs more than the read itself on the machines Louder targets (page faults, then garbage collection; sealing
 * a 256 MiB original spent half a core on it), and `createReadStream` allocates a buffer per read.
 */
export async function* readFilePieces(path: string, pieceBytes = 1024 * 1024): AsyncGenerator<Uint8Array> {
  const handle = await open(path, 'r')
  try {
    const buffer = Buffer.allocUnsafeSlow(pieceBytes)
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, pieceBytes, null)
      if (bytesRead === 0) return
      yield buffer.subarray(0, bytesRead)
    }
  } finally {
    await handle.close()
  }
}
