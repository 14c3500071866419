/**
 * Memory a sealing stream shares with its thread (sealing-pool.ts, sealing-worker.ts), allocated once and reused
 * by stream after stream, so nothing is allocated per piece on either side. Fresh buffers for every piece,
 * transferred between threads, were counted by V8 as new external memory each time and set off a full garbage
 * collection every ~40 MB sealed: on a 2-core machine those collections took as much CPU as the encryption.
 *
 * - `count` input slots: the event loop reads or copies a piece into one, and the thread seals it from there.
 * - One output ring: the thread writes the sealed stream (header, then chunks) into it, wrapping at its end, and
 *   the pool hands it on in whole blocks of `WRITE_BLOCK_BYTES`. The ring is page-aligned memory and a whole
 *   number of blocks, so each block is one aligned span that the blob store writes to disk where it lies (direct
 *   I/O, `src/blobs/durable-file-writer.ts`) instead of the event loop copying every byte into its staging.
 *   Where aligned memory cannot be mapped, plain shared memory does, and the writer copies as before.
 */
import { pageAlignedMemory, WRITE_BLOCK_BYTES } from '../blobs/aligned-memory.ts'
import { copyBytes } from '../core/copy-bytes.ts'
import { STREAM_CHUNK, STREAM_TAG } from './stream-seal.ts'

export interface SharedSlots {
  memory: SharedArrayBuffer
  count: number
  inputBytes: number
  /** The output ring's length: whole blocks, at the start of `memory`. */
  ringBytes: number
}

/** Input bytes per slot: pieces longer than this are handed over in parts. */
export const SLOT_INPUT_BYTES = 1024 * 1024

/** The ring is handed on in blocks of this size (the blob writer's). */
export const RING_BLOCK_BYTES = WRITE_BLOCK_BYTES

/**
 * The most that sealing `length` more bytes can add to the output: a chunk held back from before, the piece's own
 * bytes, and a tag for every chunk they complete. `sealedBound(0)` covers the end (the last chunk and its tag).
 */
export function sealedBound(length: number): number {
  return length + STREAM_CHUNK + (Math.ceil(length / STREAM_CHUNK) + 2) * STREAM_TAG
}

export function newSlots(count: number, inputBytes = SLOT_INPUT_BYTES): SharedSlots {
  // Room for every slot's piece in flight beside the block the pool is still filling and the one last handed on,
  // which may still be being written (sealing-pool.ts).
  const ringBytes = Math.ceil((2 * RING_BLOCK_BYTES + count * sealedBound(inputBytes)) / RING_BLOCK_BYTES) * RING_BLOCK_BYTES
  const bytes = ringBytes + count * inputBytes
  const memory = pageAlignedMemory(bytes, { shared: true }) ?? new SharedArrayBuffer(bytes)
  return { memory, count, inputBytes, ringBytes }
}

export function slotInput(slots: SharedSlots, slot: number, length = slots.inputBytes): Uint8Array {
  return new Uint8Array(slots.memory, slots.ringBytes + slot * slots.inputBytes, length)
}

/** The whole ring, for the thread writing into it. */
export function ring(slots: SharedSlots): Uint8Array {
  return new Uint8Array(slots.memory, 0, slots.ringBytes)
}

/** `length` bytes of the stream from `position`, which must not cross the ring's end (a block never does). */
export function ringView(slots: SharedSlots, position: number, length: number): Uint8Array {
  const at = position % slots.ringBytes
  if (at + length > slots.ringBytes) throw new RangeError(`${length} bytes at ${at} cross the end of a ${slots.ringBytes}-byte ring`)
  return new Uint8Array(slots.memory, at, length)
}

/** Writes the sealed stream into the ring from `position` on, wrapping at its end. */
export class RingWriter {
  readonly #ring: Uint8Array
  position = 0

  constructor(ring: Uint8Array) {
    this.#ring = ring
  }

  put(bytes: Uint8Array): void {
    const at = this.position % this.#ring.byteLength
    const first = Math.min(bytes.byteLength, this.#ring.byteLength - at)
    copyBytes(bytes.subarray(0, first), this.#ring, at)
    if (first < bytes.byteLength) copyBytes(bytes.subarray(first), this.#ring, 0)
    this.position += bytes.byteLength
  }
}
