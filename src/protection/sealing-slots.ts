/**
 * Memory a sealing stream shares with its thread (sealing-pool.ts, sealing-worker.ts): `count` slots, each an
 * input the event loop copies a piece into and an output the thread seals it into. Nothing is allocated per
 * piece on either side. Fresh buffers for every piece, transferred between threads, were counted by V8 as new
 * external memory each time and set off a full garbage collection every ~40 MB sealed: on a 2-core machine those
 * collections took as much CPU as the encryption.
 */
import { STREAM_CHUNK, STREAM_TAG } from './stream-seal.ts'

export interface SharedSlots {
  memory: SharedArrayBuffer
  count: number
  inputBytes: number
  outputBytes: number
}

/** Input bytes per slot: pieces longer than this are handed over in parts. */
export const SLOT_INPUT_BYTES = 1024 * 1024

export function newSlots(count: number, inputBytes = SLOT_INPUT_BYTES): SharedSlots {
  // The most one piece seals into: its own chunks, one more completed by bytes held back, and their tags.
  const outputBytes = (Math.ceil(inputBytes / STREAM_CHUNK) + 1) * (STREAM_CHUNK + STREAM_TAG)
  return { memory: new SharedArrayBuffer(count * (inputBytes + outputBytes)), count, inputBytes, outputBytes }
}

export function slotInput(slots: SharedSlots, slot: number, length = slots.inputBytes): Uint8Array {
  return new Uint8Array(slots.memory, slot * (slots.inputBytes + slots.outputBytes), length)
}

export function slotOutput(slots: SharedSlots, slot: number, length = slots.outputBytes): Uint8Array {
  return new Uint8Array(slots.memory, slot * (slots.inputBytes + slots.outputBytes) + slots.inputBytes, length)
}
