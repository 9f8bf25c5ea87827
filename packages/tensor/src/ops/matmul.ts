import { customOp } from '../autograd';
import { allocate, promoteDTypes, shapeSize, type TypedArray } from '../dtype';
import { ShapeError, formatShape } from '../errors';
import { checkTensor, type Tensor } from '../tensor';
import { activeKernels } from '../kernels/backend';
import { broadcastShapes } from './broadcast';

/**
 * C[m, n] += op(A)[m, k] @ op(B)[k, n] with op = optional transpose; offsets select one matrix of a
 * batch; with `overwrite`, C = +0 + the product and C's old contents are never read (an output from
 * `allocateForOverwrite`); `bias` (n values) is then added to every row. The kernel table's `gemm`: float64 accumulation on `js`, a packed SIMD128
 * sgemm on `wasm` for float32 operands.
 */
export function gemm(
  a: TypedArray, aOffset: number, transA: boolean,
  b: TypedArray, bOffset: number, transB: boolean,
  c: TypedArray, cOffset: number,
  m: number, k: number, n: number,
  overwrite = false,
  bias: TypedArray | null = null,
): void {
  activeKernels().gemm({ a, aOffset, transA, b, bOffset, transB, c, cOffset, m, k, n, overwrite, bias });
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
  return batchedProduct('matmul', a, b, false);
}

/**
 * a @ b^T over the last two dims, [..., m, k] @ [..., n, k]^T -> [..., m, n], without materialising
 * the transpose (the GEMM reads b transposed): attention's q @ k^T. Same as
 * `matmul(a, transpose(b))`, one copy of b and its gradient's copy back fewer.
 */
export function matmulTransposed(a: Tensor, b: Tensor): Tensor {
  return batchedProduct('matmulTransposed', a, b, true);
}

/** [..., m, k] @ op(b) with op(b) = b ([..., k, n]) or b^T (b of shape [..., n, k]), broadcasting batch dims. */
function batchedProduct(op: string, a: Tensor, b: Tensor, transB: boolean): Tensor {
  checkTensor(op, a, 'a');
  checkTensor(op, b, 'b');
  if (a.ndim < 2 || b.ndim < 2) {
    throw new ShapeError({ op, expected: 'operands of rank >= 2', given: `${formatShape(a.shape)} @ ${formatShape(b.shape)}` });
  }
  const m = a.shape[a.ndim - 2]!;
  const k = a.shape[a.ndim - 1]!;
  const k2 = b.shape[b.ndim - (transB ? 1 : 2)]!;
  const n = b.shape[b.ndim - (transB ? 2 : 1)]!;
  if (k !== k2) {
    throw new ShapeError({
      op,
      expected: transB ? `a's last dim to match b's last dim (a @ b^T)` : `inner dimensions to match (a's last dim = b's second-to-last)`,
      given: `${formatShape(a.shape)} @ ${formatShape(b.shape)}`,
    });
  }
  const aBatch = a.shape.slice(0, -2);
  const bBatch = b.shape.slice(0, -2);
  const batchShape = broadcastShapes(op, aBatch, bBatch);
  const batch = shapeSize(batchShape);
  const aOffsets = batchOffsets(batchShape, aBatch, m * k);
  const bOffsets = batchOffsets(batchShape, bBatch, k * n);
  const dtype = promoteDTypes(a.dtype, b.dtype);
  const data = allocate(dtype, batch * m * n);
  const cOffsets = Int32Array.from({ length: batch }, (_, i) => i * m * n);
  activeKernels().gemmBatch({ a: a.data, transA: false, b: b.data, transB, c: data, m, k, n, aOffsets, bOffsets, cOffsets });
  return customOp({
    op,
    inputs: [a, b],
    data,
    shape: [...batchShape, m, n],
    backward: (g) => {
      let ga: TypedArray | null = null;
      let gb: TypedArray | null = null;
      if (a.requiresGrad) {
        // dA = dC @ op(B)^T, summed over broadcast batch entries.
        ga = allocate(a.dtype, a.size);
        activeKernels().gemmBatch({ a: g, transA: false, b: b.data, transB: !transB, c: ga, m, k: n, n: k, aOffsets: cOffsets, bOffsets, cOffsets: aOffsets });
      }
      if (b.requiresGrad) {
        gb = allocate(b.dtype, b.size);
        if (transB) {
          // dB = dC^T @ A ([n, m] @ [m, k]).
          activeKernels().gemmBatch({ a: g, transA: true, b: a.data, transB: false, c: gb, m: n, k: m, n: k, aOffsets: cOffsets, bOffsets: aOffsets, cOffsets: bOffsets });
        } else {
          // dB = A^T @ dC.
          activeKernels().gemmBatch({ a: a.data, transA: true, b: g, transB: false, c: gb, m: k, k: m, n, aOffsets, bOffsets: cOffsets, cOffsets: bOffsets });
        }
      }
      return [ga, gb];
    },
  });
}
