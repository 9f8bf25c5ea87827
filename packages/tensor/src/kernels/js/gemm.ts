import type { TypedArray } from '../../dtype';
import type { GemmArgs, GemmBatchArgs } from '../types';

/** The kernel table's `gemm` on the `js` backend: `gemmLoops` on the arguments. */
export function gemm(args: GemmArgs): void {
  const { a, aOffset, transA, b, bOffset, transB, c, cOffset, m, k, n } = args;
  if (args.overwrite) c.fill(0, cOffset, cOffset + m * n);
  gemmLoops(a, aOffset, transA, b, bOffset, transB, c, cOffset, m, k, n);
  if (args.bias) addRowBias(c, cOffset, args.bias, m, n);
}

/** c[r, j] += bias[j] over the m x n block at cOffset. */
function addRowBias(c: TypedArray, cOffset: number, bias: TypedArray, m: number, n: number): void {
  for (let r = 0; r < m; r++) {
    const base = cOffset + r * n;
    for (let j = 0; j < n; j++) c[base + j] = c[base + j]! + bias[j]!;
  }
}

/** The kernel table's `gemmBatch` on the `js` backend: `gemmLoops` per entry, in entry order. */
export function gemmBatch(args: GemmBatchArgs): void {
  const { a, transA, b, transB, c, m, k, n, aOffsets, bOffsets, cOffsets } = args;
  for (let i = 0; i < cOffsets.length; i++) gemmLoops(a, aOffsets[i]!, transA, b, bOffsets[i]!, transB, c, cOffsets[i]!, m, k, n);
}

/**
 * C[m, n] += op(A)[m, k] @ op(B)[k, n], op = optional transpose; offsets select one matrix of a
 * batch. One 4x4 register-tiled micro-kernel serves all four
 * transpose cases through (row, column) strides; columns of B are tiled outermost so a
 * k-block x 4 panel of B stays in L1 while every row tile of A streams past it.
 */
export function gemmLoops(
  a: TypedArray, aOffset: number, transA: boolean,
  b: TypedArray, bOffset: number, transB: boolean,
  c: TypedArray, cOffset: number,
  m: number, k: number, n: number,
): void {
  const aRow = transA ? 1 : k; // stride between rows i of op(A)
  const aCol = transA ? m : 1; // stride along p
  const bRow = transB ? 1 : n; // stride along p
  const bCol = transB ? k : 1; // stride between columns j of op(B)
  const KC = 256; // k-block: a KC x 4 panel of B stays in L1
  for (let p0 = 0; p0 < k; p0 += KC) {
    const p1 = Math.min(k, p0 + KC);
    let j = 0;
    for (; j + 4 <= n; j += 4) {
      const bBase = bOffset + p0 * bRow + j * bCol;
      let i = 0;
      for (; i + 4 <= m; i += 4) {
        let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
        let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
        let ai = aOffset + i * aRow + p0 * aCol;
        let bi = bBase;
        for (let p = p0; p < p1; p++) {
          const a0 = a[ai]!, a1 = a[ai + aRow]!, a2 = a[ai + 2 * aRow]!, a3 = a[ai + 3 * aRow]!;
          const b0 = b[bi]!, b1 = b[bi + bCol]!, b2 = b[bi + 2 * bCol]!, b3 = b[bi + 3 * bCol]!;
          c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
          c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
          c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
          c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
          ai += aCol;
          bi += bRow;
        }
        let r = cOffset + i * n + j;
        c[r]! += c00; c[r + 1]! += c01; c[r + 2]! += c02; c[r + 3]! += c03; r += n;
        c[r]! += c10; c[r + 1]! += c11; c[r + 2]! += c12; c[r + 3]! += c13; r += n;
        c[r]! += c20; c[r + 1]! += c21; c[r + 2]! += c22; c[r + 3]! += c23; r += n;
        c[r]! += c30; c[r + 1]! += c31; c[r + 2]! += c32; c[r + 3]! += c33;
      }
      for (; i < m; i++) edge(a, aOffset, aRow, aCol, b, bOffset, bRow, bCol, c, cOffset, n, i, j, j + 4, p0, p1);
    }
    if (j < n) for (let i = 0; i < m; i++) edge(a, aOffset, aRow, aCol, b, bOffset, bRow, bCol, c, cOffset, n, i, j, n, p0, p1);
  }
}

function edge(
  a: TypedArray, aOffset: number, aRow: number, aCol: number,
  b: TypedArray, bOffset: number, bRow: number, bCol: number,
  c: TypedArray, cOffset: number, n: number, i: number, j0: number, j1: number, p0: number, p1: number,
): void {
  for (let j = j0; j < j1; j++) {
    let total = 0;
    let ai = aOffset + i * aRow + p0 * aCol;
    let bi = bOffset + p0 * bRow + j * bCol;
    for (let p = p0; p < p1; p++) {
      total += a[ai]! * b[bi]!;
      ai += aCol;
      bi += bRow;
    }
    c[cOffset + i * n + j]! += total;
  }
}

