import { customOp } from '../autograd';
import { allocate, type TypedArray } from '../dtype';
import type { Tensor } from '../tensor';
import type { NormalizeResult } from './normalize';
import { rowSquaredDeviations, rowSum } from './rowwise';

/**
 * The per-sample case of `normalize` with per-channel affine (GroupNorm, InstanceNorm, FRN): one
 * statistic per (outer, group) slot of `inner` contiguous values, affine parameters shared by
 * blocks of `block` values, no mask, no fixed statistics, no cross-replica reduction. Same maths
 * and semantics as the general loops (which it must match, see slotwise.test.ts), written as flat
 * loops in top-level functions taking the arrays as arguments, so the engine keeps them in
 * registers instead of reloading closure variables per element (the general walk's cost), with
 * four-way unrolled reductions.
 */
export interface SlotwiseOptions {
  op: string;
  outer: number;
  groups: number;
  inner: number;
  /** Values per affine parameter (the spatial size for per-channel affine); divides `inner`. */
  block: number;
  center: boolean;
  /** The eps value used (fixed, or fixed + |learned|). */
  eps: number;
  /** The tensor that receives dL/deps, with d eps / d tensor (1 for a scalar eps, sign(learned) for FRN's). */
  epsInput: { tensor: Tensor; derivative: number } | null;
  weight: Tensor | null;
  bias: Tensor | null;
  /** TLU epilogue: out = max(y, threshold), one value per affine parameter. */
  threshold: Tensor | null;
}

export function normalizeSlots(x: Tensor, options: SlotwiseOptions): NormalizeResult {
  const { op, outer, groups, inner, block, center, eps, epsInput, weight, bias, threshold } = options;
  const slots = outer * groups;
  const count = new Float64Array(slots).fill(inner);
  const mean = new Float64Array(slots);
  const variance = new Float64Array(slots);
  const rstd = new Float64Array(slots);
  const out = allocate(x.dtype, x.size);
  const w = weight?.data ?? null;
  const b = bias?.data ?? null;
  const th = threshold?.data ?? null;
  forwardSlots(x.data, out, w, b, th, slots, groups, inner, block, center, eps, mean, variance, rstd);

  const inputs: Tensor[] = [x];
  if (weight) inputs.push(weight);
  if (bias) inputs.push(bias);
  if (epsInput) inputs.push(epsInput.tensor);
  if (threshold) inputs.push(threshold);
  const paramCount = (groups * inner) / block;
  const output = customOp({
    op,
    inputs,
    data: out,
    shape: x.shape,
    backward: (gradOutput) => {
      const gradX = x.requiresGrad ? allocate(x.dtype, x.size) : null;
      const gradWeight = weight ? new Float64Array(paramCount) : null;
      const gradBias = bias ? new Float64Array(paramCount) : null;
      const gradThreshold = threshold ? new Float64Array(paramCount) : null;
      // sum(dxhat * xhat) per slot, for the eps gradient.
      const dxhatXhat = new Float64Array(slots);
      backwardSlots(
        gradOutput, x.data, w, b, th, slots, groups, inner, block, center, mean, rstd, gradX, gradWeight, gradBias, gradThreshold, dxhatXhat,
      );
      const grads: Array<TypedArray | null> = [gradX];
      if (weight) grads.push(ofDType(gradWeight!, weight));
      if (bias) grads.push(ofDType(gradBias!, bias));
      if (epsInput) {
        // rstd = (var + eps)^(-1/2): dL/deps = sum over slots of -0.5 * rstd^2 * sum(dxhat * xhat).
        let gradEps = 0;
        for (let s = 0; s < slots; s++) gradEps += -0.5 * rstd[s]! * rstd[s]! * dxhatXhat[s]!;
        const ge = allocate(epsInput.tensor.dtype, 1);
        ge[0] = epsInput.derivative === 0 ? 0 : gradEps * epsInput.derivative;
        grads.push(ge);
      }
      if (threshold) grads.push(ofDType(gradThreshold!, threshold));
      return grads;
    },
  });
  return { output, statistics: { count, mean, variance } };
}

function ofDType(values: Float64Array, like: Tensor): TypedArray {
  return like.dtype === 'float64' ? values : Float32Array.from(values);
}

function forwardSlots(
  xs: TypedArray, out: TypedArray, w: TypedArray | null, b: TypedArray | null, th: TypedArray | null, slots: number, groups: number,
  inner: number, block: number, center: boolean, eps: number, mean: Float64Array, variance: Float64Array, rstd: Float64Array,
): void {
  const blocks = inner / block;
  const choice = new Float64Array(2);
  for (let s = 0; s < slots; s++) {
    const base = s * inner;
    const end = base + inner;
    const m = center ? rowSum(xs, base, end) / inner : 0;
    // Squared deviations in a second pass (squares when m = 0): no cancellation from a large mean.
    const v = rowSquaredDeviations(xs, base, end, m) / inner;
    const r = 1 / Math.sqrt(v + eps);
    mean[s] = m;
    variance[s] = v;
    rstd[s] = r;
    const paramBase = (s % groups) * blocks;
    for (let q = 0; q < blocks; q++) {
      const p = paramBase + q;
      // Per-block affine folds into one scale and shift, exactly as the general kernel computes them.
      const scale = r * (w !== null ? w[p]! : 1);
      const shift = (b !== null ? b[p]! : 0) - m * scale;
      const start = base + q * block;
      if (th !== null) clipAffineBlock(xs, out, start, start + block, scale, shift, th[p]!, choice);
      else affineBlock(xs, out, start, start + block, scale, shift);
    }
  }
}

export function affineBlock(xs: TypedArray, out: TypedArray, start: number, end: number, scale: number, shift: number): void {
  for (let i = start; i < end; i++) out[i] = xs[i]! * scale + shift;
}

/**
 * out = max(x * scale + shift, t), ties keeping y. Branch-free: with random signs a branch is
 * mispredicted half the time (about 5x slower here), so the comparison indexes `choice` = [y, t].
 * Comparing y before rounding to the output's dtype stores the same value as comparing after
 * (rounding is monotonic and t is representable).
 */
function clipAffineBlock(
  xs: TypedArray, out: TypedArray, start: number, end: number, scale: number, shift: number, t: number, choice: Float64Array,
): void {
  choice[1] = t;
  for (let i = start; i < end; i++) {
    const y = xs[i]! * scale + shift;
    choice[0] = y;
    out[i] = choice[+(y < t)]!;
  }
}

/**
 * Per slot: dxhat = dy * gamma, dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) (the
 * mean(dxhat) term only with centring); dgamma += sum(dy * xhat), dbeta += sum(dy) per block. With a
 * threshold, dy = gradOutput where y >= t (else 0, the rest going to t); the gated dy is parked in
 * gradX between the two passes.
 */
function backwardSlots(
  gradOutput: TypedArray, xs: TypedArray, w: TypedArray | null, b: TypedArray | null, th: TypedArray | null, slots: number, groups: number,
  inner: number, block: number, center: boolean, mean: Float64Array, rstd: Float64Array, gradX: TypedArray | null,
  gradWeight: Float64Array | null, gradBias: Float64Array | null, gradThreshold: Float64Array | null, dxhatXhat: Float64Array,
): void {
  const blocks = inner / block;
  const sums = new Float64Array(3);
  const pair = new Float64Array(2);
  const roundToFloat32 = xs instanceof Float32Array;
  // Where the gated dy goes when x needs no gradient: a block-sized scratch.
  const scratch = th !== null && gradX === null ? new Float64Array(block) : null;
  for (let s = 0; s < slots; s++) {
    const base = s * inner;
    const m = mean[s]!;
    const r = rstd[s]!;
    const paramBase = (s % groups) * blocks;
    let sumDxhat = 0;
    let sumDxhatCentred = 0;
    for (let q = 0; q < blocks; q++) {
      const p = paramBase + q;
      const gamma = w !== null ? w[p]! : 1;
      const start = base + q * block;
      if (th !== null) {
        const scale = r * gamma;
        const shift = (b !== null ? b[p]! : 0) - m * scale;
        const target = gradX ?? scratch!;
        gateBlock(gradOutput, xs, target, gradX !== null ? start : 0, start, start + block, scale, shift, th[p]!, m, roundToFloat32, pair, sums);
        gradThreshold![p]! += sums[2]!;
      } else {
        blockSums(gradOutput, xs, start, start + block, m, sums);
      }
      // sums[0] = sum(dy), sums[1] = sum(dy * (x - m)) over the block.
      if (gradWeight !== null) gradWeight[p]! += sums[1]! * r;
      if (gradBias !== null) gradBias[p]! += sums[0]!;
      sumDxhat += sums[0]! * gamma;
      sumDxhatCentred += sums[1]! * gamma;
    }
    dxhatXhat[s] = sumDxhatCentred * r;
    if (gradX === null) continue;
    const meanDxhat = center ? sumDxhat / inner : 0;
    const meanDxhatXhat = (sumDxhatCentred * r) / inner;
    // dx = a * dy - c * (x - m) - d with a = r * gamma, c = r^2 * mean(dxhat * xhat), d = r * mean(dxhat).
    const c = r * r * meanDxhatXhat;
    const d = r * meanDxhat;
    for (let q = 0; q < blocks; q++) {
      const a = r * (w !== null ? w[paramBase + q]! : 1);
      const start = base + q * block;
      if (th !== null) gradXBlock(gradX, xs, gradX, start, start + block, a, c, c * m - d);
      else gradXBlock(gradOutput, xs, gradX, start, start + block, a, c, c * m - d);
    }
  }
}

/** sums[0] = sum(dy), sums[1] = sum(dy * (x - m)) over [start, end), four accumulators each. */
export function blockSums(gy: TypedArray, xs: TypedArray, start: number, end: number, m: number, sums: Float64Array): void {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let t0 = 0;
  let t1 = 0;
  let t2 = 0;
  let t3 = 0;
  let i = start;
  for (; i + 3 < end; i += 4) {
    const g0 = gy[i]!;
    const g1 = gy[i + 1]!;
    const g2 = gy[i + 2]!;
    const g3 = gy[i + 3]!;
    s0 += g0;
    s1 += g1;
    s2 += g2;
    s3 += g3;
    t0 += g0 * (xs[i]! - m);
    t1 += g1 * (xs[i + 1]! - m);
    t2 += g2 * (xs[i + 2]! - m);
    t3 += g3 * (xs[i + 3]! - m);
  }
  for (; i < end; i++) {
    const g = gy[i]!;
    s0 += g;
    t0 += g * (xs[i]! - m);
  }
  sums[0] = s0 + s1 + s2 + s3;
  sums[1] = t0 + t1 + t2 + t3;
}

/**
 * The TLU split of one block: y = x * scale + shift, rounded as the forward stored it (float32 when
 * `roundToFloat32`); dy = gy where y >= t, else 0 and gy goes to t. Writes dy into `target` at
 * targetBase + (i - start) and sums[0] = sum(dy), sums[1] = sum(dy * (x - m)), sums[2] = t's share.
 * Branch-free like `clipAffineBlock`: `pair` = [0, gy] is indexed by the comparison.
 */
function gateBlock(
  gy: TypedArray, xs: TypedArray, target: TypedArray, targetBase: number, start: number, end: number, scale: number, shift: number,
  t: number, m: number, roundToFloat32: boolean, pair: Float64Array, sums: Float64Array,
): void {
  let sumDy = 0;
  let sumDyCentred = 0;
  let below = 0;
  pair[0] = 0;
  for (let i = start, k = targetBase; i < end; i++, k++) {
    const raw = xs[i]! * scale + shift;
    const y = roundToFloat32 ? Math.fround(raw) : raw;
    const keep = +(y >= t);
    pair[1] = gy[i]!;
    const dy = pair[keep]!;
    target[k] = dy;
    sumDy += dy;
    sumDyCentred += dy * (xs[i]! - m);
    below += pair[1 - keep]!;
  }
  sums[0] = sumDy;
  sums[1] = sumDyCentred;
  sums[2] = below;
}

/** gradX[i] = a * dy[i] - c * x[i] + e over [start, end). `dy` may be `gradX` itself (gated dy parked there). */
export function gradXBlock(dy: TypedArray, xs: TypedArray, gradX: TypedArray, start: number, end: number, a: number, c: number, e: number): void {
  for (let i = start; i < end; i++) gradX[i] = a * dy[i]! - c * xs[i]! + e;
}
