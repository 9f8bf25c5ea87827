import { customOp } from '../autograd';
import { allocate, type TypedArray } from '../dtype';
import type { Tensor } from '../tensor';
import type { NormalizeResult } from './normalize';
import { rowSquaredDeviations, rowSum } from './rowwise';
import { affineBlock, blockSums, gradXBlock } from './slotwise';
import type { NormStatistics } from './statistics';

/**
 * The batch case of `normalize` (BatchNorm, GhostBatchNorm, SyncBatchNorm): statistics per
 * (chunk of outer, group) slot across the outer entries of the chunk, one affine parameter per
 * group (affineBlock = inner), no mask, a plain eps, optionally fixed statistics (eval with running
 * averages) and a cross-replica `allReduce` called exactly as the general loops call it:
 * [counts..., sums...], then squared deviations (centred only), then in backward
 * [sum(dxhat)..., sum(dxhat * xhat)...] (not with fixed statistics).
 *
 * Same maths and semantics as the general loops (batchwise.test.ts compares them), written as
 * flat loops in top-level functions taking arrays as arguments, with four-way unrolled
 * reductions: a single accumulator is bound by the latency of float adds, several are not.
 */
export interface BatchwiseOptions {
  op: string;
  outer: number;
  groups: number;
  inner: number;
  /** Outer entries per statistics chunk (`outerChunk`, or all of outer). */
  chunk: number;
  /** Number of statistics slots: chunks x groups, as `slotCount` gives it. */
  slots: number;
  center: boolean;
  eps: number;
  weight: Tensor | null;
  bias: Tensor | null;
  fixed: { mean: Float64Array; variance: Float64Array } | null;
  allReduce: ((buffer: Float64Array) => void) | null;
}

export function normalizeBatch(x: Tensor, options: BatchwiseOptions): NormalizeResult {
  const { op, outer, groups, inner, chunk, slots, center, eps, weight, bias, fixed, allReduce } = options;
  const xs = x.data;
  const statistics: NormStatistics = fixed
    ? { count: new Float64Array(slots), mean: fixed.mean, variance: fixed.variance }
    : batchStatistics(xs, outer, groups, inner, chunk, slots, center, allReduce);
  const mean = statistics.mean;
  const rstd = new Float64Array(slots);
  for (let s = 0; s < slots; s++) rstd[s] = 1 / Math.sqrt(statistics.variance[s]! + eps);
  const w = weight?.data ?? null;
  const b = bias?.data ?? null;
  const out = allocate(x.dtype, x.size);
  forwardBatch(xs, out, w, b, outer, groups, inner, chunk, mean, rstd);

  const inputs: Tensor[] = [x];
  if (weight) inputs.push(weight);
  if (bias) inputs.push(bias);
  const output = customOp({
    op,
    inputs,
    data: out,
    shape: x.shape,
    backward: (gradOutput) => {
      const gradWeight = weight ? new Float64Array(groups) : null;
      const gradBias = bias ? new Float64Array(groups) : null;
      // [sum(dxhat)..., sum(dxhat * xhat)...] per slot: one buffer, one cross-replica reduction.
      const reductions = new Float64Array(2 * slots);
      backwardReductions(gradOutput, xs, w, outer, groups, inner, chunk, slots, mean, rstd, gradWeight, gradBias, reductions);
      if (!fixed) allReduce?.(reductions);
      let gradX: TypedArray | null = null;
      if (x.requiresGrad) {
        gradX = allocate(x.dtype, x.size);
        backwardInput(gradOutput, xs, gradX, w, outer, groups, inner, chunk, slots, center, fixed !== null, statistics.count, mean, rstd, reductions);
      }
      const grads: Array<TypedArray | null> = [gradX];
      if (weight) grads.push(ofDType(gradWeight!, weight));
      if (bias) grads.push(ofDType(gradBias!, bias));
      return grads;
    },
  });
  return { output, statistics };
}

function ofDType(values: Float64Array, like: Tensor): TypedArray {
  return like.dtype === 'float64' ? values : Float32Array.from(values);
}

/** Count, mean and biased variance per slot, two-pass, with the general loops' allReduce calls. */
function batchStatistics(
  xs: TypedArray, outer: number, groups: number, inner: number, chunk: number, slots: number, center: boolean,
  allReduce: ((buffer: Float64Array) => void) | null,
): NormStatistics {
  // sums = [count..., sum (or sum of squares without centring)...].
  const sums = new Float64Array(2 * slots);
  for (let o = 0; o < outer; o++) {
    const slotBase = Math.floor(o / chunk) * groups;
    for (let g = 0; g < groups; g++) {
      const base = (o * groups + g) * inner;
      sums[slotBase + g]! += inner;
      sums[slots + slotBase + g]! += center ? rowSum(xs, base, base + inner) : rowSquaredDeviations(xs, base, base + inner, 0);
    }
  }
  allReduce?.(sums);
  const count = sums.slice(0, slots);
  const mean = new Float64Array(slots);
  const variance = new Float64Array(slots);
  if (!center) {
    for (let s = 0; s < slots; s++) variance[s] = count[s]! > 0 ? sums[slots + s]! / count[s]! : 0;
    return { count, mean, variance };
  }
  for (let s = 0; s < slots; s++) mean[s] = count[s]! > 0 ? sums[slots + s]! / count[s]! : 0;
  // Squared deviations from the (global) mean in a second pass: no cancellation from a large mean.
  const squares = new Float64Array(slots);
  for (let o = 0; o < outer; o++) {
    const slotBase = Math.floor(o / chunk) * groups;
    for (let g = 0; g < groups; g++) {
      const base = (o * groups + g) * inner;
      squares[slotBase + g]! += rowSquaredDeviations(xs, base, base + inner, mean[slotBase + g]!);
    }
  }
  allReduce?.(squares);
  for (let s = 0; s < slots; s++) variance[s] = count[s]! > 0 ? squares[s]! / count[s]! : 0;
  return { count, mean, variance };
}

/** out = x * scale + shift per (outer, group) run, scale and shift folding statistics and affine. */
function forwardBatch(
  xs: TypedArray, out: TypedArray, w: TypedArray | null, b: TypedArray | null, outer: number, groups: number, inner: number, chunk: number,
  mean: Float64Array, rstd: Float64Array,
): void {
  for (let o = 0; o < outer; o++) {
    const slotBase = Math.floor(o / chunk) * groups;
    for (let g = 0; g < groups; g++) {
      const slot = slotBase + g;
      const scale = rstd[slot]! * (w !== null ? w[g]! : 1);
      const shift = (b !== null ? b[g]! : 0) - mean[slot]! * scale;
      const base = (o * groups + g) * inner;
      affineBlock(xs, out, base, base + inner, scale, shift);
    }
  }
}

/**
 * dgamma += sum(dy * xhat), dbeta += sum(dy) per group, and per slot
 * reductions = [sum(dxhat)..., sum(dxhat * xhat)...] with dxhat = dy * gamma.
 */
function backwardReductions(
  gy: TypedArray, xs: TypedArray, w: TypedArray | null, outer: number, groups: number, inner: number, chunk: number, slots: number,
  mean: Float64Array, rstd: Float64Array, gradWeight: Float64Array | null, gradBias: Float64Array | null, reductions: Float64Array,
): void {
  const sums = new Float64Array(2);
  for (let o = 0; o < outer; o++) {
    const slotBase = Math.floor(o / chunk) * groups;
    for (let g = 0; g < groups; g++) {
      const slot = slotBase + g;
      const r = rstd[slot]!;
      const base = (o * groups + g) * inner;
      // sums[0] = sum(dy), sums[1] = sum(dy * (x - m)).
      blockSums(gy, xs, base, base + inner, mean[slot]!, sums);
      const gamma = w !== null ? w[g]! : 1;
      if (gradWeight !== null) gradWeight[g]! += sums[1]! * r;
      if (gradBias !== null) gradBias[g]! += sums[0]!;
      reductions[slot]! += sums[0]! * gamma;
      reductions[slots + slot]! += sums[1]! * gamma * r;
    }
  }
}

/**
 * dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) over the slot, written as
 * a * dy - c * x + (c * m - d) with a = rstd * gamma, c = rstd^2 * mean(dxhat * xhat),
 * d = rstd * mean(dxhat); with fixed statistics the means are constants: dx = rstd * gamma * dy.
 */
function backwardInput(
  gy: TypedArray, xs: TypedArray, gradX: TypedArray, w: TypedArray | null, outer: number, groups: number, inner: number, chunk: number,
  slots: number, center: boolean, fixed: boolean, count: Float64Array, mean: Float64Array, rstd: Float64Array, reductions: Float64Array,
): void {
  for (let o = 0; o < outer; o++) {
    const slotBase = Math.floor(o / chunk) * groups;
    for (let g = 0; g < groups; g++) {
      const slot = slotBase + g;
      const r = rstd[slot]!;
      const m = mean[slot]!;
      let c = 0;
      let d = 0;
      if (!fixed) {
        const n = count[slot]!;
        d = center ? (r * reductions[slot]!) / n : 0;
        c = (r * r * reductions[slots + slot]!) / n;
      }
      const a = r * (w !== null ? w[g]! : 1);
      const base = (o * groups + g) * inner;
      gradXBlock(gy, xs, gradX, base, base + inner, a, c, c * m - d);
    }
  }
}
