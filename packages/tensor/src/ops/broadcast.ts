import { allocateForOverwrite, sameShape, shapeSize, stridesOf, type DType, type TypedArray } from '../dtype';
import { ShapeError, formatShape } from '../errors';
import { sumOver } from './reduce';

/** NumPy broadcasting of two shapes; throws a ShapeError naming the op when they do not broadcast. */
export function broadcastShapes(op: string, a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  const out = new Array<number>(rank);
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new ShapeError({
        op,
        expected: 'shapes that broadcast (each trailing dim equal or 1)',
        given: `${formatShape(a)} and ${formatShape(b)}`,
      });
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Strides of `inShape` read as `outShape` (0 on broadcast dims). */
export function broadcastStrides(inShape: readonly number[], outShape: readonly number[]): number[] {
  const inStrides = stridesOf(inShape);
  const offset = outShape.length - inShape.length;
  const strides = new Array<number>(outShape.length).fill(0);
  for (let i = 0; i < inShape.length; i++) strides[offset + i] = inShape[i] === 1 ? 0 : inStrides[i]!;
  return strides;
}

/** Flat input index for every output element under broadcasting. */
export function broadcastIndex(inShape: readonly number[], outShape: readonly number[]): Int32Array {
  const size = shapeSize(outShape);
  const index = new Int32Array(size);
  const strides = broadcastStrides(inShape, outShape);
  const rank = outShape.length;
  const counter = new Array<number>(rank).fill(0);
  let offset = 0;
  for (let i = 0; i < size; i++) {
    index[i] = offset;
    for (let axis = rank - 1; axis >= 0; axis--) {
      counter[axis]!++;
      offset += strides[axis]!;
      if (counter[axis]! < outShape[axis]!) break;
      offset -= strides[axis]! * outShape[axis]!;
      counter[axis] = 0;
    }
  }
  return index;
}

/** Which dims of `outShape` an operand shaped `inShape` is broadcast along: the leading dims it lacks and its 1s against larger sizes. */
export function broadcastDims(inShape: readonly number[], outShape: readonly number[]): boolean[] {
  const offset = outShape.length - inShape.length;
  return outShape.map((d, i) => i < offset || (inShape[i - offset] === 1 && d !== 1));
}

/**
 * Sums a gradient shaped `outShape` down to `inShape` (the adjoint of broadcasting: every bias and
 * broadcast operand's gradient), on the kernel table's `sum`: float64 accumulation, rounded once to
 * `dtype` (PyTorch accumulates these sums in float32 with cascade summation on CPU).
 */
export function reduceToShape(grad: TypedArray, outShape: readonly number[], inShape: readonly number[], dtype: DType): TypedArray {
  if (sameShape(outShape, inShape)) return grad;
  const sums = sumOver(grad, outShape, broadcastDims(inShape, outShape));
  if (dtype === 'float64') return sums;
  const out = allocateForOverwrite(dtype, shapeSize(inShape));
  out.set(sums);
  return out;
}
