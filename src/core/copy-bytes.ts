/**
 * Copies `bytes` into `target` at `at`, as a plain memcpy even where either side is shared memory (the sealing
 * threads' slots, src/protection/sealing-slots.ts). There `TypedArray#set`, and `Buffer#copy` where it uses it,
 * copy word by word with relaxed atomics (V8's `relaxed_memmove`, the largest cost after SHA-256 in a
 * sealing thread's profile). Node's `Buffer#fill` with bytes as the value is a native memcpy, and over a range
 * exactly their length, a copy. Much of a copy's cost between threads is the memory traffic either way.
 */
export function copyBytes(bytes: Uint8Array, target: Uint8Array, at = 0): number {
  if (at < 0 || at + bytes.byteLength > target.byteLength) throw new RangeError(`${bytes.byteLength} bytes do not fit at ${at} of ${target.byteLength}`)
  if (bytes.byteLength > 0) Buffer.from(target.buffer, target.byteOffset + at, bytes.byteLength).fill(bytes)
  return at + bytes.byteLength
}
