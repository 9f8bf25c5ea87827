import { customOp } from '../autograd';
import { allocate, type TypedArray } from '../dtype';
import type { Tensor } from '../tensor';
import type { NormalizeResult } from './normalize';

/** What `normalize` hands the row-wise path; everything is validated by then. */
export interface RowwiseOptions {
  op: string;
  rows: number;
  inner: number;
  center: boolean;
  eps: number;
  weight: Tensor | null;
  bias: Tensor | null;
  /** One value per row, 0 = padding. */
  mask?: TypedArray;
}

/**
 * The row-wise case of `normalize` (LayerNorm, RMSNorm): statistics per row of `inner` contiguous
 * elements, per-element affine, whole rows masked. Same maths, numerics (two-pass statistics in
 * float64) and semantics as the general loops, which it must match (rowwise.test.ts), written as
 * flat loops over one row at a time: about twice as fast as the general (outer, group, block) walk
 * on [64, 768]. `center: false` (RMSNorm) skips the mean pass.
 */
export function normalizeRows(x: Tensor, options: RowwiseOptions): NormalizeResult {
  const { op, rows, inner, center, eps, weight, bias } = options;
  const mask = options.mask ?? null;
  const count = new Float64Array(rows);
  const mean = new Float64Array(rows);
  const variance = new Float64Array(rows);
  const rstd = new Float64Array(rows);
  const out = allocate(x.dtype, x.size);
  forwardRows(x.data, out, weight?.data ?? null, bias?.data ?? null, rows, inner, center, eps, mask, count, mean, variance, rstd);

  const inputs: Tensor[] = [x];
  if (weight) inputs.push(weight);
  if (bias) inputs.push(bias);
  const output = customOp({
    op,
    inputs,
    data: out,
    shape: x.shape,
    backward: (gradOutput) => {
      const gradX = x.requiresGrad ? allocate(x.dtype, x.size) : null;
      const gradWeight = weight ? new Float64Array(inner) : null;
      const gradBias = bias ? new Float64Array(inner) : null;
      backwardRows(gradOutput, x.data, weight?.data ?? null, rows, inner, center, mask, mean, rstd, gradX, gradWeight, gradBias);
      const grads: Array<TypedArray | null> = [gradX];
      if (weight) grads.push(weight.dtype === 'float64' ? gradWeight! : Float32Array.from(gradWeight!));
      if (bias) grads.push(bias.dtype === 'float64' ? gradBias! : Float32Array.from(gradBias!));
      return grads;
    },
  });
  return { output, statistics: { count, mean, variance } };
}

function forwardRows(
  xs: TypedArray, out: TypedArray, w: TypedArray | null, b: TypedArray | null, rows: number, inner: number, center: boolean, eps: number,
  mask: TypedArray | null, count: Float64Array, mean: Float64Array, variance: Float64Array, rstd: Float64Array,
): void {
  for (let row = 0; row < rows; row++) {
    // Padded rows: no statistics (count 0), output stays 0, like the general kernel.
    if (mask !== null && mask[row] === 0) {
      rstd[row] = 1 / Math.sqrt(eps);
      continue;
    }
    const base = row * inner;
    const end = base + inner;
    const m = center ? rowSum(xs, base, end) / inner : 0;
    // Second pass over squared deviations (or squares, m = 0): no cancellation from a large mean.
    const v = rowSquaredDeviations(xs, base, end, m) / inner;
    const r = 1 / Math.sqrt(v + eps);
    count[row] = inner;
    mean[row] = m;
    variance[row] = v;
    rstd[row] = r;
    if (w !== null && b !== null) {
      for (let j = 0; j < inner; j++) out[base + j] = (xs[base + j]! - m) * r * w[j]! + b[j]!;
    } else if (w !== null) {
      for (let j = 0; j < inner; j++) out[base + j] = (xs[base + j]! - m) * r * w[j]!;
    } else if (b !== null) {
      for (let j = 0; j < inner; j++) out[base + j] = (xs[base + j]! - m) * r + b[j]!;
    } else {
      for (let i = base; i < end; i++) out[i] = (xs[i]! - m) * r;
    }
  }
}

/**
 * dxhat = dy * w; dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)), the mean(dxhat)
 * term only with centring; dw += dy * xhat, db += dy. Two passes per row: the reductions (with the
 * parameter gradients), then dx.
 */
function backwardRows(
  gy: TypedArray, xs: TypedArray, w: TypedArray | null, rows: number, inner: number, center: boolean, mask: TypedArray | null,
  mean: Float64Array, rstd: Float64Array, gradX: TypedArray | null, gradWeight: Float64Array | null, gradBias: Float64Array | null,
): void {
  const gamma = w ?? new Float64Array(inner).fill(1);
  const sums = new Float64Array(2);
  for (let row = 0; row < rows; row++) {
    if (mask !== null && mask[row] === 0) continue;
    const base = row * inner;
    const m = mean[row]!;
    const r = rstd[row]!;
    rowReductions(gy, xs, gamma, base, inner, m, r, gradWeight, gradBias, sums);
    if (gradX === null) continue;
    // dx = r * dy * gamma - r * mean(dxhat) - (x - m) * r^2 * mean(dxhat * (x - m)) * r
    const offset = center ? (r * sums[0]!) / inner : 0;
    const slope = (r * r * r * sums[1]!) / inner;
    for (let j = 0; j < inner; j++) {
      gradX[base + j] = r * gy[base + j]! * gamma[j]! - offset - (xs[base + j]! - m) * slope;
    }
  }
}

// The reductions below keep four independent accumulators: one running sum is a chain of dependent
// additions, bound by the adder's latency; four chains let the CPU overlap them (about 3x here).

export function rowSum(xs: TypedArray, start: number, end: number): number {
  let a0 = 0;
  let a1 = 0;
  let a2 = 0;
  let a3 = 0;
  let i = start;
  for (; i + 3 < end; i += 4) {
    a0 += xs[i]!;
    a1 += xs[i + 1]!;
    a2 += xs[i + 2]!;
    a3 += xs[i + 3]!;
  }
  for (; i < end; i++) a0 += xs[i]!;
  return a0 + a1 + a2 + a3;
}

/** sum((x - m)^2) over [start, end). */
export function rowSquaredDeviations(xs: TypedArray, start: number, end: number, m: number): number {
  let a0 = 0;
  let a1 = 0;
  let a2 = 0;
  let a3 = 0;
  let i = start;
  for (; i + 3 < end; i += 4) {
    const d0 = xs[i]! - m;
    const d1 = xs[i + 1]! - m;
    const d2 = xs[i + 2]! - m;
    const d3 = xs[i + 3]! - m;
    a0 += d0 * d0;
    a1 += d1 * d1;
    a2 += d2 * d2;
    a3 += d3 * d3;
  }
  for (; i < end; i++) {
    const d = xs[i]! - m;
    a0 += d * d;
  }
  return a0 + a1 + a2 + a3;
}

/**
 * One pass over a row: sums[0] = sum(dxhat), sums[1] = sum(dxhat * (x - m)) with dxhat = dy * gamma,
 * and dw += dy * (x - m) * r, db += dy when those gradients are wanted.
 */
function rowReductions(
  gy: TypedArray, xs: TypedArray, gamma: TypedArray, base: number, inner: number, m: number, r: number,
  gradWeight: Float64Array | null, gradBias: Float64Array | null, sums: Float64Array,
): void {
  let s0 = 0;
  let s1 = 0;
  let t0 = 0;
  let t1 = 0;
  let j = 0;
  const even = inner - (inner % 2);
  if (gradWeight !== null && gradBias !== null) {
    for (; j < even; j += 2) {
      const i = base + j;
      const dy0 = gy[i]!;
      const dy1 = gy[i + 1]!;
      const d0 = xs[i]! - m;
      const d1 = xs[i + 1]! - m;
      const g0 = dy0 * gamma[j]!;
      const g1 = dy1 * gamma[j + 1]!;
      s0 += g0;
      s1 += g1;
      t0 += g0 * d0;
      t1 += g1 * d1;
      gradWeight[j]! += dy0 * d0 * r;
      gradWeight[j + 1]! += dy1 * d1 * r;
      gradBias[j]! += dy0;
      gradBias[j + 1]! += dy1;
    }
  } else if (gradWeight !== null) {
    for (; j < even; j += 2) {
      const i = base + j;
      const dy0 = gy[i]!;
      const dy1 = gy[i + 1]!;
      const d0 = xs[i]! - m;
      const d1 = xs[i + 1]! - m;
      const g0 = dy0 * gamma[j]!;
      const g1 = dy1 * gamma[j + 1]!;
      s0 += g0;
      s1 += g1;
      t0 += g0 * d0;
      t1 += g1 * d1;
      gradWeight[j]! += dy0 * d0 * r;
      gradWeight[j + 1]! += dy1 * d1 * r;
    }
  } else {
    for (; j < even; j += 2) {
      const i = base + j;
      const g0 = gy[i]! * gamma[j]!;
      const g1 = gy[i + 1]! * gamma[j + 1]!;
      s0 += g0;
      s1 += g1;
      t0 += g0 * (xs[i]! - m);
      t1 += g1 * (xs[i + 1]! - m);
    }
    if (gradBias !== null) for (let k = 0; k < even; k++) gradBias[k]! += gy[base + k]!;
  }
  for (; j < inner; j++) {
    const dy = gy[base + j]!;
    const d = xs[base + j]! - m;
    const g = dy * gamma[j]!;
    s0 += g;
    t0 += g * d;
    if (gradWeight !== null) gradWeight[j]! += dy * d * r;
    if (gradBias !== null) gradBias[j]! += dy;
  }
  sums[0] = s0 + s1;
  sums[1] = t0 + t1;
}
