import type { TypedArray } from '../../dtype';
import type { NormStatistics } from '../../norm/statistics';
import type {
  BatchBackwardArgs, BatchForwardArgs, BatchForwardResult, RowwiseBackwardArgs, RowwiseForwardArgs, SlotMixBackwardArgs, SlotMixForwardArgs,
  SlotwiseBackwardArgs, SlotwiseForwardArgs,
} from '../types';
import {
  OVERFLOW_SCALE, affineBlock, blockSums, clipAffineBlock, gateBlock, gradXBlock, gradXBlockCentred, overflowedSlotStatistics, rowSquaredDeviations,
  rowSum, rstdInRange, scaledRstd, scaledSquaredDeviations, scaledSum,
} from './loops';

// The `js` normalization kernels: the reference every other backend is tested against. Flat loops
// in top-level functions taking arrays as arguments, so the engine keeps them in registers instead
// of reloading closure variables per element. Statistics and affine arithmetic in float64.
//
// float64 data beyond the square range: a slot whose variance is not finite (one comparison per
// slot) is recomputed on exactly scaled data (see OVERFLOW_SCALE), and a slot whose rstd is outside
// `rstdInRange` (another comparison) takes backward formulas whose products stay O(1) * rstd
// (xhat = (x - m) * rstd, never rstd^2 or rstd^3 alone), so data around 1e200 normalises like data
// around 1. float32 data cannot overflow float64 statistics: its non-finite variances come from
// Infinity or NaN inputs and are kept, as the wasm kernels keep them.

/**
 * Mean, biased variance and rstd of x[start..end) into out = [m, v, r]: two passes (squared deviations
 * after the mean: no cancellation from a large mean; squares when not centring); float64 data whose
 * variance overflows is recomputed on exactly scaled values (`overflowedSlotStatistics`).
 */
function slotStatistics(xs: TypedArray, start: number, end: number, center: boolean, eps: number, wide: boolean, out: Float64Array): void {
  const n = end - start;
  const m = center ? rowSum(xs, start, end) / n : 0;
  const v = rowSquaredDeviations(xs, start, end, m) / n;
  if (!(v < Infinity) && wide) {
    overflowedSlotStatistics(xs, start, end, center, eps, out);
    return;
  }
  out[0] = m;
  out[1] = v;
  out[2] = 1 / Math.sqrt(v + eps);
}

/** LayerNorm / RMSNorm forward: two-pass statistics per row (no cancellation from a large mean). */
export function rowwiseForward(args: RowwiseForwardArgs): void {
  const { x: xs, out, weight: w, bias: b, rows, inner, center, eps, mask, count, mean, variance, rstd } = args;
  const scaled = new Float64Array(3);
  const wide = xs instanceof Float64Array;
  for (let row = 0; row < rows; row++) {
    // Padded rows: no statistics (count 0), output 0, like the general kernel.
    if (mask !== null && mask[row] === 0) {
      rstd[row] = 1 / Math.sqrt(eps);
      out.fill(0, row * inner, (row + 1) * inner);
      continue;
    }
    const base = row * inner;
    const end = base + inner;
    slotStatistics(xs, base, end, center, eps, wide, scaled);
    const m = scaled[0]!;
    const v = scaled[1]!;
    const r = scaled[2]!;
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
export function rowwiseBackward(args: RowwiseBackwardArgs): void {
  const { gradOutput: gy, x: xs, weight: w, rows, inner, center, mask, mean, rstd, gradX, gradWeight, gradBias } = args;
  const gamma = w ?? new Float64Array(inner).fill(1);
  const sums = new Float64Array(2);
  for (let row = 0; row < rows; row++) {
    if (mask !== null && mask[row] === 0) {
      gradX?.fill(0, row * inner, (row + 1) * inner);
      continue;
    }
    const base = row * inner;
    const m = mean[row]!;
    const r = rstd[row]!;
    rowReductions(gy, xs, gamma, base, inner, m, r, gradWeight, gradBias, sums);
    if (gradX === null) continue;
    const offset = center ? (r * sums[0]!) / inner : 0;
    if (rstdInRange(r)) {
      // dx = r * dy * gamma - r * mean(dxhat) - (x - m) * r^2 * mean(dxhat * (x - m)) * r
      const slope = (r * r * r * sums[1]!) / inner;
      for (let j = 0; j < inner; j++) {
        gradX[base + j] = r * gy[base + j]! * gamma[j]! - offset - (xs[base + j]! - m) * slope;
      }
    } else {
      // The same with xhat = (x - m) * r: r * mean(dxhat * xhat) * xhat.
      const slope = r * ((r * sums[1]!) / inner);
      for (let j = 0; j < inner; j++) {
        gradX[base + j] = r * gy[base + j]! * gamma[j]! - offset - (xs[base + j]! - m) * r * slope;
      }
    }
  }
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

/** GroupNorm / InstanceNorm / FRN forward: two-pass statistics per slot, per-block affine folded into one scale and shift. */
export function slotwiseForward(args: SlotwiseForwardArgs): void {
  const { x: xs, out, weight: w, bias: b, threshold: th, slots, groups, inner, block, center, eps, mean, variance, rstd } = args;
  const blocks = inner / block;
  const choice = new Float64Array(2);
  const scaled = new Float64Array(3);
  const wide = xs instanceof Float64Array;
  for (let s = 0; s < slots; s++) {
    const base = s * inner;
    const end = base + inner;
    slotStatistics(xs, base, end, center, eps, wide, scaled);
    const m = scaled[0]!;
    const v = scaled[1]!;
    const r = scaled[2]!;
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

/**
 * Per slot: dxhat = dy * gamma, dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) (the
 * mean(dxhat) term only with centring); dgamma += sum(dy * xhat), dbeta += sum(dy) per block. With a
 * threshold, dy = gradOutput where y >= t (else 0, the rest going to t); the gated dy is parked in
 * gradX between the two passes.
 */
export function slotwiseBackward(args: SlotwiseBackwardArgs): void {
  const {
    gradOutput, x: xs, weight: w, bias: b, threshold: th, slots, groups, inner, block, center, mean, rstd, gradX, gradWeight, gradBias,
    gradThreshold, dxhatXhat,
  } = args;
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
    // dx = a * dy - c * (x - m) - d with a = r * gamma, c = r^2 * mean(dxhat * xhat), d = r * mean(dxhat);
    // outside rstdInRange as a * dy - xhat * (r * mean(dxhat * xhat)) - d.
    const inRange = rstdInRange(r);
    const c = inRange ? r * r * meanDxhatXhat : r * meanDxhatXhat;
    const d = r * meanDxhat;
    for (let q = 0; q < blocks; q++) {
      const a = r * (w !== null ? w[paramBase + q]! : 1);
      const start = base + q * block;
      const dy = th !== null ? gradX : gradOutput;
      if (inRange) gradXBlock(dy, xs, gradX, start, start + block, a, c, c * m - d);
      else gradXBlockCentred(dy, xs, gradX, start, start + block, a, m, r, c, d);
    }
  }
}

/**
 * BatchNorm forward: count, mean and biased variance per (chunk, group) slot, two-pass, calling
 * `allReduce` on [counts..., sums...] and then (centred) on the squared deviations, exactly as the
 * general loops do; then out = x * scale + shift per (outer, group) run.
 */
export function batchForward(args: BatchForwardArgs): BatchForwardResult {
  const { x: xs, out, weight: w, bias: b, outer, groups, inner, chunk, slots, center, eps, fixed, allReduce } = args;
  const statistics: NormStatistics = fixed
    ? { count: new Float64Array(slots), mean: fixed.mean, variance: fixed.variance }
    : batchStatistics(xs, outer, groups, inner, chunk, slots, center, allReduce, 1);
  const rstd = new Float64Array(slots);
  let overflowed = false;
  for (let s = 0; s < slots; s++) {
    const v = statistics.variance[s]!;
    rstd[s] = 1 / Math.sqrt(v + eps);
    if (!(v < Infinity)) overflowed = true;
  }
  if (overflowed && !fixed && xs instanceof Float64Array) {
    // Every replica sees the same reduced variances, so all take this branch and its allReduce calls.
    const scaled = batchStatistics(xs, outer, groups, inner, chunk, slots, center, allReduce, OVERFLOW_SCALE);
    const { mean, variance } = statistics;
    for (let s = 0; s < slots; s++) {
      if (variance[s]! < Infinity) continue;
      mean[s] = scaled.mean[s]! / OVERFLOW_SCALE;
      variance[s] = scaled.variance[s]! / OVERFLOW_SCALE / OVERFLOW_SCALE;
      rstd[s] = scaledRstd(scaled.variance[s]!, eps);
    }
  }
  const mean = statistics.mean;
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
  return { statistics, rstd };
}

/**
 * Count, mean and biased variance per slot of x * scale (scale = 1, or OVERFLOW_SCALE when a variance
 * overflowed), two-pass, with the general loops' allReduce calls.
 */
function batchStatistics(
  xs: TypedArray, outer: number, groups: number, inner: number, chunk: number, slots: number, center: boolean,
  allReduce: ((buffer: Float64Array) => void) | null, scale: number,
): NormStatistics {
  // sums = [count..., sum (or sum of squares without centring)...].
  const sums = new Float64Array(2 * slots);
  for (let o = 0; o < outer; o++) {
    const slotBase = Math.floor(o / chunk) * groups;
    for (let g = 0; g < groups; g++) {
      const base = (o * groups + g) * inner;
      sums[slotBase + g]! += inner;
      const end = base + inner;
      sums[slots + slotBase + g]! += scale === 1
        ? (center ? rowSum(xs, base, end) : rowSquaredDeviations(xs, base, end, 0))
        : (center ? scaledSum(xs, base, end, scale) : scaledSquaredDeviations(xs, base, end, scale, 0));
    }
  }
  allReduce?.(sums);
  const squares = center ? new Float64Array(slots) : null;
  const mean = new Float64Array(slots);
  if (squares !== null) {
    for (let s = 0; s < slots; s++) mean[s] = sums[s]! > 0 ? sums[slots + s]! / sums[s]! : 0;
    // Squared deviations from the (global) mean in a second pass: no cancellation from a large mean.
    for (let o = 0; o < outer; o++) {
      const slotBase = Math.floor(o / chunk) * groups;
      for (let g = 0; g < groups; g++) {
        const base = (o * groups + g) * inner;
        const m = mean[slotBase + g]!;
        squares[slotBase + g]! += scale === 1 ? rowSquaredDeviations(xs, base, base + inner, m) : scaledSquaredDeviations(xs, base, base + inner, scale, m);
      }
    }
    allReduce?.(squares);
  }
  return finishBatchStatistics(sums, squares, mean, slots);
}

/**
 * Count, mean and biased variance from the reduced [counts..., sums...] and squared deviations (or,
 * without centring, the sums of squares): shared by every backend's batch kernel.
 */
export function finishBatchStatistics(sums: Float64Array, squares: Float64Array | null, mean: Float64Array, slots: number): NormStatistics {
  const count = sums.slice(0, slots);
  const variance = new Float64Array(slots);
  for (let s = 0; s < slots; s++) {
    const n = count[s]!;
    variance[s] = n > 0 ? (squares !== null ? squares[s]! : sums[slots + s]!) / n : 0;
  }
  return { count, mean, variance };
}

/**
 * dgamma += sum(dy * xhat), dbeta += sum(dy) per group, reductions = [sum(dxhat)..., sum(dxhat * xhat)...]
 * per slot (all-reduced across replicas unless the statistics were fixed), then
 * dx = a * dy - c * x + (c * m - d) with a = rstd * gamma, c = rstd^2 * mean(dxhat * xhat),
 * d = rstd * mean(dxhat) (outside rstdInRange: a * dy - xhat * rstd * mean(dxhat * xhat) - d); with
 * fixed statistics the means are constants: dx = rstd * gamma * dy.
 */
export function batchBackward(args: BatchBackwardArgs): void {
  const { gradOutput: gy, x: xs, weight: w, outer, groups, inner, chunk, slots, center, fixed, count, mean, rstd, gradX, gradWeight, gradBias, allReduce } = args;
  const reductions = new Float64Array(2 * slots);
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
  if (!fixed) allReduce?.(reductions);
  if (gradX === null) return;
  batchBackwardInput(gy, xs, gradX, w, outer, groups, inner, chunk, slots, center, fixed, count, mean, rstd, reductions);
}

function batchBackwardInput(
  gy: TypedArray, xs: TypedArray, gradX: TypedArray, w: TypedArray | null, outer: number, groups: number, inner: number, chunk: number,
  slots: number, center: boolean, fixed: boolean, count: Float64Array, mean: Float64Array, rstd: Float64Array, reductions: Float64Array,
): void {
  for (let o = 0; o < outer; o++) {
    const slotBase = Math.floor(o / chunk) * groups;
    for (let g = 0; g < groups; g++) {
      const slot = slotBase + g;
      const r = rstd[slot]!;
      const m = mean[slot]!;
      const inRange = rstdInRange(r);
      let c = 0;
      let d = 0;
      if (!fixed) {
        const n = count[slot]!;
        d = center ? (r * reductions[slot]!) / n : 0;
        // reductions hold sum(dxhat * xhat): c = r^2 * mean(dxhat * xhat), or r * mean(...) for gradXBlockCentred.
        c = inRange ? (r * r * reductions[slots + slot]!) / n : r * (reductions[slots + slot]! / n);
      }
      const a = r * (w !== null ? w[g]! : 1);
      const base = (o * groups + g) * inner;
      if (inRange) gradXBlock(gy, xs, gradX, base, base + inner, a, c, c * m - d);
      else gradXBlockCentred(gy, xs, gradX, base, base + inner, a, m, r, c, d);
    }
  }
}

/** Per-slot two-pass moments, the caller's mix, then out = x * scale + shift per slot. */
export function slotMixForward(args: SlotMixForwardArgs): void {
  const { x: xs, out, slots, inner, mix } = args;
  const mean = new Float64Array(slots);
  const variance = new Float64Array(slots);
  for (let s = 0; s < slots; s++) {
    const base = s * inner;
    const m = rowSum(xs, base, base + inner) / inner;
    mean[s] = m;
    variance[s] = rowSquaredDeviations(xs, base, base + inner, m) / inner;
  }
  const { scale, shift } = mix(mean, variance);
  for (let s = 0; s < slots; s++) affineBlock(xs, out, s * inner, (s + 1) * inner, scale[s]!, shift[s]!);
}

/** Per-slot sum(dy) and sum(dy * (x - mean)), the caller's mix, then gradX = a * dy - c * x + e per slot. */
export function slotMixBackward(args: SlotMixBackwardArgs): void {
  const { gradOutput, x: xs, gradX, slots, inner, mean, mix } = args;
  const sumDy = new Float64Array(slots);
  const sumDyCentred = new Float64Array(slots);
  const sums = new Float64Array(2);
  for (let s = 0; s < slots; s++) {
    blockSums(gradOutput, xs, s * inner, (s + 1) * inner, mean[s]!, sums);
    sumDy[s] = sums[0]!;
    sumDyCentred[s] = sums[1]!;
  }
  const coefficients = mix(sumDy, sumDyCentred);
  if (coefficients === null || gradX === null) return;
  const { a, c, e } = coefficients;
  for (let s = 0; s < slots; s++) gradXBlock(gradOutput, xs, gradX, s * inner, (s + 1) * inner, a[s]!, c[s]!, e[s]!);
}
