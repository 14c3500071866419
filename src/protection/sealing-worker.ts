/**
 * A sealing thread (sealing-pool.ts starts them): runs `StreamSealing` for the streams the pool hands it, each
 * message naming its stream. Bytes do not travel in messages: each stream has slots of memory shared with the
 * pool, and a message names the slot whose input to seal into the output of the same number.
 */
import { parentPort } from 'node:worker_threads'
import { type SharedSlots, slotInput, slotOutput } from './sealing-slots.ts'
import { StreamSealing } from './stream-seal.ts'

export type ToSealer =
  | { type: 'open'; id: number; key: Uint8Array; slots: SharedSlots }
  | { type: 'piece'; id: number; slot: number; length: number }
  | { type: 'end'; id: number; slot: number }
  | { type: 'abort'; id: number }

export type FromSealer =
  | { type: 'opened'; id: number; header: Uint8Array }
  | { type: 'sealed'; id: number; slot: number; length: number }
  | { type: 'finished'; id: number; slot: number; length: number; sha256: string }
  | { type: 'failed'; id: number; message: string }

const port = parentPort
if (!port) throw new Error('sealing-worker.ts runs as a worker thread (sealing-pool.ts)')

const streams = new Map<number, { sealing: StreamSealing; slots: SharedSlots }>()

port.on('message', (message: ToSealer) => {
  try {
    switch (message.type) {
      case 'open': {
        const sealing = new StreamSealing(Buffer.from(message.key), { hashPlaintext: true })
        streams.set(message.id, { sealing, slots: message.slots })
        // A copy of its own: the header is a slice of the thread's shared small-buffer pool, which holds other streams' keys.
        port.postMessage({ type: 'opened', id: message.id, header: new Uint8Array(sealing.header()) } satisfies FromSealer)
        return
      }
      case 'piece': {
        const stream = streams.get(message.id)
        if (!stream) return // aborted meanwhile
        const length = stream.sealing.pushInto(slotInput(stream.slots, message.slot, message.length), slotOutput(stream.slots, message.slot))
        port.postMessage({ type: 'sealed', id: message.id, slot: message.slot, length } satisfies FromSealer)
        return
      }
      case 'end': {
        const stream = streams.get(message.id)
        if (!stream) return
        streams.delete(message.id)
        const length = stream.sealing.finishInto(slotOutput(stream.slots, message.slot))
        port.postMessage({ type: 'finished', id: message.id, slot: message.slot, length, sha256: stream.sealing.sha256() } satisfies FromSealer)
        return
      }
      case 'abort':
        streams.delete(message.id)
        return
    }
  } catch (err) {
    streams.delete(message.id)
    port.postMessage({ type: 'failed', id: message.id, message: err instanceof Error ? err.message : String(err) } satisfies FromSealer)
  }
})
