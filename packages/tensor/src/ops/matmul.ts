import { customOp } from '../autograd';
import { allocate, promoteDTypes, shapeSize, type TypedArray } from '../dtype';
import { ShapeError, formatShape } from '../errors';
import { checkTensor, type Tensor } from '../tensor';
import { broadcastShapes } from './broadcast';

/**
 * C[m, n] += op(A)[m, k] @ op(B)[k, n], op = optional transpose; offsets select one matrix of a
 * batch. One 4x4 register-tiled micro-kernel serves all four
 * transpose cases through (row, column) strides; columns of B are tiled outermost so a
 * k-block x 4 panel of B stays in L1 while every row tile of A streams past it.
 */
export function gemm(
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

function batchOffsets(batchShape: readonly number[], inBatch: readonly number[], matrixSize: number): Int32Array {
  const count = shapeSize(batchShape);
  const offsets = new Int32Array(count);
  const rank = batchShape.length;
  const padded = [...new Array<number>(rank - inBatch.length).fill(1), ...inBatch];
  for (let flat = 0; flat < count; flat++) {
    let rest = flat;
    let offset = 0;
    let stride = matrixSize;
    for (let axis = rank - 1; axis >= 0; axis--) {
      const index = rest % batchShape[axis]!;
      rest = Math.floor(rest / batchShape[axis]!);
      if (padded[axis] !== 1) offset += index * stride;
      stride *= padded[axis]!;
    }
    offsets[flat] = offset;
  }
  return offsets;
}

/** Batched matrix product with broadcasting over leading dims: [..., m, k] @ [..., k, n]. */
export function matmul(a: Tensor, b: Tensor): Tensor {
  checkTensor('matmul', a, 'a');
  checkTensor('matmul', b, 'b');
  if (a.ndim < 2 || b.ndim < 2) {
    throw new ShapeError({ op: 'matmul', expected: 'operands of rank >= 2', given: `${formatShape(a.shape)} @ ${formatShape(b.shape)}` });
  }
  const m = a.shape[a.ndim - 2]!;
  const k = a.shape[a.ndim - 1]!;
  const k2 = b.shape[b.ndim - 2]!;
  const n = b.shape[b.ndim - 1]!;
  if (k !== k2) {
    throw new ShapeError({
      op: 'matmul',
      expected: `inner dimensions to match (a's last dim = b's second-to-last)`,
      given: `${formatShape(a.shape)} @ ${formatShape(b.shape)}`,
    });
  }
  const aBatch = a.shape.slice(0, -2);
  const bBatch = b.shape.slice(0, -2);
  const batchShape = broadcastShapes('matmul', aBatch, bBatch);
  const batch = shapeSize(batchShape);
  const aOffsets = batchOffsets(batchShape, aBatch, m * k);
  const bOffsets = batchOffsets(batchShape, bBatch, k * n);
  const dtype = promoteDTypes(a.dtype, b.dtype);
  const data = allocate(dtype, batch * m * n);
  for (let i = 0; i < batch; i++) gemm(a.data, aOffsets[i]!, false, b.data, bOffsets[i]!, false, data, i * m * n, m, k, n);
  return customOp({
    op: 'matmul',
    inputs: [a, b],
    data,
    shape: [...batchShape, m, n],
    backward: (g) => {
      let ga: TypedArray | null = null;
      let gb: TypedArray | null = null;
      if (a.requiresGrad) {
        // dA = dC @ B^T, summed over broadcast batch entries.
        ga = allocate(a.dtype, a.size);
        for (let i = 0; i < batch; i++) gemm(g, i * m * n, false, b.data, bOffsets[i]!, true, ga, aOffsets[i]!, m, n, k);
      }
      if (b.requiresGrad) {
        // dB = A^T @ dC.
        gb = allocate(b.dtype, b.size);
        for (let i = 0; i < batch; i++) gemm(a.data, aOffsets[i]!, true, g, i * m * n, false, gb, bOffsets[i]!, k, m, n);
      }
      return [ga, gb];
    },
  });
}
