/**
 * PDQ's downsample to 64×64: a tent filter made of box filters (Wojciech Jarosz, "Fast Image Convolutions",
 * SIGGRAPH 2001: two X,Y passes of 1-D box filters approximate a 2-D tent), then sampling the blurred image at
 * the centres of a 64×64 grid. Window sizes and edge handling follow the reference (facebook/ThreatExchange
 * pdq/cpp/downscaling): each pass averages about half of one output cell, and near the edges the window is
 * cut short and the average taken over what remains.
 */

/** The reference's window per pass: ceil(old / (2 × new)), so two passes together span one output cell. */
export function jaroszWindowSize(oldDimension: number, newDimension: number): number {
  return Math.floor((oldDimension + 2 * newDimension - 1) / (2 * newDimension))
}

/**
 * One box pass over `length` values starting at `start`, `stride` apart. The window sits like the
 * reference's: for a window w, output k averages inputs k − (w − h) … k + h − 1 with h = ⌊(w + 2) / 2⌋
 * (7 → 3 left, 3 right; 8 → 3 left, 4 right), clipped to the vector.
 */
function box1d(input: Float32Array, output: Float32Array, start: number, length: number, stride: number, window: number): void {
  const half = Math.floor((window + 2) / 2)
  const left = window - half
  const right = half - 1
  let sum = 0
  let lo = 0 // first index inside the window
  let hi = -1 // last index inside the window
  for (let k = 0; k < length; k++) {
    const wantHi = Math.min(length - 1, k + right)
    while (hi < wantHi) sum += input[start + ++hi * stride]!
    const wantLo = Math.max(0, k - left)
    while (lo < wantLo) sum -= input[start + lo++ * stride]!
    output[start + k * stride] = sum / (hi - lo + 1)
  }
}

/** Blurs `a` (rows × cols, row-major) in place with the tent filter; `scratch` is a buffer of the same size. */
export function jaroszFilter(a: Float32Array, scratch: Float32Array, rows: number, cols: number, windowAlongRows: number, windowAlongCols: number, passes = 2): void {
  for (let p = 0; p < passes; p++) {
    for (let i = 0; i < rows; i++) box1d(a, scratch, i * cols, cols, 1, windowAlongRows)
    for (let j = 0; j < cols; j++) box1d(scratch, a, j, rows, cols, windowAlongCols)
  }
}

/** Samples `a` at the centres of an outRows × outCols grid (the reference's decimation: no interpolation). */
export function decimate(a: Float32Array, rows: number, cols: number, outRows: number, outCols: number): Float32Array {
  const out = new Float32Array(outRows * outCols)
  for (let i = 0; i < outRows; i++) {
    const si = Math.floor(((i + 0.5) * rows) / outRows)
    for (let j = 0; j < outCols; j++) {
      const sj = Math.floor(((j + 0.5) * cols) / outCols)
      out[i * outCols + j] = a[si * cols + sj]!
    }
  }
  return out
}
