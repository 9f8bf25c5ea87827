import type { TypedArray } from '../../dtype';

// The block loops every layout of the `js` normalization kernels is made of (and SwitchableNorm's
// fused kernel reuses). The reductions keep four independent accumulators: one running sum is a
// chain of dependent additions, bound by the adder's latency; four chains let the CPU overlap them
// (about 3x here).

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

export function affineBlock(xs: TypedArray, out: TypedArray, start: number, end: number, scale: number, shift: number): void {
  for (let i = start; i < end; i++) out[i] = xs[i]! * scale + shift;
}

/**
 * out = max(x * scale + shift, t), ties keeping y. Branch-free: with random signs a branch is
 * mispredicted half the time (about 5x slower here), so the comparison indexes `choice` = [y, t].
 * Comparing y before rounding to the output's dtype stores the same value as comparing after
 * (rounding is monotonic and t is representable).
 */
export function clipAffineBlock(
  xs: TypedArray, out: TypedArray, start: number, end: number, scale: number, shift: number, t: number, choice: Float64Array,
): void {
  choice[1] = t;
  for (let i = start; i < end; i++) {
    const y = xs[i]! * scale + shift;
    choice[0] = y;
    out[i] = choice[+(y < t)]!;
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
export function gateBlock(
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

/**
 * Whether rstd^3 and rstd^-3 stay well inside float64 (data spread between about 1e-90 and 1e90),
 * so the backward formulas may multiply rstd by itself: one comparison per slot picks them or
 * `gradXBlockCentred`.
 */
export function rstdInRange(r: number): boolean {
  return r > 2 ** -300 && r < 2 ** 300;
}

/**
 * gradX[i] = a * dy[i] - ((x[i] - m) * r) * c - d over [start, end), for rstd outside `rstdInRange`:
 * with r = rstd and c = rstd * mean(dxhat * xhat), (x - m) * r is xhat, O(1), so no product
 * underflows where rstd is tiny (data around 1e200), as rstd^2 * mean(dxhat * xhat) would.
 */
export function gradXBlockCentred(
  dy: TypedArray, xs: TypedArray, gradX: TypedArray, start: number, end: number, a: number, m: number, r: number, c: number, d: number,
): void {
  for (let i = start; i < end; i++) gradX[i] = a * dy[i]! - (xs[i]! - m) * r * c - d;
}

/**
 * Data whose sum of squared deviations overflows float64 (|x - mean| beyond about 1e154) is
 * recomputed on x * OVERFLOW_SCALE: a power of two, so scaling is exact, and small enough that the
 * square of any float64 (at most 2^1024 * 2^-540 = 2^484) and sums of 2^50 of them fit. The slot's
 * variance is then v' / OVERFLOW_SCALE^2 (Infinity, honestly) and rstd = OVERFLOW_SCALE / sqrt(v' +
 * eps * OVERFLOW_SCALE^2), which is representable.
 */
export const OVERFLOW_SCALE = 2 ** -540;

/** sum(x * scale) over [start, end). */
export function scaledSum(xs: TypedArray, start: number, end: number, scale: number): number {
  let total = 0;
  for (let i = start; i < end; i++) total += xs[i]! * scale;
  return total;
}

/** sum((x * scale - m)^2) over [start, end). */
export function scaledSquaredDeviations(xs: TypedArray, start: number, end: number, scale: number, m: number): number {
  let total = 0;
  for (let i = start; i < end; i++) {
    const d = xs[i]! * scale - m;
    total += d * d;
  }
  return total;
}

/**
 * Mean, variance and rstd of the contiguous slot [start, end) on x * OVERFLOW_SCALE, for a slot whose
 * variance overflowed: out = [mean, variance, rstd] in the data's units.
 */
export function overflowedSlotStatistics(xs: TypedArray, start: number, end: number, center: boolean, eps: number, out: Float64Array): void {
  const n = end - start;
  const m = center ? scaledSum(xs, start, end, OVERFLOW_SCALE) / n : 0;
  const v = scaledSquaredDeviations(xs, start, end, OVERFLOW_SCALE, m) / n;
  out[0] = m / OVERFLOW_SCALE;
  out[1] = v / OVERFLOW_SCALE / OVERFLOW_SCALE;
  out[2] = scaledRstd(v, eps);
}

/** rstd of data whose variance on x * OVERFLOW_SCALE is `scaledVariance`. */
export function scaledRstd(scaledVariance: number, eps: number): number {
  return OVERFLOW_SCALE / Math.sqrt(scaledVariance + eps * OVERFLOW_SCALE * OVERFLOW_SCALE);
}
