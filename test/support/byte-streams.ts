/** Yields `bytes` in pieces of the given sizes, cycling, as a file or a network stream would. */
export async function* pieces(bytes: Uint8Array, sizes: readonly number[] = [65_536]): AsyncGenerator<Uint8Array> {
  for (let i = 0, n = 0; i < bytes.length; n++) {
    const size = Math.max(1, sizes[n % sizes.length]!)
    yield bytes.subarray(i, i + size)
    i += size
  }
}

/** Reads a stream to its end into one Buffer. */
export async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const part of stream) parts.push(Buffer.from(part))
  return Buffer.concat(parts)
}
