/**
 * Threads that seal streams (hash the plaintext and encrypt it, sealing-worker.ts) so that sealing does not run
 * on the event loop and two items seal on two cores at once. Pieces reach the thread through memory it shares
 * with the event loop (sealing-slots.ts): a file is read straight into it, anything else is copied in once. The
 * thread seals into a shared output ring, and the sealed body yields that ring in whole aligned blocks, which
 * the blob store writes to disk where they lie: no byte of a file sealed from disk is copied by the event loop.
 * Each stream keeps a few pieces in flight, so the thread works while the loop reads the next piece and writes
 * the last block.
 *
 * Streams go to the thread with the fewest open streams. A thread that dies fails its open streams and is
 * replaced on next use. A thread holds the process open only while it has streams open, so an idle pool never
 * keeps a command from exiting, and a command awaiting its last sealed piece never exits before it.
 */
import { setFlagsFromString } from 'node:v8'
import { Worker } from 'node:worker_threads'
import { copyBytes } from '../core/copy-bytes.ts'
import type { ByteSource } from '../core/ports/byte-source.ts'
import { newSlots, RING_BLOCK_BYTES, ringView, sealedBound, type SharedSlots, slotInput } from './sealing-slots.ts'
import type { FromSealer, ToSealer } from './sealing-worker.ts'

/**
 * For a process whose work is sealing large files (`louder ingest`), called before its sealing threads start.
 * A thread allocates a fresh buffer for every 64 KiB chunk it encrypts (node:crypto cannot encrypt into memory
 * of ours), and by default V8 starts a full collection every 64 MB of such memory, whatever the heap's size:
 * sealing 2 GiB ran ~110 collections, their marking a tenth of the process's CPU. Counted within the heap's
 * overall limit instead, they run a quarter as often, and peak memory is ~20 % higher. The flag is the whole
 * process's (V8 has no per-isolate flags), so a server, which must keep its memory bounded on a small
 * machine, does not set it. A flag of the V8 that Node 24 ships; older ones print an error for it.
 */
export function tuneForBulkSealing(): void {
  if (Number(process.versions.node.split('.')[0]) >= 24) setFlagsFromString('--external-memory-accounted-in-global-limit')
}

/** Pieces of one stream in flight (its slots): enough to overlap, few enough to bound memory (~10 MiB a stream with its ring). */
const IN_FLIGHT = 4

interface Waiter {
  resolve(message: FromSealer): void
  reject(err: Error): void
}

class SealingThread {
  readonly worker: Worker
  readonly waiting = new Map<number, Waiter[]>()
  dead = false
  online = false

  constructor() {
    this.worker = new Worker(new URL('./sealing-worker.ts', import.meta.url))
    this.worker.unref()
    this.worker.once('online', () => (this.online = true))
    this.worker.on('message', (message: FromSealer) => {
      const queue = this.waiting.get(message.id)
      const waiter = queue?.shift()
      if (!waiter) return
      if (message.type === 'failed') {
        this.waiting.delete(message.id)
        waiter.reject(new Error(`sealing failed: ${message.message}`))
        for (const other of queue!) other.reject(new Error(`sealing failed: ${message.message}`))
      } else {
        if (message.type === 'finished') this.waiting.delete(message.id)
        waiter.resolve(message)
      }
      this.holdWhileBusy()
    })
    const fail = (err: Error) => {
      this.dead = true
      for (const queue of this.waiting.values()) for (const waiter of queue) waiter.reject(err)
      this.waiting.clear()
      this.holdWhileBusy()
    }
    this.worker.on('error', fail)
    this.worker.on('exit', (code) => fail(new Error(`sealing thread exited (code ${code})`)))
  }

  /** Sends a message whose answer the stream awaits (open, piece, end). */
  ask(message: ToSealer, transfer: ArrayBuffer[] = []): Promise<FromSealer> {
    if (this.dead) return Promise.reject(new Error('sealing thread is gone'))
    return new Promise((resolve, reject) => {
      const queue = this.waiting.get(message.id) ?? []
      queue.push({ resolve, reject })
      this.waiting.set(message.id, queue)
      this.holdWhileBusy()
      this.worker.postMessage(message, transfer)
    })
  }

  forget(id: number): void {
    this.waiting.delete(id)
    this.holdWhileBusy()
    if (!this.dead) this.worker.postMessage({ type: 'abort', id } satisfies ToSealer)
  }

  /**
   * A thread with streams open keeps the process alive, an idle one does not: a command awaiting its last
   * sealed piece, with no file read pending, would otherwise end mid-seal as if it had finished.
   */
  holdWhileBusy(): void {
    if (this.waiting.size > 0 && !this.dead) this.worker.ref()
    else this.worker.unref()
  }
}

/**
 * Slots of streams that finished, for the next streams: a stream that ends takes no memory with it. A stream
 * that stops early leaves its slots behind, since its thread may still be sealing into them.
 */
class SlotsKept {
  readonly #free: SharedSlots[] = []

  take(): SharedSlots {
    return this.#free.pop() ?? newSlots(IN_FLIGHT)
  }

  giveBack(slots: SharedSlots): void {
    if (this.#free.length < KEPT_SLOTS) this.#free.push(slots)
  }
}

/** Enough for every stream of a busy pool to start without allocating. */
const KEPT_SLOTS = 8

export class SealingPool {
  readonly #size: number
  #threads: SealingThread[] = []
  #nextId = 1
  readonly #slots = new SlotsKept()

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError('a sealing pool needs at least one thread')
    this.#size = size
  }

  #pick(): SealingThread {
    this.#threads = this.#threads.filter((t) => !t.dead)
    if (this.#threads.length < this.#size) {
      const thread = new SealingThread()
      this.#threads.push(thread)
      return thread
    }
    return this.#threads.reduce((a, b) => (b.waiting.size < a.waiting.size ? b : a))
  }

  /** Threads started and not dead. */
  get threadsRunning(): number {
    return this.#threads.filter((t) => !t.dead).length
  }

  /**
   * Starts every thread now and resolves once they run. A server calls it at start-up: a thread takes ~0.1 s to
   * boot, which the first uploads after a start would otherwise wait for (three thumbnails over a fast link took
   * twice as long as the next three).
   */
  async warm(): Promise<void> {
    this.#threads = this.#threads.filter((t) => !t.dead)
    while (this.#threads.length < this.#size) this.#threads.push(new SealingThread())
    await Promise.all(
      this.#threads.map(
        (t) =>
          new Promise<void>((resolve) => {
            if (t.online || t.dead) return resolve()
            // Held open while it boots (an idle thread does not hold the process), and given up on if it dies
            // first: the next stream replaces a dead thread, so start-up goes on either way.
            t.worker.ref()
            const done = () => {
              t.holdWhileBusy()
              resolve()
            }
            t.worker.once('online', done)
            t.worker.once('error', done)
            t.worker.once('exit', done)
          }),
      ),
    )
  }

  /**
   * Seals `source` with the data key `key()` gives: the sealed stream, and the plaintext's SHA-256 once it has been
   * read to the end. A source that can `readInto` (a file) is read straight into the shared slots. The body yields
   * views of the stream's output ring: whole blocks of RING_BLOCK_BYTES, aligned, then what is left at the end,
   * then an empty piece. Each stays valid until the piece after the next one is asked for: a consumer writes or
   * copies it by then (the blob store writes a block while the next one is sealed).
   */
  seal(key: () => Promise<Buffer>, source: ByteSource): { body: AsyncIterable<Uint8Array>; sha256(): string } {
    let digest: string | null = null
    const pick = () => this.#pick()
    const kept = this.#slots
    const id = this.#nextId++
    async function* body(): AsyncGenerator<Uint8Array> {
      const keyBytes = new Uint8Array(await key())
      const thread = pick()
      const slots = kept.take()
      const free = Array.from({ length: slots.count }, (_, n) => n)
      const asked: { answer: Promise<FromSealer>; bound: number }[] = []
      // The ring's accounts: bytes the thread has sealed into it, bytes handed on, and the most the pieces in flight
      // can still add. A block handed on may still be being written to disk until the consumer asks for the block
      // after it (durable-file-writer.ts writes one while the next is sealed), so the thread never writes into the
      // last block handed on, nor past it a whole ring ago.
      let produced = 0
      let handedOn = 0
      let inFlight = 0
      const ask = (message: ToSealer, bound: number) => {
        const answer = thread.ask(message)
        // A failure rejects every answer awaited; the first one awaited throws it, the rest must not go unhandled.
        answer.catch(() => {})
        asked.push({ answer, bound })
        inFlight += bound
      }
      let finished = false
      /** Waits for the oldest answer, frees its input slot, and hands on every whole block of the ring it completed. */
      async function* settleOldest(): AsyncGenerator<Uint8Array> {
        const oldest = asked.shift()
        if (!oldest) throw new Error('sealing ring accounts are wrong: no room and nothing in flight')
        const answer = await oldest.answer
        inFlight -= oldest.bound
        if (answer.type !== 'sealed' && answer.type !== 'finished') throw new Error(`sealing thread answered ${answer.type}`)
        produced = answer.produced
        if (answer.type === 'sealed') free.push(answer.slot)
        else digest = answer.sha256
        for (; produced - handedOn >= RING_BLOCK_BYTES; handedOn += RING_BLOCK_BYTES) yield ringView(slots, handedOn, RING_BLOCK_BYTES)
      }
      /** Settles answers until a slot is free and the ring has room for what `length` more bytes can seal into. */
      async function* roomFor(length: number): AsyncGenerator<Uint8Array> {
        while (free.length === 0 || produced + inFlight + sealedBound(length) - (handedOn - RING_BLOCK_BYTES) > slots.ringBytes) yield* settleOldest()
      }
      try {
        const opened = await thread.ask({ type: 'open', id, key: keyBytes, slots }, [keyBytes.buffer])
        if (opened.type !== 'opened') throw new Error(`sealing thread answered ${opened.type}`)
        produced = opened.produced
        if (source.readInto) {
          for (;;) {
            yield* roomFor(slots.inputBytes)
            const slot = free.shift()!
            const length = await source.readInto(slotInput(slots, slot))
            if (length === 0) {
              free.unshift(slot)
              break
            }
            ask({ type: 'piece', id, slot, length }, sealedBound(length))
          }
        } else {
          for await (const piece of source) {
            for (let at = 0; at < piece.byteLength; at += slots.inputBytes) {
              const length = Math.min(slots.inputBytes, piece.byteLength - at)
              yield* roomFor(length)
              const slot = free.shift()!
              copyBytes(piece.subarray(at, at + length), slotInput(slots, slot))
              ask({ type: 'piece', id, slot, length }, sealedBound(length))
            }
          }
        }
        while (asked.length > 0) yield* settleOldest()
        yield* roomFor(0)
        ask({ type: 'end', id }, sealedBound(0))
        yield* settleOldest()
        if (produced > handedOn) yield ringView(slots, handedOn, produced - handedOn)
        // An empty last piece: a consumer asks for the piece after it only once it is done with the one before,
        // so the ring's last block (on its way to disk, maybe) is free before the slots serve another stream.
        yield new Uint8Array(0)
        finished = true
      } finally {
        try {
          await source.close?.()
        } finally {
          // A source that failed (too large, a cut connection) or a consumer that stopped: drop the stream there,
          // and its slots with it (the thread may be sealing into them still).
          if (finished) kept.giveBack(slots)
          else thread.forget(id)
        }
      }
    }
    return {
      body: body(),
      sha256() {
        if (digest === null) throw new Error('the plaintext hash is known only once the sealed body has been read to its end')
        return digest
      },
    }
  }

  async close(): Promise<void> {
    const threads = this.#threads
    this.#threads = []
    await Promise.all(threads.map((t) => t.worker.terminate()))
  }
}
