/**
 * Page-aligned memory, for direct I/O (durable-file-writer.ts): the kernel reads an O_DIRECT write straight from
 * the caller's memory, which must start on a block boundary. An ordinary Buffer comes from malloc and is aligned
 * to 16 bytes only; V8 maps a WebAssembly memory's backing store from whole pages, so memory carved out of one
 * at multiples of a page is aligned. Such memory is never grown (growing detaches the old buffer under writes in
 * flight) and never freed by us: callers keep what they take.
 */

/** The alignment direct I/O needs: a page, which covers every logical block size Linux disks report. */
export const PAGE_BYTES = 4096

/**
 * The size of each write to a durable file. Memory handed to a writer in whole, page-aligned blocks of this
 * size is written from where it lies (the sealing threads' output: `src/protection/sealing-slots.ts`); anything
 * else is gathered into the writer's own aligned staging first.
 */
export const WRITE_BLOCK_BYTES = 1024 * 1024

const WASM_PAGE = 65536
const alignedBuffers = new WeakSet<ArrayBufferLike>()

// The one WebAssembly API used here; TypeScript declares it only with the DOM's types, which this project leaves out.
declare const WebAssembly: { Memory: new (descriptor: { initial: number; maximum: number; shared?: boolean }) => { readonly buffer: ArrayBuffer | SharedArrayBuffer } }

/**
 * `bytes` (rounded up to 64 KiB) of page-aligned memory, shared between threads if asked; null where the
 * process may not map a WebAssembly memory (a virtual-memory limit: each reserves guard regions).
 */
export function pageAlignedMemory(bytes: number, options: { shared: true }): SharedArrayBuffer | null
export function pageAlignedMemory(bytes: number, options?: { shared?: false }): ArrayBuffer | null
export function pageAlignedMemory(bytes: number, options: { shared?: boolean } = {}): ArrayBufferLike | null {
  const pages = Math.ceil(bytes / WASM_PAGE)
  let memory: ArrayBufferLike
  try {
    memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: options.shared ?? false }).buffer
  } catch {
    return null
  }
  alignedBuffers.add(memory)
  return memory
}

/** Whether `view` starts on a page in memory from `pageAlignedMemory` (this thread's handle on it). */
export function isPageAligned(view: Uint8Array): boolean {
  return view.byteOffset % PAGE_BYTES === 0 && alignedBuffers.has(view.buffer)
}
