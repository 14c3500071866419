import { type FileHandle, open } from 'node:fs/promises'
import type { ByteSource } from '../core/ports/byte-source.ts'

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

/**
 * A file as a `ByteSource`: iterable like `readFilePieces`, or read straight into the consumer's memory with
 * `readInto` (ingest's sealing threads: the bytes land in the slot they are sealed from, with no copy on the
 * event loop). The file is opened at the first read, and closed at its end or by `close`.
 */
export function fileSource(path: string): ByteSource {
  let handle: Promise<FileHandle> | null = null
  let closed = false
  const close = async () => {
    if (closed) return
    closed = true
    if (handle) await (await handle.catch(() => null))?.close()
  }
  return {
    [Symbol.asyncIterator]: () => readFilePieces(path)[Symbol.asyncIterator](),
    async readInto(target) {
      if (closed) return 0
      handle ??= open(path, 'r')
      const { bytesRead } = await (await handle).read(target, 0, target.byteLength, null)
      if (bytesRead === 0) await close()
      return bytesRead
    },
    close,
  }
}
