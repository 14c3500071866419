/**
 * Bytes to be read once, front to back: what ingest seals. Any `AsyncIterable<Uint8Array>` is one; a piece it
 * yields may be reused once the next is asked for.
 *
 * A source that can read into memory its consumer provides (a file: `src/blobs/file-pieces.ts`) also offers
 * `readInto`, so the consumer reads straight into the memory it works in (a sealing thread's shared slot)
 * instead of copying each piece there. A consumer uses one way or the other, never both; one that uses
 * `readInto` calls `close` when it stops, at the end or before.
 */
export interface ByteSource extends AsyncIterable<Uint8Array> {
  /** Reads the next bytes into `target`, from its start: how many (0 at the end). */
  readInto?(target: Uint8Array): Promise<number>
  /** Releases what `readInto` holds open (a file handle); safe to call more than once. */
  close?(): Promise<void>
}
