import { customOp } from '../autograd';
import { allocate, allocateForOverwrite, shapeSize, stridesOf, type TypedArray } from '../dtype';
import { activeKernels } from '../kernels/backend';
import { forEachRunRow, keptSize } from '../kernels/js/reduce';
import type { SumRuns } from '../kernels/types';
import { ShapeError, ValueError, formatShape } from '../errors';
import { Tensor, checkTensor } from '../tensor';

export function normalizeAxis(op: string, axis: number, rank: number): number {
  const resolved = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(axis) || resolved < 0 || resolved >= rank) {
    throw new ShapeError({ op, expected: `an axis in [${-rank}, ${rank - 1}]`, given: `axis ${axis} for rank ${rank}` });
  }
  return resolved;
}

/** Sorted, de-duplicated, non-negative axes; all axes when `axes` is undefined. */
export function normalizeAxes(op: string, axes: number | readonly number[] | undefined, rank: number): number[] {
  if (axes === undefined) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof axes === 'number' ? [axes] : axes;
  const resolved = list.map((a) => normalizeAxis(op, a, rank));
  if (new Set(resolved).size !== resolved.length) {
    throw new ShapeError({ op, expected: 'distinct axes', given: `[${list.join(', ')}]` });
  }
  return resolved.sort((a, b) => a - b);
}

interface ReductionPlan {
  outShape: number[];
  keptShape: number[];
  /** Output flat index of each input element. */
  index: Int32Array;
  count: number;
}

function planReduction(op: string, shape: readonly number[], axesArg: number | readonly number[] | undefined, keepdim: boolean): ReductionPlan {
  const axes = normalizeAxes(op, axesArg, shape.length);
  const keptShape = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const outShape = keepdim ? keptShape : shape.filter((_, i) => !axes.includes(i));
  const keptStrides = stridesOf(keptShape);
  const size = shapeSize(shape);
  const index = new Int32Array(size);
  const rank = shape.length;
  const counter = new Array<number>(rank).fill(0);
  let offset = 0;
  for (let i = 0; i < size; i++) {
    index[i] = offset;
    for (let axis = rank - 1; axis >= 0; axis--) {
      counter[axis]!++;
      const stride = axes.includes(axis) ? 0 : keptStrides[axis]!;
      offset += stride;
      if (counter[axis]! < shape[axis]!) break;
      offset -= stride * shape[axis]!;
      counter[axis] = 0;
    }
  }
  let count = 1;
  for (const a of axes) count *= shape[a]!;
  return { outShape, keptShape, index, count };
}

/**
 * `shape` merged into the runs of the kernel table's `sum`: dims of size 1 dropped, adjacent dims
 * of the same kind (summed over or kept) multiplied into one run.
 */
export function sumRuns(shape: readonly number[], summed: readonly boolean[]): SumRuns {
  const sizes: number[] = [];
  const reduced: boolean[] = [];
  shape.forEach((size, i) => {
    if (size === 1) return;
    const last = sizes.length - 1;
    if (last >= 0 && reduced[last] === summed[i]) sizes[last]! *= size;
    else {
      sizes.push(size);
      reduced.push(summed[i]!);
    }
  });
  if (sizes.length === 0) return { sizes: [1], reduced: [false] };
  return { sizes, reduced };
}

/** Float64 sums of `x` (dense, shaped `shape`) over the dims marked in `summed`, one per kept element in order. */
export function sumOver(x: TypedArray, shape: readonly number[], summed: readonly boolean[]): Float64Array {
  const runs = sumRuns(shape, summed);
  const out = new Float64Array(keptSize(runs));
  activeKernels().sum({ x, out, ...runs });
  return out;
}

/** The adjoint of `sumOver`: every element of `gx` (shaped `shape`) gets its kept element of `g`, times `scale`. */
export function expandOver(g: TypedArray, shape: readonly number[], summed: readonly boolean[], gx: TypedArray, scale = 1): void {
  const runs = sumRuns(shape, summed);
  const inner = runs.sizes[runs.sizes.length - 1]!;
  if (runs.reduced[runs.sizes.length - 1]) {
    forEachRunRow(runs, (xBase, outBase) => gx.fill(g[outBase]! * scale, xBase, xBase + inner));
  } else {
    forEachRunRow(runs, (xBase, outBase) => {
      for (let i = 0; i < inner; i++) gx[xBase + i] = g[outBase + i]! * scale;
    });
  }
}

export interface ReduceOptions {
  keepdim?: boolean;
}

/** Sum over `axes` (all by default), accumulated in float64. */
export function sum(x: Tensor, axes?: number | readonly number[], options: ReduceOptions = {}): Tensor {
  checkTensor('sum', x, 'x');
  return sumOrMean('sum', x, axes, options);
}

export function mean(x: Tensor, axes?: number | readonly number[], options: ReduceOptions = {}): Tensor {
  checkTensor('mean', x, 'x');
  return sumOrMean('mean', x, axes, options);
}

/** sum and mean: the kernel table's float64 sum, one node whose backward spreads g (divided by the count for mean). */
function sumOrMean(op: 'sum' | 'mean', x: Tensor, axes: number | readonly number[] | undefined, options: ReduceOptions): Tensor {
  const { summed, outShape, count } = reductionShape(op, x.shape, axes, options.keepdim ?? false);
  if (op === 'mean' && count === 0) throw new ShapeError({ op, expected: 'a non-empty reduction', given: `shape ${formatShape(x.shape)}` });
  const scale = op === 'mean' ? 1 / count : 1;
  const totals = sumOver(x.data, x.shape, summed);
  const data = allocateForOverwrite(x.dtype, totals.length);
  if (op === 'mean') for (let i = 0; i < data.length; i++) data[i] = totals[i]! / count;
  else data.set(totals);
  return customOp({
    op,
    inputs: [x],
    data,
    shape: outShape,
    backward: (g) => {
      const gx = allocateForOverwrite(x.dtype, x.size);
      expandOver(g, x.shape, summed, gx, scale);
      return [gx];
    },
  });
}

/** Which dims `axes` sums over, the output shape and the number of values per output. */
function reductionShape(op: string, shape: readonly number[], axesArg: number | readonly number[] | undefined, keepdim: boolean) {
  const axes = normalizeAxes(op, axesArg, shape.length);
  const summed = shape.map((_, i) => axes.includes(i));
  const outShape = keepdim ? shape.map((d, i) => (summed[i] ? 1 : d)) : shape.filter((_, i) => !summed[i]);
  let count = 1;
  for (const a of axes) count *= shape[a]!;
  return { summed, outShape, count };
}

export interface VarOptions extends ReduceOptions {
  /** Divide by n - 1 (Bessel's correction) instead of n. Default true, like `torch.var`. */
  unbiased?: boolean;
}

/** Variance over `axes`, two-pass in float64. */
export function variance(x: Tensor, axes?: number | readonly number[], options: VarOptions = {}): Tensor {
  checkTensor('var', x, 'x');
  const plan = planReduction('var', x.shape, axes, options.keepdim ?? false);
  const unbiased = options.unbiased ?? true;
  const divisor = plan.count - (unbiased ? 1 : 0);
  if (divisor <= 0) {
    throw new ValueError({ op: 'var', expected: `more than ${unbiased ? 1 : 0} value(s) per reduction`, given: `${plan.count}` });
  }
  const outSize = shapeSize(plan.outShape);
  const means = new Float64Array(outSize);
  for (let i = 0; i < x.size; i++) means[plan.index[i]!]! += x.data[i]!;
  for (let i = 0; i < outSize; i++) means[i]! /= plan.count;
  const squares = new Float64Array(outSize);
  for (let i = 0; i < x.size; i++) {
    const d = x.data[i]! - means[plan.index[i]!]!;
    squares[plan.index[i]!]! += d * d;
  }
  const data = allocate(x.dtype, outSize);
  for (let i = 0; i < outSize; i++) data[i] = squares[i]! / divisor;
  return customOp({
    op: 'var',
    inputs: [x],
    data,
    shape: plan.outShape,
    backward: (g) => {
      const gx = allocate(x.dtype, x.size);
      for (let i = 0; i < gx.length; i++) {
        const o = plan.index[i]!;
        gx[i] = (g[o]! * 2 * (x.data[i]! - means[o]!)) / divisor;
      }
      return [gx];
    },
  });
}

function extremum(op: 'max' | 'min', x: Tensor, axes: number | readonly number[] | undefined, options: ReduceOptions): Tensor {
  const plan = planReduction(op, x.shape, axes, options.keepdim ?? false);
  if (plan.count === 0) throw new ShapeError({ op, expected: 'a non-empty reduction', given: `shape ${formatShape(x.shape)}` });
  const outSize = shapeSize(plan.outShape);
  const best = new Float64Array(outSize).fill(op === 'max' ? -Infinity : Infinity);
  const where = new Int32Array(outSize).fill(-1);
  for (let i = 0; i < x.size; i++) {
    const o = plan.index[i]!;
    const v = x.data[i]!;
    // NaN propagates and the first NaN keeps the gradient, like torch.max(dim).
    if (where[o] === -1 || (op === 'max' ? v > best[o]! : v < best[o]!) || (Number.isNaN(v) && !Number.isNaN(best[o]!))) {
      best[o] = v;
      where[o] = i;
    }
  }
  const data = allocate(x.dtype, outSize);
  data.set(best);
  return customOp({
    op,
    inputs: [x],
    data,
    shape: plan.outShape,
    backward: (g) => {
      // The gradient goes to the first extreme element, like torch.max(dim).
      const gx = allocate(x.dtype, x.size);
      for (let o = 0; o < outSize; o++) gx[where[o]!] = g[o]!;
      return [gx];
    },
  });
}

export function max(x: Tensor, axes?: number | readonly number[], options: ReduceOptions = {}): Tensor {
  checkTensor('max', x, 'x');
  return extremum('max', x, axes, options);
}

export function min(x: Tensor, axes?: number | readonly number[], options: ReduceOptions = {}): Tensor {
  checkTensor('min', x, 'x');
  return extremum('min', x, axes, options);
}

/**
 * Index of the largest value along `axis` (no gradient), as a float tensor of indices. NaN counts
 * as the largest value and the first one wins, like `torch.argmax` (and `max`'s gradient).
 */
export function argmax(x: Tensor, axis = -1): Tensor {
  checkTensor('argmax', x, 'x');
  const resolved = normalizeAxis('argmax', axis, x.ndim);
  const length = x.shape[resolved]!;
  if (length === 0) {
    throw new ShapeError({ op: 'argmax', expected: 'a non-empty axis', given: `axis ${axis} of shape ${formatShape(x.shape)}` });
  }
  let inner = 1;
  for (let i = resolved + 1; i < x.ndim; i++) inner *= x.shape[i]!;
  const outer = x.size / (length * inner);
  const out = new Float32Array(outer * inner);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      let bestIndex = 0;
      let best = -Infinity;
      for (let k = 0; k < length; k++) {
        const v = x.data[o * length * inner + k * inner + j]!;
        if (v > best || (Number.isNaN(v) && !Number.isNaN(best))) {
          best = v;
          bestIndex = k;
        }
      }
      out[o * inner + j] = bestIndex;
    }
  }
  return new Tensor(out, x.shape.filter((_, i) => i !== resolved));
}
