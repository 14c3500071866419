/**
 * A sealing thread (sealing-pool.ts starts them): runs `StreamSealing` for the streams the pool hands it, each
 * message naming its stream. Pieces arrive and sealed output leaves as transferred buffers, so nothing is
 * copied between threads beyond the one copy the pool makes of each piece.
 */
import { parentPort } from 'node:worker_threads'
import { StreamSealing } from './stream-seal.ts'

export type ToSealer =
  | { type: 'open'; id: number; key: Uint8Array }
  | { type: 'piece'; id: number; piece: Uint8Array }
  | { type: 'end'; id: number }
  | { type: 'abort'; id: number }

export type FromSealer =
  | { type: 'sealed'; id: number; out: Uint8Array; spent?: Uint8Array }
  | { type: 'finished'; id: number; out: Uint8Array; sha256: string }
  | { type: 'failed'; id: number; message: string }

const port = parentPort
if (!port) throw new Error('sealing-worker.ts runs as a worker thread (sealing-pool.ts)')

const streams = new Map<number, StreamSealing>()

/** Output is transferred, so it must own its whole ArrayBuffer (a pooled small Buffer shares one). */
function owned(bytes: Uint8Array): Uint8Array {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength) return bytes
  const copy = new Uint8Array(bytes.byteLength)
  copy.set(bytes)
  return copy
}

function reply(message: FromSealer): void {
  if (message.type === 'failed') return port!.postMessage(message)
  const out = owned(message.out)
  const transfer = [out.buffer as ArrayBuffer]
  // The piece's buffer goes back too, for the pool to fill with a later piece (fresh memory costs page faults).
  if (message.type === 'sealed' && message.spent) transfer.push(message.spent.buffer as ArrayBuffer)
  port!.postMessage({ ...message, out }, transfer)
}

port.on('message', (message: ToSealer) => {
  try {
    switch (message.type) {
      case 'open': {
        const sealing = new StreamSealing(Buffer.from(message.key), { hashPlaintext: true })
        streams.set(message.id, sealing)
        reply({ type: 'sealed', id: message.id, out: sealing.header() })
        return
      }
      case 'piece': {
        const sealing = streams.get(message.id)
        if (!sealing) return // aborted meanwhile
        reply({ type: 'sealed', id: message.id, out: sealing.push(message.piece), spent: message.piece })
        return
      }
      case 'end': {
        const sealing = streams.get(message.id)
        if (!sealing) return
        streams.delete(message.id)
        const out = sealing.finish()
        reply({ type: 'finished', id: message.id, out, sha256: sealing.sha256() })
        return
      }
      case 'abort':
        streams.delete(message.id)
        return
    }
  } catch (err) {
    streams.delete(message.id)
    reply({ type: 'failed', id: message.id, message: err instanceof Error ? err.message : String(err) })
  }
})
