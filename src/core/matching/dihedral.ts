/**
 * The eight rotations and flips of an image, applied to its 16×16 PDQ DCT instead of its pixels (as the
 * reference does): mirroring an image negates its odd-frequency DCT coefficients along that axis, and a
 * quarter turn transposes the matrix. The DCT rows/columns start at frequency 1 (the DC term is skipped), so
 * index i holds frequency i + 1: "odd frequency" is an even index.
 */
export const DIHEDRAL_TRANSFORMS = ['original', 'rotate90', 'rotate180', 'rotate270', 'flipX', 'flipY', 'flipPlus1', 'flipMinus1'] as const
export type DihedralTransform = (typeof DIHEDRAL_TRANSFORMS)[number]

const N = 16

/** For each transform: whether it transposes, and the sign of coefficient (i, j) of the source. */
const RULES: Record<DihedralTransform, { transpose: boolean; sign: (i: number, j: number) => 1 | -1 }> = {
  original: { transpose: false, sign: () => 1 },
  rotate90: { transpose: true, sign: (_i, j) => (j & 1 ? 1 : -1) },
  rotate180: { transpose: false, sign: (i, j) => ((i + j) & 1 ? -1 : 1) },
  rotate270: { transpose: true, sign: (i) => (i & 1 ? 1 : -1) },
  flipX: { transpose: false, sign: (i) => (i & 1 ? 1 : -1) },
  flipY: { transpose: false, sign: (_i, j) => (j & 1 ? 1 : -1) },
  flipPlus1: { transpose: true, sign: () => 1 },
  flipMinus1: { transpose: true, sign: (i, j) => ((i + j) & 1 ? -1 : 1) },
}

/** The 16×16 DCT of the transformed image, from the DCT of the original. */
export function transformDct(dct: Float32Array, transform: DihedralTransform): Float32Array {
  const { transpose, sign } = RULES[transform]
  const out = new Float32Array(N * N)
  for (let i = 0; i < N; i++)
    for (let j = 0; j < N; j++) {
      const v = sign(i, j) * dct[i * N + j]!
      if (transpose) out[j * N + i] = v
      else out[i * N + j] = v
    }
  return out
}
