/**
 * A sealing thread (sealing-pool.ts starts them): runs `StreamSealing` for the streams the pool hands it, each
 * message naming its stream. Bytes do not travel in messages: each stream has memory shared with the pool
 * (sealing-slots.ts). A piece is sealed from the input slot a message names into the stream's output ring, and
 * every answer says how far the sealed stream has come (`produced`: bytes written to the ring since the stream
 * opened, its header included). The pool never lets the ring overrun what it has not handed on yet.
 */
import { parentPort } from 'node:worker_threads'
import { ring, RingWriter, type SharedSlots, slotInput } from './sealing-slots.ts'
import { StreamSealing } from './stream-seal.ts'

export type ToSealer =
  | { type: 'open'; id: number; key: Uint8Array; slots: SharedSlots }
  | { type: 'piece'; id: number; slot: number; length: number }
  | { type: 'end'; id: number }
  | { type: 'abort'; id: number }

export type FromSealer =
  | { type: 'opened'; id: number; produced: number }
  | { type: 'sealed'; id: number; slot: number; produced: number }
  | { type: 'finished'; id: number; produced: number; sha256: string }
  | { type: 'failed'; id: number; message: string }

const port = parentPort
if (!port) throw new Error('sealing-worker.ts runs as a worker thread (sealing-pool.ts)')

const streams = new Map<number, { sealing: StreamSealing; slots: SharedSlots; out: RingWriter }>()

port.on('message', (message: ToSealer) => {
  try {
    switch (message.type) {
      case 'open': {
        const sealing = new StreamSealing(Buffer.from(message.key), { hashPlaintext: true })
        const out = new RingWriter(ring(message.slots))
        out.put(sealing.header())
        streams.set(message.id, { sealing, slots: message.slots, out })
        port.postMessage({ type: 'opened', id: message.id, produced: out.position } satisfies FromSealer)
        return
      }
      case 'piece': {
        const stream = streams.get(message.id)
        if (!stream) return // aborted meanwhile
        stream.sealing.pushTo(slotInput(stream.slots, message.slot, message.length), stream.out)
        port.postMessage({ type: 'sealed', id: message.id, slot: message.slot, produced: stream.out.position } satisfies FromSealer)
        return
      }
      case 'end': {
        const stream = streams.get(message.id)
        if (!stream) return
        streams.delete(message.id)
        stream.sealing.finishTo(stream.out)
        port.postMessage({ type: 'finished', id: message.id, produced: stream.out.position, sha256: stream.sealing.sha256() } satisfies FromSealer)
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
