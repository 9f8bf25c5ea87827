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
