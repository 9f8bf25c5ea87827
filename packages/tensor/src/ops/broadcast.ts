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

/**
 * Flat input index for every output element under broadcasting. Output dims that read the input
 * contiguously (or all broadcast) merge into one run, so the index is written a run at a time: a fill
 * where the run is broadcast, a count where it is contiguous. Ops on the same shapes every step
 * (a per-row scale, an attention mask) built it with one odometer step per element before.
 */
export function broadcastIndex(inShape: readonly number[], outShape: readonly number[]): Int32Array {
  const index = new Int32Array(shapeSize(outShape));
  if (index.length === 0) return index;
  const runs = mergeRuns(outShape, broadcastStrides(inShape, outShape));
  // Every dim of size 1: one element, read at 0.
  const { sizes, strides } = runs.sizes.length > 0 ? runs : { sizes: [1], strides: [0] };
  const last = sizes.length - 1;
  const runLength = sizes[last]!;
  const runStride = strides[last]!;
  const counter = new Array<number>(last).fill(0);
  let offset = 0;
  for (let start = 0; start < index.length; start += runLength) {
    if (runStride === 0) index.fill(offset, start, start + runLength);
    else for (let j = 0; j < runLength; j++) index[start + j] = offset + j * runStride;
    for (let axis = last - 1; axis >= 0; axis--) {
      counter[axis]!++;
      offset += strides[axis]!;
      if (counter[axis]! < sizes[axis]!) break;
      offset -= strides[axis]! * sizes[axis]!;
      counter[axis] = 0;
    }
  }
  return index;
}

/**
 * The dims of a strided read (`sizes[i]` steps of `strides[i]` elements, outermost first) with
 * size-1 dims dropped and neighbours that step as one merged: a dim whose stride is its inner
 * neighbour's stride times that neighbour's size joins it (all-broadcast neighbours, stride 0, too).
 * Empty when every dim has size 1.
 */
export function mergeRuns(sizes: readonly number[], strides: readonly number[]): { sizes: number[]; strides: number[] } {
  const merged = { sizes: [] as number[], strides: [] as number[] };
  for (let axis = 0; axis < sizes.length; axis++) {
    const size = sizes[axis]!;
    if (size === 1) continue;
    const stride = strides[axis]!;
    const last = merged.sizes.length - 1;
    if (last >= 0 && merged.strides[last] === stride * size) {
      merged.sizes[last]! *= size;
      merged.strides[last] = stride;
    } else {
      merged.sizes.push(size);
      merged.strides.push(stride);
    }
  }
  return merged;
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
