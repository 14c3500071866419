/**
 * Threads that seal streams (hash the plaintext and encrypt it, sealing-worker.ts) so that sealing does not run
 * on the event loop and two items seal on two cores at once. The event loop only copies each piece once into a
 * recycled buffer it hands over; sealed output comes back transferred. Each stream keeps a few pieces in flight, so the
 * thread works while the loop reads the next piece and writes the last output.
 *
 * Streams go to the thread with the fewest open streams. A thread that dies fails its open streams and is
 * replaced on next use. A thread holds the process open only while it has streams open, so an idle pool never
 * keeps a command from exiting, and a command awaiting its last sealed piece never exits before it.
 */
import { Worker } from 'node:worker_threads'
import type { FromSealer, ToSealer } from './sealing-worker.ts'

/** Pieces of one stream handed over and not yet answered: enough to overlap, few enough to bound memory (~4 MiB at 1 MiB pieces). */
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
 * Buffers that carried pieces to a thread and came back: a piece is copied into one of them rather than into
 * fresh memory, whose page faults cost more than the copy on the machines Louder targets. The caller's piece is
 * never handed over itself: it may be a view of a buffer the caller keeps using.
 */
class PieceBuffers {
  readonly #free: ArrayBuffer[] = []

  copyOf(piece: Uint8Array): Uint8Array {
    const at = this.#free.findIndex((b) => b.byteLength >= piece.byteLength && b.byteLength <= 2 * piece.byteLength)
    const buffer = at >= 0 ? this.#free.splice(at, 1)[0]! : new ArrayBuffer(piece.byteLength)
    const copy = new Uint8Array(buffer, 0, piece.byteLength)
    copy.set(piece)
    return copy
  }

  giveBack(spent: Uint8Array | undefined): void {
    if (spent && this.#free.length < FREE_BUFFERS) this.#free.push(spent.buffer as ArrayBuffer)
  }
}

/** Enough for every stream of a busy pool to have its pieces in flight without allocating. */
const FREE_BUFFERS = 16

export class SealingPool {
  readonly #size: number
  #threads: SealingThread[] = []
  #nextId = 1
  readonly #buffers = new PieceBuffers()

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

  /** Seals `source` with the data key `key()` gives: the sealed stream, and the plaintext's SHA-256 once it has been read to the end. */
  seal(key: () => Promise<Buffer>, source: AsyncIterable<Uint8Array>): { body: AsyncIterable<Uint8Array>; sha256(): string } {
    let digest: string | null = null
    const pick = () => this.#pick()
    const buffers = this.#buffers
    const id = this.#nextId++
    async function* body(): AsyncGenerator<Uint8Array> {
      const keyBytes = new Uint8Array(await key())
      const thread = pick()
      let finished = false
      try {
        const asked: Promise<FromSealer>[] = [thread.ask({ type: 'open', id, key: keyBytes }, [keyBytes.buffer])]
        for await (const piece of source) {
          const handed = buffers.copyOf(piece)
          asked.push(thread.ask({ type: 'piece', id, piece: handed }, [handed.buffer as ArrayBuffer]))
          while (asked.length >= IN_FLIGHT) {
            const answer = await asked.shift()!
            if (answer.type !== 'sealed') continue
            buffers.giveBack(answer.spent)
            if (answer.out.byteLength > 0) yield answer.out
          }
        }
        asked.push(thread.ask({ type: 'end', id }))
        for (const next of asked) {
          const answer = await next
          if (answer.type === 'failed') continue // rejected instead: never resolved
          if (answer.type === 'sealed') buffers.giveBack(answer.spent)
          if (answer.out.byteLength > 0) yield answer.out
          if (answer.type === 'finished') digest = answer.sha256
        }
        finished = true
      } finally {
        // A source that failed (too large, a cut connection) or a consumer that stopped: drop the stream there.
        if (!finished) thread.forget(id)
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
