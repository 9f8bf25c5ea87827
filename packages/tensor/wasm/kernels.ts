// The `wasm` backend's kernels, in AssemblyScript with SIMD128 (built by scripts/build-wasm.mjs into
// src/kernels/wasm/module-bytes.ts). Data is float32; every statistic and every gradient is computed in
// float64 (f64x2 lanes), the arithmetic of the `js` kernels in src/kernels/js/, so for those the two
// backends differ only by the order of float64 summation. One exception, measured and bounded: the
// row-wise and slot-wise forwards' affine, ((x - mHigh) - mLow) * r * w + b, runs in f32x4 lanes (the mean
// split into two floats) wherever nothing can overflow or lose its precision there (affineInFloat32): within 8
// float32 roundings of |xhat * w| + |b| of the float64 arithmetic (kernels.test.ts); the LayerNorm forward
// kernel 26% faster, GroupNorm's 15%.
//
// Memory: the caller (src/kernels/wasm/backend.ts) places operands after `heapBase()` and passes
// byte offsets. A null operand is offset 0; weights and biases are never null (the caller passes
// ones and zeros instead). Outputs are written in full: nothing relies on memory being zero.

export function heapBase(): usize {
  return __heap_base;
}

// ---------------------------------------------------------------------------------------------
// Lane helpers: four float32 lanes <-> two float64x2 halves.

@inline function at32(p: usize, i: i32): usize {
  return p + (<usize>i << 2);
}

@inline function at64(p: usize, i: i32): usize {
  return p + (<usize>i << 3);
}

@inline function low(v: v128): v128 {
  return f64x2.promote_low_f32x4(v);
}

@inline function high(v: v128): v128 {
  return f64x2.promote_low_f32x4(i32x4.shuffle(v, v, 2, 3, 2, 3));
}

/** Two float64x2 halves rounded to float32 (round to nearest, like a Float32Array store) as one f32x4. */
@inline function pack(lo: v128, hi: v128): v128 {
  return i32x4.shuffle(f32x4.demote_f64x2_zero(lo), f32x4.demote_f64x2_zero(hi), 0, 1, 4, 5);
}

@inline function lanesSum(v: v128): f64 {
  return f64x2.extract_lane(v, 0) + f64x2.extract_lane(v, 1);
}

@inline function read(p: usize, i: i32): f64 {
  return <f64>load<f32>(at32(p, i));
}

@inline function write(p: usize, i: i32, value: f64): void {
  store<f32>(at32(p, i), <f32>value);
}

// ---------------------------------------------------------------------------------------------
// Block loops shared by the three layouts (the wasm twin of src/kernels/js/loops.ts).

/** sum(x[start..end)) in float64. */
function blockSum(x: usize, start: i32, end: i32): f64 {
  let a0 = f64x2.splat(0);
  let a1 = a0;
  let a2 = a0;
  let a3 = a0;
  let i = start;
  for (; i + 8 <= end; i += 8) {
    const v0 = v128.load(at32(x, i));
    const v1 = v128.load(at32(x, i), 16);
    a0 = f64x2.add(a0, low(v0));
    a1 = f64x2.add(a1, high(v0));
    a2 = f64x2.add(a2, low(v1));
    a3 = f64x2.add(a3, high(v1));
  }
  let s = lanesSum(f64x2.add(f64x2.add(a0, a1), f64x2.add(a2, a3)));
  for (; i < end; i++) s += read(x, i);
  return s;
}

/** sum((x - m)^2) over [start, end) in float64 (the squares when m = 0). */
function blockSquaredDeviations(x: usize, start: i32, end: i32, m: f64): f64 {
  const mv = f64x2.splat(m);
  let a0 = f64x2.splat(0);
  let a1 = a0;
  let a2 = a0;
  let a3 = a0;
  let i = start;
  for (; i + 8 <= end; i += 8) {
    const v0 = v128.load(at32(x, i));
    const v1 = v128.load(at32(x, i), 16);
    const d0 = f64x2.sub(low(v0), mv);
    const d1 = f64x2.sub(high(v0), mv);
    const d2 = f64x2.sub(low(v1), mv);
    const d3 = f64x2.sub(high(v1), mv);
    a0 = f64x2.add(a0, f64x2.mul(d0, d0));
    a1 = f64x2.add(a1, f64x2.mul(d1, d1));
    a2 = f64x2.add(a2, f64x2.mul(d2, d2));
    a3 = f64x2.add(a3, f64x2.mul(d3, d3));
  }
  let s = lanesSum(f64x2.add(f64x2.add(a0, a1), f64x2.add(a2, a3)));
  for (; i < end; i++) {
    const d = read(x, i) - m;
    s += d * d;
  }
  return s;
}

/** out = x * scale + shift over [start, end), in float64 then rounded. */
function affineBlock(x: usize, out: usize, start: i32, end: i32, scale: f64, shift: f64): void {
  const sv = f64x2.splat(scale);
  const tv = f64x2.splat(shift);
  let i = start;
  for (; i + 4 <= end; i += 4) {
    const v = v128.load(at32(x, i));
    v128.store(at32(out, i), pack(f64x2.add(f64x2.mul(low(v), sv), tv), f64x2.add(f64x2.mul(high(v), sv), tv)));
  }
  for (; i < end; i++) write(out, i, read(x, i) * scale + shift);
}

/** out = max(x * scale + shift, t), ties and NaN keeping y, compared in float64 before rounding. */
function clipAffineBlock(x: usize, out: usize, start: i32, end: i32, scale: f64, shift: f64, t: f64): void {
  const sv = f64x2.splat(scale);
  const shv = f64x2.splat(shift);
  const tv = f64x2.splat(t);
  let i = start;
  for (; i + 4 <= end; i += 4) {
    const v = v128.load(at32(x, i));
    const y0 = f64x2.add(f64x2.mul(low(v), sv), shv);
    const y1 = f64x2.add(f64x2.mul(high(v), sv), shv);
    const c0 = v128.bitselect(tv, y0, f64x2.lt(y0, tv));
    const c1 = v128.bitselect(tv, y1, f64x2.lt(y1, tv));
    v128.store(at32(out, i), pack(c0, c1));
  }
  for (; i < end; i++) {
    const y = read(x, i) * scale + shift;
    write(out, i, y < t ? t : y);
  }
}

// Results of the two-sum block loops (module globals: no allocation, no multi-value returns).
let sumDy: f64 = 0;
let sumDyCentred: f64 = 0;
let sumBelow: f64 = 0;

/** sumDy = sum(dy), sumDyCentred = sum(dy * (x - m)) over [start, end). */
function blockSums(gy: usize, x: usize, start: i32, end: i32, m: f64): void {
  const mv = f64x2.splat(m);
  let s0 = f64x2.splat(0);
  let s1 = s0;
  let t0 = s0;
  let t1 = s0;
  let i = start;
  for (; i + 4 <= end; i += 4) {
    const g = v128.load(at32(gy, i));
    const v = v128.load(at32(x, i));
    const g0 = low(g);
    const g1 = high(g);
    s0 = f64x2.add(s0, g0);
    s1 = f64x2.add(s1, g1);
    t0 = f64x2.add(t0, f64x2.mul(g0, f64x2.sub(low(v), mv)));
    t1 = f64x2.add(t1, f64x2.mul(g1, f64x2.sub(high(v), mv)));
  }
  let s = lanesSum(f64x2.add(s0, s1));
  let t = lanesSum(f64x2.add(t0, t1));
  for (; i < end; i++) {
    const g = read(gy, i);
    s += g;
    t += g * (read(x, i) - m);
  }
  sumDy = s;
  sumDyCentred = t;
}

/**
 * The TLU split of one block: y = round32(x * scale + shift); dy = gy where y >= t (else 0, the gy
 * going to t). Writes dy into `target` (same index) and sets sumDy, sumDyCentred and sumBelow.
 */
function gateBlock(gy: usize, x: usize, target: usize, start: i32, end: i32, scale: f64, shift: f64, t: f64, m: f64): void {
  const sv = f64x2.splat(scale);
  const shv = f64x2.splat(shift);
  const tv = f64x2.splat(t);
  const mv = f64x2.splat(m);
  let s = f64x2.splat(0);
  let c = s;
  let below = s;
  let i = start;
  for (; i + 2 <= end; i += 2) {
    const v = f64x2.promote_low_f32x4(v128.load64_zero(at32(x, i)));
    const g = f64x2.promote_low_f32x4(v128.load64_zero(at32(gy, i)));
    const raw = f64x2.add(f64x2.mul(v, sv), shv);
    const y = f64x2.promote_low_f32x4(f32x4.demote_f64x2_zero(raw));
    const keep = f64x2.ge(y, tv);
    const dy = v128.and(g, keep);
    v128.store64_lane(at32(target, i), f32x4.demote_f64x2_zero(dy), 0);
    s = f64x2.add(s, dy);
    c = f64x2.add(c, f64x2.mul(dy, f64x2.sub(v, mv)));
    below = f64x2.add(below, v128.andnot(g, keep));
  }
  let ss = lanesSum(s);
  let cc = lanesSum(c);
  let bb = lanesSum(below);
  for (; i < end; i++) {
    const g = read(gy, i);
    const xi = read(x, i);
    const y = <f64>(<f32>(xi * scale + shift));
    const dy: f64 = y >= t ? g : 0;
    write(target, i, dy);
    ss += dy;
    cc += dy * (xi - m);
    bb += y >= t ? 0 : g;
  }
  sumDy = ss;
  sumDyCentred = cc;
  sumBelow = bb;
}

/** gradX = a * dy - c * x + e over [start, end); `dy` may be `gradX` itself. */
function gradXBlock(dy: usize, x: usize, gradX: usize, start: i32, end: i32, a: f64, c: f64, e: f64): void {
  const av = f64x2.splat(a);
  const cv = f64x2.splat(c);
  const ev = f64x2.splat(e);
  let i = start;
  for (; i + 4 <= end; i += 4) {
    const g = v128.load(at32(dy, i));
    const v = v128.load(at32(x, i));
    const r0 = f64x2.add(f64x2.sub(f64x2.mul(av, low(g)), f64x2.mul(cv, low(v))), ev);
    const r1 = f64x2.add(f64x2.sub(f64x2.mul(av, high(g)), f64x2.mul(cv, high(v))), ev);
    v128.store(at32(gradX, i), pack(r0, r1));
  }
  for (; i < end; i++) write(gradX, i, a * read(dy, i) - c * read(x, i) + e);
}

// ---------------------------------------------------------------------------------------------
// Row-wise layout (LayerNorm, RMSNorm): statistics per row, per-element affine, whole rows masked.

/**
 * Whether a row's or slot's affine may run in float32 lanes as ((x - mHigh) - mLow) * r * w + b, with nothing
 * overflowing where the float64 loop would not. Every deviation is at most sqrt(inner * variance), so
 * (x - m) * r <= sqrt(inner) whatever the data (r <= 1 / sqrt(variance)). r > 1e-30 keeps r a normal float32
 * and bounds the spread (variance < 1e60), so x - mHigh cannot overflow (a row of 3e38 and -3e38 values has r
 * about 4e-39); r < 1e30 keeps r finite (a constant row with eps near 0 has r huge, and 0 * Inf would be NaN
 * where float64 gives b); (max|w| + max|b|) * sqrt(inner) < 1e30 bounds the products and the sum (`weightBound`,
 * computed once per op by the caller; an infinite parameter fails it, a NaN one gives NaN on either path). Each of the float32 path's roundings then costs at
 * most half an ulp of a value no larger than |xhat * w| + |b|. Elsewhere the float64 loop runs.
 */
@inline function affineInFloat32(m: f64, r: f64, inner: i32, weightBound: f64): bool {
  return r > 1e-30 && r < 1e30 && weightBound * Math.sqrt(<f64>inner) < 1e30;
}

/**
 * out[i] = ((x[i] - mHigh) - mLow) * r * w + b over [start, end) in f32x4 lanes, the mean split in two floats
 * (mHigh + mLow = m to 2^-48), with w and b read per element at `param` + (i - start) (`perElement`), or the
 * one value at `param` for the whole range (see affineInFloat32 for where this may run).
 */
function centredAffineFloat32(x: usize, out: usize, start: i32, end: i32, m: f64, r: f64, w: usize, b: usize, param: i32, perElement: bool): void {
  const high = <f32>m;
  const lowPart = <f32>(m - <f64>high);
  const rs = <f32>r;
  const hv = f32x4.splat(high);
  const lv = f32x4.splat(lowPart);
  const rv = f32x4.splat(rs);
  let i = start;
  if (perElement) {
    for (; i + 4 <= end; i += 4) {
      const d = f32x4.sub(f32x4.sub(v128.load(at32(x, i)), hv), lv);
      const k = param + i - start;
      v128.store(at32(out, i), f32x4.add(f32x4.mul(f32x4.mul(d, rv), v128.load(at32(w, k))), v128.load(at32(b, k))));
    }
  } else {
    const wv = f32x4.splat(load<f32>(at32(w, param)));
    const bv = f32x4.splat(load<f32>(at32(b, param)));
    for (; i + 4 <= end; i += 4) {
      const d = f32x4.sub(f32x4.sub(v128.load(at32(x, i)), hv), lv);
      v128.store(at32(out, i), f32x4.add(f32x4.mul(f32x4.mul(d, rv), wv), bv));
    }
  }
  for (; i < end; i++) {
    const k = perElement ? param + i - start : param;
    const d = (load<f32>(at32(x, i)) - high) - lowPart;
    store<f32>(at32(out, i), d * rs * load<f32>(at32(w, k)) + load<f32>(at32(b, k)));
  }
}

export function rowwiseForward(
  x: usize, out: usize, w: usize, b: usize, rows: i32, inner: i32, center: i32, eps: f64, mask: usize,
  count: usize, mean: usize, variance: usize, rstd: usize, weightBound: f64,
): void {
  for (let row = 0; row < rows; row++) {
    const base = row * inner;
    const end = base + inner;
    if (mask != 0 && load<u8>(mask + <usize>row) == 0) {
      store<f64>(at64(count, row), 0);
      store<f64>(at64(mean, row), 0);
      store<f64>(at64(variance, row), 0);
      store<f64>(at64(rstd, row), 1 / Math.sqrt(eps));
      memory.fill(at32(out, base), 0, <usize>inner << 2);
      continue;
    }
    const m = center ? blockSum(x, base, end) / <f64>inner : 0;
    const v = blockSquaredDeviations(x, base, end, m) / <f64>inner;
    const r = 1 / Math.sqrt(v + eps);
    store<f64>(at64(count, row), <f64>inner);
    store<f64>(at64(mean, row), m);
    store<f64>(at64(variance, row), v);
    store<f64>(at64(rstd, row), r);
    if (affineInFloat32(m, r, inner, weightBound)) {
      centredAffineFloat32(x, out, base, end, m, r, w, b, 0, true);
      continue;
    }
    // ((x - m) * r) * w + b, the js kernel's order.
    const mv = f64x2.splat(m);
    const rv = f64x2.splat(r);
    let j = 0;
    for (; j + 4 <= inner; j += 4) {
      const xv = v128.load(at32(x, base + j));
      const wv = v128.load(at32(w, j));
      const bv = v128.load(at32(b, j));
      const y0 = f64x2.add(f64x2.mul(f64x2.mul(f64x2.sub(low(xv), mv), rv), low(wv)), low(bv));
      const y1 = f64x2.add(f64x2.mul(f64x2.mul(f64x2.sub(high(xv), mv), rv), high(wv)), high(bv));
      v128.store(at32(out, base + j), pack(y0, y1));
    }
    for (; j < inner; j++) write(out, base + j, (read(x, base + j) - m) * r * read(w, j) + read(b, j));
  }
}

/**
 * dx = r * dy * w - r * mean(dxhat) - (x - m) * r^3 * mean(dxhat * (x - m)) (the mean(dxhat) term
 * only with centring); dw += dy * (x - m) * r and db += dy (float64 accumulators the caller zeroes, so
 * a caller streaming chunks of rows through the module adds every chunk into the same sums, in row order).
 */
export function rowwiseBackward(
  gy: usize, x: usize, w: usize, rows: i32, inner: i32, center: i32, mask: usize, mean: usize, rstd: usize,
  gradX: usize, gradW: usize, gradB: usize,
): void {
  for (let row = 0; row < rows; row++) {
    const base = row * inner;
    if (mask != 0 && load<u8>(mask + <usize>row) == 0) {
      if (gradX != 0) memory.fill(at32(gradX, base), 0, <usize>inner << 2);
      continue;
    }
    const m = load<f64>(at64(mean, row));
    const r = load<f64>(at64(rstd, row));
    const mv = f64x2.splat(m);
    const rv = f64x2.splat(r);
    let s0 = f64x2.splat(0);
    let s1 = s0;
    let t0 = s0;
    let t1 = s0;
    let j = 0;
    for (; j + 4 <= inner; j += 4) {
      const g = v128.load(at32(gy, base + j));
      const v = v128.load(at32(x, base + j));
      const gm = v128.load(at32(w, j));
      const dy0 = low(g);
      const dy1 = high(g);
      const d0 = f64x2.sub(low(v), mv);
      const d1 = f64x2.sub(high(v), mv);
      const g0 = f64x2.mul(dy0, low(gm));
      const g1 = f64x2.mul(dy1, high(gm));
      s0 = f64x2.add(s0, g0);
      s1 = f64x2.add(s1, g1);
      t0 = f64x2.add(t0, f64x2.mul(g0, d0));
      t1 = f64x2.add(t1, f64x2.mul(g1, d1));
      if (gradW != 0) {
        const p = at64(gradW, j);
        v128.store(p, f64x2.add(v128.load(p), f64x2.mul(f64x2.mul(dy0, d0), rv)));
        v128.store(p, f64x2.add(v128.load(p, 16), f64x2.mul(f64x2.mul(dy1, d1), rv)), 16);
      }
      if (gradB != 0) {
        const p = at64(gradB, j);
        v128.store(p, f64x2.add(v128.load(p), dy0));
        v128.store(p, f64x2.add(v128.load(p, 16), dy1), 16);
      }
    }
    let s = lanesSum(f64x2.add(s0, s1));
    let t = lanesSum(f64x2.add(t0, t1));
    for (; j < inner; j++) {
      const dy = read(gy, base + j);
      const d = read(x, base + j) - m;
      const g = dy * read(w, j);
      s += g;
      t += g * d;
      if (gradW != 0) store<f64>(at64(gradW, j), load<f64>(at64(gradW, j)) + dy * d * r);
      if (gradB != 0) store<f64>(at64(gradB, j), load<f64>(at64(gradB, j)) + dy);
    }
    if (gradX == 0) continue;
    const offset = center ? (r * s) / <f64>inner : 0;
    const slope = (r * r * r * t) / <f64>inner;
    const ov = f64x2.splat(offset);
    const sv = f64x2.splat(slope);
    j = 0;
    for (; j + 4 <= inner; j += 4) {
      const g = v128.load(at32(gy, base + j));
      const v = v128.load(at32(x, base + j));
      const gm = v128.load(at32(w, j));
      const r0 = f64x2.sub(f64x2.sub(f64x2.mul(f64x2.mul(rv, low(g)), low(gm)), ov), f64x2.mul(f64x2.sub(low(v), mv), sv));
      const r1 = f64x2.sub(f64x2.sub(f64x2.mul(f64x2.mul(rv, high(g)), high(gm)), ov), f64x2.mul(f64x2.sub(high(v), mv), sv));
      v128.store(at32(gradX, base + j), pack(r0, r1));
    }
    for (; j < inner; j++) {
      write(gradX, base + j, r * read(gy, base + j) * read(w, j) - offset - (read(x, base + j) - m) * slope);
    }
  }
}

// Slot-wise layout with one parameter per value (block = 1: GroupNorm over [N, C] features, whose
// per-channel affine changes at every value): the affine and backward loops run in f64x2 lanes along
// the slot instead of calling a block loop per value. Each lane does the scalar arithmetic of a one-value
// block (whose sums start from 0, hence the `0 +` kept below), and the slot's sums over values still add
// in value order: the same bits as the per-block loops, which the threaded path keeps.

/** out = x * (r * w) + (b - m * (r * w)) per value of the slot starting at `base`, parameters from `paramBase`. */
function elementAffine(x: usize, out: usize, w: usize, b: usize, base: i32, inner: i32, paramBase: i32, r: f64, m: f64): void {
  const rv = f64x2.splat(r);
  const mv = f64x2.splat(m);
  let q = 0;
  for (; q + 4 <= inner; q += 4) {
    const wv = v128.load(at32(w, paramBase + q));
    const bv = v128.load(at32(b, paramBase + q));
    const xv = v128.load(at32(x, base + q));
    const scale0 = f64x2.mul(rv, low(wv));
    const scale1 = f64x2.mul(rv, high(wv));
    const shift0 = f64x2.sub(low(bv), f64x2.mul(mv, scale0));
    const shift1 = f64x2.sub(high(bv), f64x2.mul(mv, scale1));
    v128.store(at32(out, base + q), pack(f64x2.add(f64x2.mul(low(xv), scale0), shift0), f64x2.add(f64x2.mul(high(xv), scale1), shift1)));
  }
  for (; q < inner; q++) {
    const scale = r * read(w, paramBase + q);
    const shift = read(b, paramBase + q) - m * scale;
    write(out, base + q, read(x, base + q) * scale + shift);
  }
}

/**
 * Per value: dw += dy * (x - m) * r, db += dy (float64 accumulators); sets sumDy = sum(dy * w) and
 * sumDyCentred = sum(dy * (x - m) * w) over the slot, added in value order.
 */
function elementGradientSums(gy: usize, x: usize, w: usize, base: i32, inner: i32, paramBase: i32, r: f64, m: f64, gradW: usize, gradB: usize): void {
  const zero = f64x2.splat(0);
  const rv = f64x2.splat(r);
  const mv = f64x2.splat(m);
  let dxhat: f64 = 0;
  let dxhatCentred: f64 = 0;
  let q = 0;
  for (; q + 2 <= inner; q += 2) {
    const p = paramBase + q;
    const dy = f64x2.add(zero, f64x2.promote_low_f32x4(v128.load64_zero(at32(gy, base + q))));
    const v = f64x2.promote_low_f32x4(v128.load64_zero(at32(x, base + q)));
    const centred = f64x2.add(zero, f64x2.mul(dy, f64x2.sub(v, mv)));
    const gamma = f64x2.promote_low_f32x4(v128.load64_zero(at32(w, p)));
    if (gradW != 0) v128.store(at64(gradW, p), f64x2.add(v128.load(at64(gradW, p)), f64x2.mul(centred, rv)));
    if (gradB != 0) v128.store(at64(gradB, p), f64x2.add(v128.load(at64(gradB, p)), dy));
    const a = f64x2.mul(dy, gamma);
    const c = f64x2.mul(centred, gamma);
    dxhat += f64x2.extract_lane(a, 0);
    dxhat += f64x2.extract_lane(a, 1);
    dxhatCentred += f64x2.extract_lane(c, 0);
    dxhatCentred += f64x2.extract_lane(c, 1);
  }
  for (; q < inner; q++) {
    const p = paramBase + q;
    const dy = 0 + read(gy, base + q);
    const centred = 0 + dy * (read(x, base + q) - m);
    const gamma = read(w, p);
    if (gradW != 0) store<f64>(at64(gradW, p), load<f64>(at64(gradW, p)) + centred * r);
    if (gradB != 0) store<f64>(at64(gradB, p), load<f64>(at64(gradB, p)) + dy);
    dxhat += dy * gamma;
    dxhatCentred += centred * gamma;
  }
  sumDy = dxhat;
  sumDyCentred = dxhatCentred;
}

/** gradX = (r * w) * dy - c * x + e per value of the slot. */
function elementGradX(gy: usize, x: usize, gradX: usize, w: usize, base: i32, inner: i32, paramBase: i32, r: f64, c: f64, e: f64): void {
  const rv = f64x2.splat(r);
  const cv = f64x2.splat(c);
  const ev = f64x2.splat(e);
  let q = 0;
  for (; q + 4 <= inner; q += 4) {
    const wv = v128.load(at32(w, paramBase + q));
    const g = v128.load(at32(gy, base + q));
    const v = v128.load(at32(x, base + q));
    const r0 = f64x2.add(f64x2.sub(f64x2.mul(f64x2.mul(rv, low(wv)), low(g)), f64x2.mul(cv, low(v))), ev);
    const r1 = f64x2.add(f64x2.sub(f64x2.mul(f64x2.mul(rv, high(wv)), high(g)), f64x2.mul(cv, high(v))), ev);
    v128.store(at32(gradX, base + q), pack(r0, r1));
  }
  for (; q < inner; q++) write(gradX, base + q, r * read(w, paramBase + q) * read(gy, base + q) - c * read(x, base + q) + e);
}

// ---------------------------------------------------------------------------------------------
// Slot-wise layout (GroupNorm, InstanceNorm, FRN): statistics per (outer, group) slot of `inner`
// contiguous values, affine per block of `block` values, optional TLU threshold.

export function slotwiseForward(
  x: usize, out: usize, w: usize, b: usize, th: usize, slots: i32, groups: i32, inner: i32, block: i32, center: i32, eps: f64,
  mean: usize, variance: usize, rstd: usize, weightBound: f64,
): void {
  const blocks = inner / block;
  for (let s = 0; s < slots; s++) {
    const base = s * inner;
    const end = base + inner;
    const m = center ? blockSum(x, base, end) / <f64>inner : 0;
    const v = blockSquaredDeviations(x, base, end, m) / <f64>inner;
    const r = 1 / Math.sqrt(v + eps);
    store<f64>(at64(mean, s), m);
    store<f64>(at64(variance, s), v);
    store<f64>(at64(rstd, s), r);
    const paramBase = (s % groups) * blocks;
    if (block == 1 && th == 0) {
      elementAffine(x, out, w, b, base, inner, paramBase, r, m);
      continue;
    }
    if (th == 0 && block >= 4 && affineInFloat32(m, r, inner, weightBound)) {
      for (let q = 0; q < blocks; q++) {
        const start = base + q * block;
        centredAffineFloat32(x, out, start, start + block, m, r, w, b, paramBase + q, false);
      }
      continue;
    }
    for (let q = 0; q < blocks; q++) {
      const p = paramBase + q;
      const scale = r * read(w, p);
      const shift = read(b, p) - m * scale;
      const start = base + q * block;
      if (th != 0) clipAffineBlock(x, out, start, start + block, scale, shift, read(th, p));
      else affineBlock(x, out, start, start + block, scale, shift);
    }
  }
}

/**
 * Per slot: dw += sum(dy * xhat), db += sum(dy), dthreshold += sum of the gy below the threshold,
 * dxhatXhat[s] = sum(dxhat * xhat) (for a learnable eps), and when `wantGradX`,
 * dx = a * dy - c * (x - m) - d with a = r * w, c = r^2 * mean(dxhat * xhat), d = r * mean(dxhat).
 * With a threshold the gated dy is parked in gradX between the passes, so gradX is always given.
 */
export function slotwiseBackward(
  gy: usize, x: usize, w: usize, b: usize, th: usize, slots: i32, groups: i32, inner: i32, block: i32, center: i32,
  mean: usize, rstd: usize, gradX: usize, wantGradX: i32, gradW: usize, gradB: usize, gradTh: usize, dxhatXhat: usize, partials: usize,
): void {
  const blocks = inner / block;
  // With `partials` != 0, each (slot, block)'s three parameter terms go to partials + (s * blocks + q) * 3
  // instead of the accumulators (see the batch-wise loops), for a threaded caller to add in order. The
  // accumulators are the caller's to zero, so chunks of slots streamed through the module add up in order.
  for (let s = 0; s < slots; s++) {
    const base = s * inner;
    const m = load<f64>(at64(mean, s));
    const r = load<f64>(at64(rstd, s));
    const paramBase = (s % groups) * blocks;
    let sumDxhat: f64 = 0;
    let sumDxhatCentred: f64 = 0;
    if (block == 1 && th == 0 && partials == 0) {
      elementGradientSums(gy, x, w, base, inner, paramBase, r, m, gradW, gradB);
      sumDxhat = sumDy;
      sumDxhatCentred = sumDyCentred;
    } else for (let q = 0; q < blocks; q++) {
      const p = paramBase + q;
      const gamma = read(w, p);
      const start = base + q * block;
      if (th != 0) {
        const scale = r * gamma;
        const shift = read(b, p) - m * scale;
        gateBlock(gy, x, gradX, start, start + block, scale, shift, read(th, p), m);
        if (partials == 0) store<f64>(at64(gradTh, p), load<f64>(at64(gradTh, p)) + sumBelow);
      } else {
        blockSums(gy, x, start, start + block, m);
      }
      if (partials != 0) {
        const t = at64(partials, (s * blocks + q) * 3);
        store<f64>(t, sumDyCentred * r);
        store<f64>(t, sumDy, 8);
        store<f64>(t, th != 0 ? sumBelow : 0, 16);
      } else {
        if (gradW != 0) store<f64>(at64(gradW, p), load<f64>(at64(gradW, p)) + sumDyCentred * r);
        if (gradB != 0) store<f64>(at64(gradB, p), load<f64>(at64(gradB, p)) + sumDy);
      }
      sumDxhat += sumDy * gamma;
      sumDxhatCentred += sumDyCentred * gamma;
    }
    store<f64>(at64(dxhatXhat, s), sumDxhatCentred * r);
    if (!wantGradX) continue;
    const meanDxhat = center ? sumDxhat / <f64>inner : 0;
    const meanDxhatXhat = (sumDxhatCentred * r) / <f64>inner;
    const c = r * r * meanDxhatXhat;
    const d = r * meanDxhat;
    if (block == 1 && th == 0) {
      elementGradX(gy, x, gradX, w, base, inner, paramBase, r, c, c * m - d);
      continue;
    }
    for (let q = 0; q < blocks; q++) {
      const a = r * read(w, paramBase + q);
      const start = base + q * block;
      gradXBlock(th != 0 ? gradX : gy, x, gradX, start, start + block, a, c, c * m - d);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Batch layout (BatchNorm, GhostBatchNorm, SyncBatchNorm): statistics per (chunk of outer, group)
// slot across the chunk, affine per group. The statistics come in two phases so the caller can
// all-reduce between them, exactly as the js kernel does.

// Batch layout with inner = 1 (BatchNorm over [N, C] features, the MLPs' case): one value per (outer,
// group) run, so the loops run along a row of `groups` values in f64x2 lanes, two groups at a time,
// instead of calling a block loop per value. Each lane does exactly the scalar arithmetic of the
// general loops on a one-value run (their block loops start from 0, hence the `0 +` kept below), and
// the per-slot sums still add in order of `o`: the same bits as the general path.

/**
 * Per slot, over `o`: with `meanOrZero` = 0, sums = [count..., sum (center) or sum of squares...];
 * with a mean, target = sum((x - mean)^2) (batchSquares). `target` is zeroed by the caller.
 */
function columnSums(x: usize, outer: i32, groups: i32, chunk: i32, slots: i32, center: i32, meanOrZero: usize, target: usize): void {
  const zero = f64x2.splat(0);
  const one = f64x2.splat(1);
  const squares = meanOrZero != 0;
  const valueOffset = squares ? 0 : slots;
  for (let o = 0; o < outer; o++) {
    const slotBase = (o / chunk) * groups;
    const row = o * groups;
    let g = 0;
    for (; g + 2 <= groups; g += 2) {
      const v = f64x2.promote_low_f32x4(v128.load64_zero(at32(x, row + g)));
      const slot = slotBase + g;
      let term: v128;
      if (squares) {
        const d = f64x2.sub(v, v128.load(at64(meanOrZero, slot)));
        term = f64x2.add(zero, f64x2.mul(d, d));
      } else {
        term = center ? f64x2.add(zero, v) : f64x2.add(zero, f64x2.mul(v, v));
        const c = at64(target, slot);
        v128.store(c, f64x2.add(v128.load(c), one));
      }
      const t = at64(target, valueOffset + slot);
      v128.store(t, f64x2.add(v128.load(t), term));
    }
    for (; g < groups; g++) {
      const v = read(x, row + g);
      const slot = slotBase + g;
      let term: f64;
      if (squares) {
        const d = v - load<f64>(at64(meanOrZero, slot));
        term = 0 + d * d;
      } else {
        term = center ? 0 + v : 0 + v * v;
        store<f64>(at64(target, slot), load<f64>(at64(target, slot)) + 1);
      }
      store<f64>(at64(target, valueOffset + slot), load<f64>(at64(target, valueOffset + slot)) + term);
    }
  }
}

function columnForward(x: usize, out: usize, w: usize, b: usize, outer: i32, groups: i32, chunk: i32, mean: usize, rstd: usize): void {
  for (let o = 0; o < outer; o++) {
    const slotBase = (o / chunk) * groups;
    const row = o * groups;
    let g = 0;
    for (; g + 2 <= groups; g += 2) {
      const slot = slotBase + g;
      const scale = f64x2.mul(v128.load(at64(rstd, slot)), f64x2.promote_low_f32x4(v128.load64_zero(at32(w, g))));
      const shift = f64x2.sub(f64x2.promote_low_f32x4(v128.load64_zero(at32(b, g))), f64x2.mul(v128.load(at64(mean, slot)), scale));
      const v = f64x2.promote_low_f32x4(v128.load64_zero(at32(x, row + g)));
      v128.store64_lane(at32(out, row + g), f32x4.demote_f64x2_zero(f64x2.add(f64x2.mul(v, scale), shift)), 0);
    }
    for (; g < groups; g++) {
      const slot = slotBase + g;
      const scale = load<f64>(at64(rstd, slot)) * read(w, g);
      const shift = read(b, g) - load<f64>(at64(mean, slot)) * scale;
      write(out, row + g, read(x, row + g) * scale + shift);
    }
  }
}

function columnBackwardReductions(
  gy: usize, x: usize, w: usize, outer: i32, groups: i32, chunk: i32, slots: i32, mean: usize, rstd: usize,
  gradW: usize, gradB: usize, reductions: usize,
): void {
  const zero = f64x2.splat(0);
  for (let o = 0; o < outer; o++) {
    const slotBase = (o / chunk) * groups;
    const row = o * groups;
    let g = 0;
    for (; g + 2 <= groups; g += 2) {
      const slot = slotBase + g;
      const r = v128.load(at64(rstd, slot));
      const dy = f64x2.promote_low_f32x4(v128.load64_zero(at32(gy, row + g)));
      const v = f64x2.promote_low_f32x4(v128.load64_zero(at32(x, row + g)));
      const gamma = f64x2.promote_low_f32x4(v128.load64_zero(at32(w, g)));
      const sumDyLanes = f64x2.add(zero, dy);
      const centredLanes = f64x2.add(zero, f64x2.mul(dy, f64x2.sub(v, v128.load(at64(mean, slot)))));
      if (gradW != 0) {
        const p = at64(gradW, g);
        v128.store(p, f64x2.add(v128.load(p), f64x2.mul(centredLanes, r)));
      }
      if (gradB != 0) {
        const p = at64(gradB, g);
        v128.store(p, f64x2.add(v128.load(p), sumDyLanes));
      }
      const p0 = at64(reductions, slot);
      v128.store(p0, f64x2.add(v128.load(p0), f64x2.mul(sumDyLanes, gamma)));
      const p1 = at64(reductions, slots + slot);
      v128.store(p1, f64x2.add(v128.load(p1), f64x2.mul(f64x2.mul(centredLanes, gamma), r)));
    }
    for (; g < groups; g++) {
      const slot = slotBase + g;
      const r = load<f64>(at64(rstd, slot));
      const dy = read(gy, row + g);
      const sumDyValue = 0 + dy;
      const centred = 0 + dy * (read(x, row + g) - load<f64>(at64(mean, slot)));
      const gamma = read(w, g);
      if (gradW != 0) store<f64>(at64(gradW, g), load<f64>(at64(gradW, g)) + centred * r);
      if (gradB != 0) store<f64>(at64(gradB, g), load<f64>(at64(gradB, g)) + sumDyValue);
      store<f64>(at64(reductions, slot), load<f64>(at64(reductions, slot)) + sumDyValue * gamma);
      store<f64>(at64(reductions, slots + slot), load<f64>(at64(reductions, slots + slot)) + centred * gamma * r);
    }
  }
}

// The batch-wise input gradient's coefficients for one slot, dx = gradA * dy - gradC * x + gradE: gradA =
// r * w, gradC = r^2 * mean(dxhat * xhat), gradE = gradC * m - r * mean(dxhat) (the mean term only with
// centring; both means 0 with fixed statistics). Module globals: no allocation, no multi-value returns.
let gradA: f64 = 0;
let gradC: f64 = 0;
let gradE: f64 = 0;

@inline function inputGradientCoefficients(
  slot: i32, g: i32, w: usize, slots: i32, center: i32, fixed: i32, count: usize, mean: usize, rstd: usize, reductions: usize,
): void {
  const r = load<f64>(at64(rstd, slot));
  const m = load<f64>(at64(mean, slot));
  let c: f64 = 0;
  let d: f64 = 0;
  if (!fixed) {
    const n = load<f64>(at64(count, slot));
    d = center ? (r * load<f64>(at64(reductions, slot))) / n : 0;
    c = (r * r * load<f64>(at64(reductions, slots + slot))) / n;
  }
  gradA = r * read(w, g);
  gradC = c;
  gradE = c * m - d;
}

function columnBackwardInput(
  gy: usize, x: usize, gradX: usize, w: usize, outer: i32, groups: i32, chunk: i32, slots: i32, center: i32, fixed: i32,
  count: usize, mean: usize, rstd: usize, reductions: usize,
): void {
  const zero = f64x2.splat(0);
  for (let o = 0; o < outer; o++) {
    const slotBase = (o / chunk) * groups;
    const row = o * groups;
    let g = 0;
    for (; g + 2 <= groups; g += 2) {
      const slot = slotBase + g;
      const r = v128.load(at64(rstd, slot));
      const m = v128.load(at64(mean, slot));
      let c = zero;
      let d = zero;
      if (!fixed) {
        const n = v128.load(at64(count, slot));
        if (center) d = f64x2.div(f64x2.mul(r, v128.load(at64(reductions, slot))), n);
        c = f64x2.div(f64x2.mul(f64x2.mul(r, r), v128.load(at64(reductions, slots + slot))), n);
      }
      const a = f64x2.mul(r, f64x2.promote_low_f32x4(v128.load64_zero(at32(w, g))));
      const e = f64x2.sub(f64x2.mul(c, m), d);
      const dy = f64x2.promote_low_f32x4(v128.load64_zero(at32(gy, row + g)));
      const v = f64x2.promote_low_f32x4(v128.load64_zero(at32(x, row + g)));
      const result = f64x2.add(f64x2.sub(f64x2.mul(a, dy), f64x2.mul(c, v)), e);
      v128.store64_lane(at32(gradX, row + g), f32x4.demote_f64x2_zero(result), 0);
    }
    for (; g < groups; g++) {
      inputGradientCoefficients(slotBase + g, g, w, slots, center, fixed, count, mean, rstd, reductions);
      write(gradX, row + g, gradA * read(gy, row + g) - gradC * read(x, row + g) + gradE);
    }
  }
}

/** sums = [count..., sum (or sum of squares without centring)...] per slot. */
// The batch-wise loops below sum over `outer` into per-slot (or per-group) accumulators. With
// `partials` != 0 they instead write each (outer, group) run's terms at partials + ((o * groups + g) *
// terms) (float64), for a threaded caller that splits `outer` over tasks and then adds the terms in
// order of `o` itself: the same additions in the same order as the accumulating loop, so the same bits.

export function batchSums(
  x: usize, outer: i32, groups: i32, inner: i32, chunk: i32, slots: i32, center: i32, sums: usize, partials: usize,
): void {
  if (partials == 0) memory.fill(sums, 0, <usize>(2 * slots) << 3);
  if (inner == 1 && partials == 0) {
    columnSums(x, outer, groups, chunk, slots, center, 0, sums);
    return;
  }
  for (let o = 0; o < outer; o++) {
    const slotBase = (o / chunk) * groups;
    for (let g = 0; g < groups; g++) {
      const base = (o * groups + g) * inner;
      const slot = slotBase + g;
      const total = center ? blockSum(x, base, base + inner) : blockSquaredDeviations(x, base, base + inner, 0);
      if (partials != 0) {
        store<f64>(at64(partials, o * groups + g), total);
        continue;
      }
      store<f64>(at64(sums, slot), load<f64>(at64(sums, slot)) + <f64>inner);
      store<f64>(at64(sums, slots + slot), load<f64>(at64(sums, slots + slot)) + total);
    }
  }
}

/** squares[slot] = sum((x - mean[slot])^2) over the slot. */
export function batchSquares(
  x: usize, outer: i32, groups: i32, inner: i32, chunk: i32, slots: i32, mean: usize, squares: usize, partials: usize,
): void {
  if (partials == 0) memory.fill(squares, 0, <usize>slots << 3);
  if (inner == 1 && partials == 0) {
    columnSums(x, outer, groups, chunk, slots, 0, mean, squares);
    return;
  }
  for (let o = 0; o < outer; o++) {
    const slotBase = (o / chunk) * groups;
    for (let g = 0; g < groups; g++) {
      const base = (o * groups + g) * inner;
      const slot = slotBase + g;
      const total = blockSquaredDeviations(x, base, base + inner, load<f64>(at64(mean, slot)));
      if (partials != 0) store<f64>(at64(partials, o * groups + g), total);
      else store<f64>(at64(squares, slot), load<f64>(at64(squares, slot)) + total);
    }
  }
}

export function batchForward(x: usize, out: usize, w: usize, b: usize, outer: i32, groups: i32, inner: i32, chunk: i32, mean: usize, rstd: usize): void {
  if (inner == 1) {
    columnForward(x, out, w, b, outer, groups, chunk, mean, rstd);
    return;
  }
  for (let o = 0; o < outer; o++) {
    const slotBase = (o / chunk) * groups;
    for (let g = 0; g < groups; g++) {
      const slot = slotBase + g;
      const scale = load<f64>(at64(rstd, slot)) * read(w, g);
      const shift = read(b, g) - load<f64>(at64(mean, slot)) * scale;
      const base = (o * groups + g) * inner;
      affineBlock(x, out, base, base + inner, scale, shift);
    }
  }
}

/** dw += sum(dy * xhat), db += sum(dy) per group; reductions = [sum(dxhat)..., sum(dxhat * xhat)...] per slot. */
export function batchBackwardReductions(
  gy: usize, x: usize, w: usize, outer: i32, groups: i32, inner: i32, chunk: i32, slots: i32, mean: usize, rstd: usize,
  gradW: usize, gradB: usize, reductions: usize, partials: usize,
): void {
  if (partials == 0) {
    if (gradW != 0) memory.fill(gradW, 0, <usize>groups << 3);
    if (gradB != 0) memory.fill(gradB, 0, <usize>groups << 3);
    memory.fill(reductions, 0, <usize>(2 * slots) << 3);
    if (inner == 1) {
      columnBackwardReductions(gy, x, w, outer, groups, chunk, slots, mean, rstd, gradW, gradB, reductions);
      return;
    }
  }
  for (let o = 0; o < outer; o++) {
    const slotBase = (o / chunk) * groups;
    for (let g = 0; g < groups; g++) {
      const slot = slotBase + g;
      const r = load<f64>(at64(rstd, slot));
      const base = (o * groups + g) * inner;
      blockSums(gy, x, base, base + inner, load<f64>(at64(mean, slot)));
      const gamma = read(w, g);
      if (partials != 0) {
        const p = at64(partials, (o * groups + g) * 4);
        store<f64>(p, sumDyCentred * r);
        store<f64>(p, sumDy, 8);
        store<f64>(p, sumDy * gamma, 16);
        store<f64>(p, sumDyCentred * gamma * r, 24);
        continue;
      }
      if (gradW != 0) store<f64>(at64(gradW, g), load<f64>(at64(gradW, g)) + sumDyCentred * r);
      if (gradB != 0) store<f64>(at64(gradB, g), load<f64>(at64(gradB, g)) + sumDy);
      store<f64>(at64(reductions, slot), load<f64>(at64(reductions, slot)) + sumDy * gamma);
      store<f64>(at64(reductions, slots + slot), load<f64>(at64(reductions, slots + slot)) + sumDyCentred * gamma * r);
    }
  }
}

/** dx = a * dy - c * x + (c * m - d) per (outer, group) run; with fixed statistics c = d = 0. */
export function batchBackwardInput(
  gy: usize, x: usize, gradX: usize, w: usize, outer: i32, groups: i32, inner: i32, chunk: i32, slots: i32, center: i32, fixed: i32,
  count: usize, mean: usize, rstd: usize, reductions: usize,
): void {
  if (inner == 1) {
    columnBackwardInput(gy, x, gradX, w, outer, groups, chunk, slots, center, fixed, count, mean, rstd, reductions);
    return;
  }
  for (let o = 0; o < outer; o++) {
    const slotBase = (o / chunk) * groups;
    for (let g = 0; g < groups; g++) {
      inputGradientCoefficients(slotBase + g, g, w, slots, center, fixed, count, mean, rstd, reductions);
      const base = (o * groups + g) * inner;
      gradXBlock(gy, x, gradX, base, base + inner, gradA, gradC, gradE);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// GEMM: C[m, n] += op(A)[m, k] @ op(B)[k, n], float32 with float32 accumulation in f32x4 lanes (like
// every sgemm: BLAS, oneDNN, XNNPACK, tfjs), so the wasm backend agrees with the float64-accumulating
// `js` reference within the dot-product error bound k * 2^-24 * sum |a| |b|, not to the last ulp.
// Goto-style blocking: B is packed per (k-block, n-block) into 8-column panels, A per (m-block,
// k-block) into 4-row panels, and a 4x8 register tile (eight f32x4 accumulators) runs over them.
// Transposes are absorbed by the packing (strides), so op(A) and op(B) are never materialised.

const KC: i32 = 256;
const MC: i32 = 64;
const NC: i32 = 512;

/** Packs op(B)[p0 .. p0+kc, j0 .. j0+nc] into 8-wide panels: panel q holds kc rows of 8 floats (zero padded). */
function packB(b: usize, bRow: i32, bCol: i32, p0: i32, kc: i32, j0: i32, nc: i32, out: usize): void {
  const panels = (nc + 7) >> 3;
  for (let q = 0; q < panels; q++) {
    const jBase = j0 + (q << 3);
    const width = min(8, j0 + nc - jBase);
    const panel = out + (<usize>(q * kc * 8) << 2);
    for (let p = 0; p < kc; p++) {
      const row = panel + (<usize>(p * 8) << 2);
      const src = b + (<usize>((p0 + p) * bRow + jBase * bCol) << 2);
      if (width == 8 && bCol == 1) {
        v128.store(row, v128.load(src));
        v128.store(row, v128.load(src, 16), 16);
      } else if (width == 8 && bRow == 1 && p + 4 <= kc) {
        // op(B) = a row-major matrix read transposed (Linear's weight): each of the 8 columns is
        // contiguous along p, so 4 steps of p come from 8 vector loads and two 4x4 transposes.
        const columnBytes = <usize>bCol << 2;
        transposeStore(src, columnBytes, row, 32);
        transposeStore(src + columnBytes * 4, columnBytes, row + 16, 32);
        p += 3;
      } else {
        for (let t = 0; t < 8; t++) store<f32>(row + (<usize>t << 2), t < width ? load<f32>(src + (<usize>(t * bCol) << 2)) : 0);
      }
    }
  }
}

/**
 * Reads 4 floats at each of `src`, `src + srcStride`, `src + 2 srcStride`, `src + 3 srcStride` (four
 * rows) and stores their transpose: column i of the four rows as 4 floats at `out + i * outStride`.
 * Data movement only: packing with it changes no bit of a product.
 */
@inline function transposeStore(src: usize, srcStride: usize, out: usize, outStride: usize): void {
  transposeRows(src, src + srcStride, src + srcStride * 2, src + srcStride * 3, out, outStride);
}

/** Packs op(A)[i0 .. i0+mc, p0 .. p0+kc] into 4-high panels: panel r holds kc columns of 4 floats (zero padded). */
function packA(a: usize, aRow: i32, aCol: i32, i0: i32, mc: i32, p0: i32, kc: i32, out: usize): void {
  const panels = (mc + 3) >> 2;
  for (let r = 0; r < panels; r++) {
    const iBase = i0 + (r << 2);
    const height = min(4, i0 + mc - iBase);
    const panel = out + (<usize>(r * kc * 4) << 2);
    for (let p = 0; p < kc; p++) {
      const col = panel + (<usize>(p * 4) << 2);
      const src = a + (<usize>(iBase * aRow + (p0 + p) * aCol) << 2);
      if (height == 4 && aRow == 1) {
        v128.store(col, v128.load(src));
      } else if (height == 4 && aCol == 1 && p + 4 <= kc) {
        // op(A) row-major (x in x @ W^T): each of the 4 rows is contiguous along p, so 4 steps of p
        // are one 4x4 transpose.
        transposeStore(src, <usize>aRow << 2, col, 16);
        p += 3;
      } else {
        for (let t = 0; t < 4; t++) store<f32>(col + (<usize>t << 2), t < height ? load<f32>(src + (<usize>(t * aRow) << 2)) : 0);
      }
    }
  }
}

/** The scratch tile an edge micro-kernel writes before its valid part is added into C. */
let edgeTile: usize = 0;

/**
 * C[i .. i+rows, j .. j+cols] += packed A panel (4 x kc) @ packed B panel (kc x 8); with `overwrite` the
 * tile is set to +0 + the product instead (the bits C would get from a block of +0: a -0 sum becomes +0)
 * and C is not read.
 */
function microKernel(pa: usize, pb: usize, kc: i32, c: usize, ldc: i32, rows: i32, cols: i32, overwrite: bool): void {
  microKernelOf<PackedRows>(pa, pb, 0, kc, c, ldc, rows, cols, overwrite);
}

/** Where the micro-kernel finds op(B)'s row p: a packed panel (8 floats per row) or base + offsets[p] (`convIndirect`). */
type PackedRows = u8;
type OffsetRows = u16;

/**
 * The 4x8 micro-kernel (eight f32x4 accumulators), op(B)'s row p of 8 floats read from b + 32 p (Rows =
 * PackedRows) or from b + offsets[p] bytes (Rows = OffsetRows); the choice is made at compile time.
 */
@inline function microKernelOf<Rows>(pa: usize, b: usize, offsets: usize, kc: i32, c: usize, ldc: i32, rows: i32, cols: i32, overwrite: bool): void {
  let c00 = f32x4.splat(0);
  let c01 = c00;
  let c10 = c00;
  let c11 = c00;
  let c20 = c00;
  let c21 = c00;
  let c30 = c00;
  let c31 = c00;
  for (let p = 0; p < kc; p++) {
    const bp = sizeof<Rows>() == sizeof<OffsetRows>() ? b + <usize>load<i32>(offsets + (<usize>p << 2)) : b + (<usize>(p * 8) << 2);
    const ap = pa + (<usize>(p * 4) << 2);
    const b0 = v128.load(bp);
    const b1 = v128.load(bp, 16);
    const a0 = v128.load32_splat(ap);
    const a1 = v128.load32_splat(ap, 4);
    const a2 = v128.load32_splat(ap, 8);
    const a3 = v128.load32_splat(ap, 12);
    c00 = f32x4.add(c00, f32x4.mul(a0, b0));
    c01 = f32x4.add(c01, f32x4.mul(a0, b1));
    c10 = f32x4.add(c10, f32x4.mul(a1, b0));
    c11 = f32x4.add(c11, f32x4.mul(a1, b1));
    c20 = f32x4.add(c20, f32x4.mul(a2, b0));
    c21 = f32x4.add(c21, f32x4.mul(a2, b1));
    c30 = f32x4.add(c30, f32x4.mul(a3, b0));
    c31 = f32x4.add(c31, f32x4.mul(a3, b1));
  }
  storeTile(c, ldc, rows, cols, overwrite, c00, c01, c10, c11, c20, c21, c30, c31);
}

/**
 * Adds a 4x8 tile of accumulators (rows of two f32x4) into C[0 .. rows, 0 .. cols] (row stride ldc); with
 * `overwrite`, sets it to +0 + the tile instead (the bits C would get from a block of +0) without reading C.
 */
@inline function storeTile(
  c: usize, ldc: i32, rows: i32, cols: i32, overwrite: bool, c00: v128, c01: v128, c10: v128, c11: v128, c20: v128, c21: v128, c30: v128, c31: v128,
): void {
  const rowBytes = <usize>ldc << 2;
  if (rows == 4 && cols == 8) {
    let r = c;
    if (overwrite) {
      const zero = f32x4.splat(0);
      v128.store(r, f32x4.add(zero, c00));
      v128.store(r, f32x4.add(zero, c01), 16);
      r += rowBytes;
      v128.store(r, f32x4.add(zero, c10));
      v128.store(r, f32x4.add(zero, c11), 16);
      r += rowBytes;
      v128.store(r, f32x4.add(zero, c20));
      v128.store(r, f32x4.add(zero, c21), 16);
      r += rowBytes;
      v128.store(r, f32x4.add(zero, c30));
      v128.store(r, f32x4.add(zero, c31), 16);
      return;
    }
    v128.store(r, f32x4.add(v128.load(r), c00));
    v128.store(r, f32x4.add(v128.load(r, 16), c01), 16);
    r += rowBytes;
    v128.store(r, f32x4.add(v128.load(r), c10));
    v128.store(r, f32x4.add(v128.load(r, 16), c11), 16);
    r += rowBytes;
    v128.store(r, f32x4.add(v128.load(r), c20));
    v128.store(r, f32x4.add(v128.load(r, 16), c21), 16);
    r += rowBytes;
    v128.store(r, f32x4.add(v128.load(r), c30));
    v128.store(r, f32x4.add(v128.load(r, 16), c31), 16);
    return;
  }
  const t = edgeTile;
  v128.store(t, c00);
  v128.store(t, c01, 16);
  v128.store(t, c10, 32);
  v128.store(t, c11, 48);
  v128.store(t, c20, 64);
  v128.store(t, c21, 80);
  v128.store(t, c30, 96);
  v128.store(t, c31, 112);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const target = c + <usize>i * rowBytes + (<usize>j << 2);
      store<f32>(target, (overwrite ? <f32>0 : load<f32>(target)) + load<f32>(t + (<usize>(i * 8 + j) << 2)));
    }
  }
}

/**
 * C[i, j] (row stride ldc) += sum_p op(A)[i, p] * op(B)[p, j], with op(A)[i, p] at a + (i * aRow + p * aCol)
 * and op(B)[p, j] at b + (p * bRow + j * bCol) (in floats), so transposes and sub-blocks of larger
 * matrices are absorbed by the strides and never materialised. `work` is scratch for the packed
 * panels: MC * KC + KC * (NC + 8) floats plus 32 for the edge tile, 16-byte aligned.
 *
 * Every C element is summed in the same order whatever part of C a call covers (k blocks of KC from
 * p = 0, sequential inside a block), so splitting C by rows or columns over threads changes no bit.
 * `overwrite` (nonzero): C is not read; the first k block sets it to +0 + its sum, the bits a C of +0
 * would get (and m x n with k = 0 is left as it is: the caller zeroes it).
 */
export function gemm(
  a: usize, aRow: i32, aCol: i32, b: usize, bRow: i32, bCol: i32, c: usize, ldc: i32, m: i32, k: i32, n: i32, work: usize, overwrite: i32,
): void {
  gemmBlocks(a, aRow, aCol, b, bRow, bCol, c, ldc, m, k, n, work, overwrite, false);
}

/**
 * `gemm`'s blocking; with `imageB`, op(B)[p, j] is read from a padded image by `packBFromImage` (b is the
 * image, the strides unused) instead of from a matrix: the same panels, so the same bits.
 */
function gemmBlocks(
  a: usize, aRow: i32, aCol: i32, b: usize, bRow: i32, bCol: i32, c: usize, ldc: i32, m: i32, k: i32, n: i32, work: usize, overwrite: i32, imageB: bool,
): void {
  const packedA = work;
  const packedB = work + (<usize>(MC * KC) << 2);
  edgeTile = packedB + (<usize>(KC * (NC + 8)) << 2);
  for (let j0 = 0; j0 < n; j0 += NC) {
    const nc = min(NC, n - j0);
    for (let p0 = 0; p0 < k; p0 += KC) {
      const kc = min(KC, k - p0);
      if (imageB) packBFromImage(b, p0, kc, j0, nc, packedB);
      else packB(b, bRow, bCol, p0, kc, j0, nc, packedB);
      for (let i0 = 0; i0 < m; i0 += MC) {
        const mc = min(MC, m - i0);
        packA(a, aRow, aCol, i0, mc, p0, kc, packedA);
        for (let jj = 0; jj < nc; jj += 8) {
          const pb = packedB + (<usize>((jj >> 3) * kc * 8) << 2);
          const cols = min(8, nc - jj);
          for (let ii = 0; ii < mc; ii += 4) {
            const pa = packedA + (<usize>((ii >> 2) * kc * 4) << 2);
            const rows = min(4, mc - ii);
            microKernel(pa, pb, kc, c + (<usize>((i0 + ii) * ldc + j0 + jj) << 2), ldc, rows, cols, overwrite != 0 && p0 == 0);
          }
        }
      }
    }
  }
}

/** Floats of scratch `gemm` needs. */
export function gemmWorkFloats(): i32 {
  return MC * KC + KC * (NC + 8) + 32;
}

// ---------------------------------------------------------------------------------------------
// Convolution helpers: im2col / col2im exactly as src/kernels/js/conv.ts lays them out, so a whole
// conv2d forward or backward runs inside the module (one copy in, one copy out) on `gemm`.

/** First and one-past-last grid column `ow` with 0 <= ow * stride + shift < size. */
@inline function validStart(shift: i32, stride: i32, grid: i32): i32 {
  if (shift >= 0) return 0;
  return min(grid, (-shift + stride - 1) / stride);
}

@inline function validEnd(start: i32, shift: i32, stride: i32, size: i32, grid: i32): i32 {
  const last = size - 1 - shift;
  if (last < 0) return start;
  return max(start, min(grid, last / stride + 1));
}

/**
 * col[(c * kH + i) * kW + j, oh * gridW + ow] = image[c, oh * sH - pH + i * dH, ow * sW - pW + j * dW]
 * (0 outside the image), for `channels` planes starting at `src`.
 */
export function im2col(
  src: usize, channels: i32, imageH: i32, imageW: i32, kernelH: i32, kernelW: i32, strideH: i32, strideW: i32, padH: i32, padW: i32,
  dilationH: i32, dilationW: i32, gridH: i32, gridW: i32, col: usize,
): void {
  let colIndex = 0;
  for (let c = 0; c < channels; c++) {
    const plane = c * imageH * imageW;
    for (let i = 0; i < kernelH; i++) {
      const rowShift = i * dilationH - padH;
      for (let j = 0; j < kernelW; j++) {
        const colShift = j * dilationW - padW;
        const owStart = validStart(colShift, strideW, gridW);
        const owEnd = validEnd(owStart, colShift, strideW, imageW, gridW);
        for (let oh = 0; oh < gridH; oh++) {
          const ih = oh * strideH + rowShift;
          const rowOut = at32(col, colIndex);
          if (ih < 0 || ih >= imageH) {
            memory.fill(rowOut, 0, <usize>gridW << 2);
          } else {
            if (owStart > 0) memory.fill(rowOut, 0, <usize>owStart << 2);
            const rowBase = plane + ih * imageW + colShift;
            if (strideW == 1) {
              memory.copy(at32(rowOut, owStart), at32(src, rowBase + owStart), <usize>(owEnd - owStart) << 2);
            } else {
              for (let ow = owStart; ow < owEnd; ow++) store<f32>(at32(rowOut, ow), load<f32>(at32(src, rowBase + ow * strideW)));
            }
            if (owEnd < gridW) memory.fill(at32(rowOut, owEnd), 0, <usize>(gridW - owEnd) << 2);
          }
          colIndex += gridW;
        }
      }
    }
  }
}

/** The adjoint of `im2col`: adds every column entry into the image position it was read from (dst +=). */
export function col2im(
  col: usize, channels: i32, imageH: i32, imageW: i32, kernelH: i32, kernelW: i32, strideH: i32, strideW: i32, padH: i32, padW: i32,
  dilationH: i32, dilationW: i32, gridH: i32, gridW: i32, dst: usize,
): void {
  let colIndex = 0;
  for (let c = 0; c < channels; c++) {
    const plane = c * imageH * imageW;
    for (let i = 0; i < kernelH; i++) {
      const rowShift = i * dilationH - padH;
      for (let j = 0; j < kernelW; j++) {
        const colShift = j * dilationW - padW;
        const owStart = validStart(colShift, strideW, gridW);
        const owEnd = validEnd(owStart, colShift, strideW, imageW, gridW);
        for (let oh = 0; oh < gridH; oh++) {
          const ih = oh * strideH + rowShift;
          if (ih >= 0 && ih < imageH) {
            const rowBase = plane + ih * imageW + colShift;
            let ow = owStart;
            if (strideW == 1) {
              for (; ow + 4 <= owEnd; ow += 4) {
                const target = at32(dst, rowBase + ow);
                v128.store(target, f32x4.add(v128.load(target), v128.load(at32(col, colIndex + ow))));
              }
            }
            for (; ow < owEnd; ow++) {
              const target = at32(dst, rowBase + ow * strideW);
              store<f32>(target, load<f32>(target) + load<f32>(at32(col, colIndex + ow)));
            }
          }
          colIndex += gridW;
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Indirect convolution (stride 1 along rows of the image): the GEMM of `gemm` with op(B) = the unfolded
// input read straight from a zero-padded copy of the image instead of an im2col matrix and its packed
// panels. Output columns come in strips of 8 along an output row; for a strip, op(B)'s row p (channel c,
// tap i, j) is 8 contiguous floats of the padded image at the strip's base + offsets[p]. A is packed once
// per call (`packRows`), k is summed in the same KC blocks and order as `gemm`, so every output gets the
// bits `gemm` gives it on the im2col matrix.

/** A row-major [rows x k] matrix as 4-row panels over all of k (panel r: k columns of 4 floats, zero padded). */
export function packRows(a: usize, rows: i32, k: i32, out: usize): void {
  packA(a, k, 1, 0, rows, 0, k, out);
}

/** `planes` planes of h x w as planes of (h + 2 padH) x (w + 2 padW) with zeros around them. */
export function padPlanes(src: usize, planes: i32, h: i32, w: i32, padH: i32, padW: i32, dst: usize): void {
  const outW = w + 2 * padW;
  const outH = h + 2 * padH;
  const rowBytes = <usize>outW << 2;
  let out = dst;
  for (let q = 0; q < planes; q++) {
    const plane = src + (<usize>(q * h * w) << 2);
    memory.fill(out, 0, rowBytes * <usize>padH);
    out += rowBytes * <usize>padH;
    for (let y = 0; y < h; y++) {
      memory.fill(out, 0, <usize>padW << 2);
      memory.copy(out + (<usize>padW << 2), plane + (<usize>(y * w) << 2), <usize>w << 2);
      memory.fill(out + (<usize>(padW + w) << 2), 0, <usize>padW << 2);
      out += rowBytes;
    }
    memory.fill(out, 0, rowBytes * <usize>(outH - padH - h));
    out += rowBytes * <usize>(outH - padH - h);
  }
}

/** The micro-kernel of `gemm` with op(B)'s row p read at base + offsets[p] (bytes) instead of from a packed panel. */
function microKernelIndirect(pa: usize, base: usize, offsets: usize, kc: i32, c: usize, ldc: i32, rows: i32, cols: i32, overwrite: bool): void {
  microKernelOf<OffsetRows>(pa, base, offsets, kc, c, ldc, rows, cols, overwrite);
}

/**
 * C[i, oh * gridW + ow] (row stride ldc) += sum_p A[i, p] * image[base(oh, ow) + offsets[p]], for i < m, p < k:
 * `panels` is A packed by `packRows`; output (oh, ow) reads the padded image from
 * image + oh * rowStepBytes + ow * 4 (stride 1 along a row). A strip's last lanes past gridW read up to 7
 * floats beyond the row (the caller leaves 8 floats of slack after the image) and are never stored. `work`:
 * 32 floats of scratch for the edge tile. `overwrite` as in `gemm`.
 */
export function convIndirect(
  panels: usize, m: i32, k: i32, image: usize, offsets: usize, rowStepBytes: i32, gridH: i32, gridW: i32, c: usize, ldc: i32, work: usize,
  overwrite: i32,
): void {
  edgeTile = work;
  for (let p0 = 0; p0 < k; p0 += KC) {
    const kc = min(KC, k - p0);
    const blockOffsets = offsets + (<usize>p0 << 2);
    for (let oh = 0; oh < gridH; oh++) {
      const rowBase = image + <usize>oh * <usize>rowStepBytes;
      for (let ow = 0; ow < gridW; ow += 8) {
        const cols = min(8, gridW - ow);
        const base = rowBase + (<usize>ow << 2);
        const tile = c + (<usize>(oh * gridW + ow) << 2);
        for (let ii = 0; ii < m; ii += 4) {
          const pa = panels + (<usize>((ii >> 2) * k * 4 + p0 * 4) << 2);
          microKernelIndirect(pa, base, blockOffsets, kc, tile + (<usize>(ii * ldc) << 2), ldc, min(4, m - ii), cols, overwrite != 0 && p0 == 0);
        }
      }
    }
  }
}

/** The geometry `packBFromImage` reads for the current `gemmImageB` call (set per call: each thread has its own). */
let imageOffsets: usize = 0;
let imageGridW: i32 = 0;
let imageRowStepBytes: usize = 0;

/**
 * Reads 4 floats at each of s0 .. s3 (four rows) and stores their transpose: column i as 4 floats at
 * out + i * outStride. `transposeStore` with rows at any addresses.
 */
@inline function transposeRows(s0: usize, s1: usize, s2: usize, s3: usize, out: usize, outStride: usize): void {
  const v0 = v128.load(s0);
  const v1 = v128.load(s1);
  const v2 = v128.load(s2);
  const v3 = v128.load(s3);
  const t0 = v128.shuffle<f32>(v0, v1, 0, 4, 1, 5);
  const t1 = v128.shuffle<f32>(v0, v1, 2, 6, 3, 7);
  const t2 = v128.shuffle<f32>(v2, v3, 0, 4, 1, 5);
  const t3 = v128.shuffle<f32>(v2, v3, 2, 6, 3, 7);
  v128.store(out, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5));
  v128.store(out + outStride, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7));
  v128.store(out + outStride * 2, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5));
  v128.store(out + outStride * 3, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7));
}

/**
 * `packB` for op(B)[p, j] = the unfolded input's column j at output position p (the transposed im2col
 * matrix the weight gradient multiplies by), read from the padded image at
 * image + (p / gridW) * rowStep + (p % gridW) * 4 + offsets[j]: 4 positions along an output row and 4
 * taps at a time by register transposes, scalar where the 4 positions cross a row.
 */
function packBFromImage(image: usize, p0: i32, kc: i32, j0: i32, nc: i32, out: usize): void {
  const panels = (nc + 7) >> 3;
  for (let q = 0; q < panels; q++) {
    const jBase = j0 + (q << 3);
    const width = min(8, j0 + nc - jBase);
    const panel = out + (<usize>(q * kc * 8) << 2);
    const tap = imageOffsets + (<usize>jBase << 2);
    let oh = p0 / imageGridW;
    let ow = p0 - oh * imageGridW;
    for (let p = 0; p < kc; ) {
      const row = panel + (<usize>(p * 8) << 2);
      const position = image + <usize>oh * imageRowStepBytes + (<usize>ow << 2);
      if (width == 8 && p + 4 <= kc && ow + 4 <= imageGridW) {
        transposeRows(position + <usize>load<i32>(tap), position + <usize>load<i32>(tap, 4), position + <usize>load<i32>(tap, 8),
          position + <usize>load<i32>(tap, 12), row, 32);
        transposeRows(position + <usize>load<i32>(tap, 16), position + <usize>load<i32>(tap, 20), position + <usize>load<i32>(tap, 24),
          position + <usize>load<i32>(tap, 28), row + 16, 32);
        p += 4;
        ow += 4;
      } else {
        for (let t = 0; t < 8; t++) store<f32>(row + (<usize>t << 2), t < width ? load<f32>(position + <usize>load<i32>(tap + (<usize>t << 2))) : 0);
        p++;
        ow++;
      }
      if (ow == imageGridW) {
        ow = 0;
        oh++;
      }
    }
  }
}

/**
 * `gemm` with op(B)[p, j] = image[(p / gridW) * rowStepBytes + (p % gridW) * 4 + offsets[j]] (bytes): the
 * weight gradient's product dy @ unfold(x)^T read from a padded copy of x (stride 1 along rows), no im2col.
 */
export function gemmImageB(
  a: usize, aRow: i32, aCol: i32, image: usize, offsets: usize, gridW: i32, rowStepBytes: i32, c: usize, ldc: i32, m: i32, k: i32, n: i32,
  work: usize, overwrite: i32,
): void {
  imageOffsets = offsets;
  imageGridW = gridW;
  imageRowStepBytes = <usize>rowStepBytes;
  gemmBlocks(a, aRow, aCol, image, 0, 0, c, ldc, m, k, n, work, overwrite, true);
}

// ---------------------------------------------------------------------------------------------
// Per-slot loops with per-slot coefficients, for kernels that mix statistics across slots between
// two passes (SwitchableNorm): the caller computes the coefficients in JavaScript in between.

/** mean[s], variance[s] (biased, two-pass, float64) of each slot of `inner` contiguous values. */
export function slotMoments(x: usize, slots: i32, inner: i32, mean: usize, variance: usize): void {
  for (let s = 0; s < slots; s++) {
    const base = s * inner;
    const m = blockSum(x, base, base + inner) / <f64>inner;
    store<f64>(at64(mean, s), m);
    store<f64>(at64(variance, s), blockSquaredDeviations(x, base, base + inner, m) / <f64>inner);
  }
}

/** out = x * scale[s] + shift[s] per slot. */
export function slotAffine(x: usize, out: usize, slots: i32, inner: i32, scale: usize, shift: usize): void {
  for (let s = 0; s < slots; s++) {
    const base = s * inner;
    affineBlock(x, out, base, base + inner, load<f64>(at64(scale, s)), load<f64>(at64(shift, s)));
  }
}

/** sumDy[s] = sum(dy), sumDyCentred[s] = sum(dy * (x - mean[s])) per slot. */
export function slotGradientSums(gy: usize, x: usize, slots: i32, inner: i32, mean: usize, sumDyOut: usize, sumDyCentredOut: usize): void {
  for (let s = 0; s < slots; s++) {
    const base = s * inner;
    blockSums(gy, x, base, base + inner, load<f64>(at64(mean, s)));
    store<f64>(at64(sumDyOut, s), sumDy);
    store<f64>(at64(sumDyCentredOut, s), sumDyCentred);
  }
}

/** gradX = a[s] * dy - c[s] * x + e[s] per slot. */
export function slotGradX(gy: usize, x: usize, gradX: usize, slots: i32, inner: i32, a: usize, c: usize, e: usize): void {
  for (let s = 0; s < slots; s++) {
    const base = s * inner;
    gradXBlock(gy, x, gradX, base, base + inner, load<f64>(at64(a, s)), load<f64>(at64(c, s)), load<f64>(at64(e, s)));
  }
}

/** Zeroes `bytes` bytes at `target` (a task step before a GEMM accumulates into a scratch buffer). */
/** c[r, j] += bias[j] over `rows` rows of `n` floats: each sum rounded once to float32, the bits of the js loop's store. */
export function addRowBias(c: usize, bias: usize, rows: i32, n: i32): void {
  for (let r = 0; r < rows; r++) {
    const row = c + (<usize>(r * n) << 2);
    let j = 0;
    for (; j + 4 <= n; j += 4) {
      const at = row + (<usize>j << 2);
      v128.store(at, f32x4.add(v128.load(at), v128.load(bias + (<usize>j << 2))));
    }
    for (; j < n; j++) {
      const at = row + (<usize>j << 2);
      store<f32>(at, load<f32>(at) + load<f32>(bias + (<usize>j << 2)));
    }
  }
}

export function zero(target: usize, bytes: i32): void {
  memory.fill(target, 0, <usize>bytes);
}

// ---------------------------------------------------------------------------------------------
// Depthwise convolution (one input channel per group, one output channel per group): a direct loop
// per tap, vectorised along the output row when the column stride is 1. An im2col + GEMM would
// multiply a 1 x taps matrix per channel, which wastes the GEMM's register tile.

/** out[c] += sum over taps (i, j), in order, of w[c, i, j] * x[c, shifted]: `channels` planes (out holds the bias). */
export function depthwiseForward(
  x: usize, w: usize, out: usize, channels: i32, imageH: i32, imageW: i32, kernelH: i32, kernelW: i32, strideH: i32, strideW: i32,
  padH: i32, padW: i32, dilationH: i32, dilationW: i32, gridH: i32, gridW: i32,
): void {
  for (let c = 0; c < channels; c++) {
    const inPlane = c * imageH * imageW;
    const outPlane = c * gridH * gridW;
    for (let i = 0; i < kernelH; i++) {
      const rowShift = i * dilationH - padH;
      for (let j = 0; j < kernelW; j++) {
        const weight = load<f32>(at32(w, (c * kernelH + i) * kernelW + j));
        const wv = f32x4.splat(weight);
        const colShift = j * dilationW - padW;
        const owStart = validStart(colShift, strideW, gridW);
        const owEnd = validEnd(owStart, colShift, strideW, imageW, gridW);
        for (let oh = 0; oh < gridH; oh++) {
          const ih = oh * strideH + rowShift;
          if (ih < 0 || ih >= imageH) continue;
          const src = inPlane + ih * imageW + colShift;
          const dst = outPlane + oh * gridW;
          let ow = owStart;
          if (strideW == 1) {
            for (; ow + 4 <= owEnd; ow += 4) {
              const target = at32(out, dst + ow);
              v128.store(target, f32x4.add(v128.load(target), f32x4.mul(wv, v128.load(at32(x, src + ow)))));
            }
          }
          for (; ow < owEnd; ow++) {
            const target = at32(out, dst + ow);
            store<f32>(target, load<f32>(target) + weight * load<f32>(at32(x, src + ow * strideW)));
          }
        }
      }
    }
  }
}

/**
 * The depthwise backward for `channels` planes of one sample: gx[c, shifted] += w * gy (when gx != 0)
 * and gw[c, i, j] += sum of gy * x[c, shifted] (when gw != 0, float32 lanes, added once per sample).
 */
export function depthwiseBackward(
  gy: usize, x: usize, w: usize, gx: usize, gw: usize, channels: i32, imageH: i32, imageW: i32, kernelH: i32, kernelW: i32, strideH: i32,
  strideW: i32, padH: i32, padW: i32, dilationH: i32, dilationW: i32, gridH: i32, gridW: i32,
): void {
  for (let c = 0; c < channels; c++) {
    const inPlane = c * imageH * imageW;
    const outPlane = c * gridH * gridW;
    for (let i = 0; i < kernelH; i++) {
      const rowShift = i * dilationH - padH;
      for (let j = 0; j < kernelW; j++) {
        const tap = (c * kernelH + i) * kernelW + j;
        const weight = load<f32>(at32(w, tap));
        const wv = f32x4.splat(weight);
        const colShift = j * dilationW - padW;
        const owStart = validStart(colShift, strideW, gridW);
        const owEnd = validEnd(owStart, colShift, strideW, imageW, gridW);
        let lanes = f32x4.splat(0);
        let tail: f32 = 0;
        for (let oh = 0; oh < gridH; oh++) {
          const ih = oh * strideH + rowShift;
          if (ih < 0 || ih >= imageH) continue;
          const src = inPlane + ih * imageW + colShift;
          const dyRow = outPlane + oh * gridW;
          let ow = owStart;
          if (strideW == 1) {
            for (; ow + 4 <= owEnd; ow += 4) {
              const dy = v128.load(at32(gy, dyRow + ow));
              if (gx != 0) {
                const target = at32(gx, src + ow);
                v128.store(target, f32x4.add(v128.load(target), f32x4.mul(wv, dy)));
              }
              if (gw != 0) lanes = f32x4.add(lanes, f32x4.mul(dy, v128.load(at32(x, src + ow))));
            }
          }
          for (; ow < owEnd; ow++) {
            const dy = load<f32>(at32(gy, dyRow + ow));
            if (gx != 0) {
              const target = at32(gx, src + ow * strideW);
              store<f32>(target, load<f32>(target) + weight * dy);
            }
            if (gw != 0) tail += dy * load<f32>(at32(x, src + ow * strideW));
          }
        }
        if (gw != 0) {
          const total = f32x4.extract_lane(lanes, 0) + f32x4.extract_lane(lanes, 1) + f32x4.extract_lane(lanes, 2) + f32x4.extract_lane(lanes, 3) + tail;
          store<f32>(at32(gw, tap), load<f32>(at32(gw, tap)) + total);
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Pooling over `planes` independent [imageH, imageW] planes (the twin of src/kernels/js/pool.ts).

/** One max-pool output by the scalar rule: the first maximum in row-major window order, a NaN taking over, -1 with no in-bounds tap. */
function maxPoolScalar(
  x: usize, out: usize, argmax: usize, base: i32, imageH: i32, imageW: i32, kernelH: i32, kernelW: i32, hStart: i32, wStart: i32,
  dilationH: i32, dilationW: i32, target: i32, indexBase: i32,
): void {
  let best: f32 = -Infinity;
  let bestIndex: i32 = -1;
  for (let i = 0; i < kernelH; i++) {
    const ih = hStart + i * dilationH;
    if (ih < 0 || ih >= imageH) continue;
    for (let j = 0; j < kernelW; j++) {
      const iw = wStart + j * dilationW;
      if (iw < 0 || iw >= imageW) continue;
      const index = base + ih * imageW + iw;
      const value = load<f32>(at32(x, index));
      if (bestIndex < 0) bestIndex = index;
      if (value > best || value != value) {
        best = value;
        bestIndex = index;
      }
    }
  }
  store<f32>(at32(out, target), best);
  store<i32>(at32(argmax, target), bestIndex < 0 ? -1 : bestIndex + indexBase);
}

/**
 * Max pooling with argmax (flat input indices offset by `indexBase`, so a caller streaming chunks of
 * planes gets the indices of the whole tensor). Windows that lie inside the image take four outputs
 * at a time along the row when the column stride is 1 or 2 (lane-wise compare and select, the same
 * first-maximum and NaN rule as the scalar loop); the border windows take the scalar loop.
 */
export function maxPool2dForward(
  x: usize, out: usize, argmax: usize, planes: i32, imageH: i32, imageW: i32, gridH: i32, gridW: i32, kernelH: i32, kernelW: i32,
  strideH: i32, strideW: i32, padH: i32, padW: i32, dilationH: i32, dilationW: i32, indexBase: i32,
): void {
  const spanW = (kernelW - 1) * dilationW;
  // Outputs [owLo, owHi) have every column tap inside the image.
  let owLo = (padW + strideW - 1) / strideW;
  let owHi = imageW - 1 - spanW + padW >= 0 ? (imageW - 1 - spanW + padW) / strideW + 1 : 0;
  if (owHi > gridW) owHi = gridW;
  if (owLo > owHi) owLo = owHi;
  const laneStep = i32x4(0, strideW, 2 * strideW, 3 * strideW);
  const vectorised = strideW == 1 || strideW == 2;
  for (let p = 0; p < planes; p++) {
    const base = p * imageH * imageW;
    const outBase = p * gridH * gridW;
    for (let oh = 0; oh < gridH; oh++) {
      const hStart = oh * strideH - padH;
      const rowInside = hStart >= 0 && hStart + (kernelH - 1) * dilationH < imageH;
      const outRow = outBase + oh * gridW;
      let ow = 0;
      if (rowInside && vectorised) {
        for (; ow < owLo; ow++) {
          maxPoolScalar(x, out, argmax, base, imageH, imageW, kernelH, kernelW, hStart, ow * strideW - padW, dilationH, dilationW, outRow + ow, indexBase);
        }
        for (; ow + 4 <= owHi; ow += 4) {
          const wStart = ow * strideW - padW;
          let best = f32x4.splat(0);
          let index = i32x4.splat(0);
          for (let i = 0; i < kernelH; i++) {
            const row = base + (hStart + i * dilationH) * imageW;
            for (let j = 0; j < kernelW; j++) {
              const first = row + wStart + j * dilationW;
              let v: v128;
              if (strideW == 1) {
                v = v128.load(at32(x, first));
              } else {
                const a = v128.load(at32(x, first));
                const b = v128.load(at32(x, first), 16);
                v = i32x4.shuffle(a, b, 0, 2, 4, 6);
              }
              const at = i32x4.add(i32x4.splat(first + indexBase), laneStep);
              if (i == 0 && j == 0) {
                best = v;
                index = at;
              } else {
                const take = v128.or(f32x4.gt(v, best), f32x4.ne(v, v));
                best = v128.bitselect(v, best, take);
                index = v128.bitselect(at, index, take);
              }
            }
          }
          v128.store(at32(out, outRow + ow), best);
          v128.store(at32(argmax, outRow + ow), index);
        }
      }
      for (; ow < gridW; ow++) {
        maxPoolScalar(x, out, argmax, base, imageH, imageW, kernelH, kernelW, hStart, ow * strideW - padW, dilationH, dilationW, outRow + ow, indexBase);
      }
    }
  }
}

/**
 * Window averages: out[p, oh, ow] = sum of x over rows [rowStart, rowEnd) x columns [colStart,
 * colEnd) (i32 arrays), in float64 and row-major order like the js loop, / divisor (f64 per output
 * cell). A window covering the whole plane (global average pooling) sums in f64x2 lanes instead.
 */
export function windowAverageForward(
  x: usize, out: usize, planes: i32, imageH: i32, imageW: i32, gridH: i32, gridW: i32, rowStart: usize, rowEnd: usize, colStart: usize,
  colEnd: usize, divisor: usize,
): void {
  const plane = imageH * imageW;
  const whole = gridH == 1 && gridW == 1 && load<i32>(rowStart) == 0 && load<i32>(rowEnd) == imageH && load<i32>(colStart) == 0 &&
    load<i32>(colEnd) == imageW;
  for (let p = 0; p < planes; p++) {
    const base = p * plane;
    const outBase = p * gridH * gridW;
    if (whole) {
      write(out, outBase, blockSum(x, base, base + plane) / load<f64>(divisor));
      continue;
    }
    for (let oh = 0; oh < gridH; oh++) {
      const h0 = load<i32>(at32(rowStart, oh));
      const h1 = load<i32>(at32(rowEnd, oh));
      for (let ow = 0; ow < gridW; ow++) {
        const w0 = load<i32>(at32(colStart, ow));
        const w1 = load<i32>(at32(colEnd, ow));
        let total: f64 = 0;
        for (let ih = h0; ih < h1; ih++) {
          const row = base + ih * imageW;
          for (let iw = w0; iw < w1; iw++) total += read(x, row + iw);
        }
        write(out, outBase + oh * gridW + ow, total / load<f64>(at64(divisor, oh * gridW + ow)));
      }
    }
  }
}

/**
 * gradX[argmax[o] - indexBase] += gradOutput[o] over `outputs` outputs, in output order, each sum
 * rounded to float32 like the js loop's Float32Array (float64 sums of two float32 values round to the
 * float32 sum exactly); argmax -1 (a window with no in-bounds tap) adds nothing.
 */
export function maxPool2dBackward(gy: usize, argmax: usize, gradX: usize, outputs: i32, indexBase: i32): void {
  for (let o = 0; o < outputs; o++) {
    const index = load<i32>(at32(argmax, o));
    if (index < 0) continue;
    const target = at32(gradX, index - indexBase);
    store<f32>(target, load<f32>(target) + load<f32>(at32(gy, o)));
  }
}

/**
 * Spreads each output gradient, divided by its divisor (float64), over its window: the twin of the js
 * loop, the same float64 share added to each float32 gradient in the same order.
 */
export function windowAverageBackward(
  gy: usize, gradX: usize, planes: i32, imageH: i32, imageW: i32, gridH: i32, gridW: i32, rowStart: usize, rowEnd: usize, colStart: usize,
  colEnd: usize, divisor: usize,
): void {
  const plane = imageH * imageW;
  for (let p = 0; p < planes; p++) {
    const base = p * plane;
    const outBase = p * gridH * gridW;
    for (let oh = 0; oh < gridH; oh++) {
      const h0 = load<i32>(at32(rowStart, oh));
      const h1 = load<i32>(at32(rowEnd, oh));
      for (let ow = 0; ow < gridW; ow++) {
        const share = read(gy, outBase + oh * gridW + ow) / load<f64>(at64(divisor, oh * gridW + ow));
        const w0 = load<i32>(at32(colStart, ow));
        const w1 = load<i32>(at32(colEnd, ow));
        for (let ih = h0; ih < h1; ih++) {
          const row = base + ih * imageW;
          for (let iw = w0; iw < w1; iw++) write(gradX, row + iw, read(gradX, row + iw) + share);
        }
      }
    }
  }
}

/** Whether the nearest columns double every input column in order (index0[ow] = ow >> 1, outW = 2 inW): 2x upsampling. */
function doublesColumns(colIndex0: usize, inW: i32, outW: i32): bool {
  if (outW != 2 * inW) return false;
  for (let ow = 0; ow < outW; ow++) if (load<i32>(at32(colIndex0, ow)) != ow >> 1) return false;
  return true;
}

/**
 * Nearest or bilinear resize of `planes` planes (the js loop's arithmetic: bilinear blends in float64,
 * (1 - a)((1 - b) x00 + b x01) + a((1 - b) x10 + b x11), then rounds). Nearest copies values; an output
 * row whose source row is the previous output row's is a copy of that row, and 2x column doubling
 * writes eight outputs per four inputs.
 */
export function resizeForward(
  x: usize, out: usize, planes: i32, inH: i32, inW: i32, outH: i32, outW: i32,
  rowIndex0: usize, rowIndex1: usize, rowLambda: usize, colIndex0: usize, colIndex1: usize, colLambda: usize, bilinear: i32,
): void {
  const inPlane = inH * inW;
  const outPlane = outH * outW;
  const doubled = !bilinear && doublesColumns(colIndex0, inW, outW);
  for (let p = 0; p < planes; p++) {
    for (let oh = 0; oh < outH; oh++) {
      const source = load<i32>(at32(rowIndex0, oh));
      const row0 = p * inPlane + source * inW;
      const outRow = p * outPlane + oh * outW;
      if (!bilinear) {
        if (oh > 0 && load<i32>(at32(rowIndex0, oh - 1)) == source) {
          memory.copy(at32(out, outRow), at32(out, outRow - outW), <usize>outW << 2);
          continue;
        }
        let ow = 0;
        if (doubled) {
          for (; ow + 8 <= outW; ow += 8) {
            const v = v128.load(at32(x, row0 + (ow >> 1)));
            v128.store(at32(out, outRow + ow), i32x4.shuffle(v, v, 0, 0, 1, 1));
            v128.store(at32(out, outRow + ow), i32x4.shuffle(v, v, 2, 2, 3, 3), 16);
          }
        }
        for (; ow < outW; ow++) store<f32>(at32(out, outRow + ow), load<f32>(at32(x, row0 + load<i32>(at32(colIndex0, ow)))));
        continue;
      }
      const a = load<f64>(at64(rowLambda, oh));
      const row1 = p * inPlane + load<i32>(at32(rowIndex1, oh)) * inW;
      for (let ow = 0; ow < outW; ow++) {
        const b = load<f64>(at64(colLambda, ow));
        const w0 = load<i32>(at32(colIndex0, ow));
        const w1 = load<i32>(at32(colIndex1, ow));
        const top = (1 - b) * read(x, row0 + w0) + b * read(x, row0 + w1);
        const bottom = (1 - b) * read(x, row1 + w0) + b * read(x, row1 + w1);
        write(out, outRow + ow, (1 - a) * top + a * bottom);
      }
    }
  }
}

/**
 * Scatters each output gradient back with the forward's indices and weights, in the js loop's order
 * and arithmetic (float64 products added to the float32 gradient, then rounded; a float32 sum of two
 * float32 values is the float64 sum rounded, so the nearest path adds in float32, four lanes at a time
 * for 2x column doubling).
 */
export function resizeBackward(
  gy: usize, gradX: usize, planes: i32, inH: i32, inW: i32, outH: i32, outW: i32,
  rowIndex0: usize, rowIndex1: usize, rowLambda: usize, colIndex0: usize, colIndex1: usize, colLambda: usize, bilinear: i32,
): void {
  const inPlane = inH * inW;
  const outPlane = outH * outW;
  const doubled = !bilinear && doublesColumns(colIndex0, inW, outW);
  for (let p = 0; p < planes; p++) {
    for (let oh = 0; oh < outH; oh++) {
      const row0 = p * inPlane + load<i32>(at32(rowIndex0, oh)) * inW;
      const outRow = p * outPlane + oh * outW;
      if (!bilinear) {
        let ow = 0;
        if (doubled) {
          // Each input column gets its two outputs in order (even, then odd), as in the scalar loop.
          for (; ow + 8 <= outW; ow += 8) {
            const lo = v128.load(at32(gy, outRow + ow));
            const hi = v128.load(at32(gy, outRow + ow), 16);
            const target = at32(gradX, row0 + (ow >> 1));
            const even = f32x4.add(v128.load(target), i32x4.shuffle(lo, hi, 0, 2, 4, 6));
            v128.store(target, f32x4.add(even, i32x4.shuffle(lo, hi, 1, 3, 5, 7)));
          }
        }
        for (; ow < outW; ow++) {
          const target = at32(gradX, row0 + load<i32>(at32(colIndex0, ow)));
          store<f32>(target, load<f32>(target) + load<f32>(at32(gy, outRow + ow)));
        }
        continue;
      }
      const a = load<f64>(at64(rowLambda, oh));
      const row1 = p * inPlane + load<i32>(at32(rowIndex1, oh)) * inW;
      for (let ow = 0; ow < outW; ow++) {
        const b = load<f64>(at64(colLambda, ow));
        const w0 = load<i32>(at32(colIndex0, ow));
        const w1 = load<i32>(at32(colIndex1, ow));
        const go = read(gy, outRow + ow);
        write(gradX, row0 + w0, read(gradX, row0 + w0) + (1 - a) * (1 - b) * go);
        write(gradX, row0 + w1, read(gradX, row0 + w1) + (1 - a) * b * go);
        write(gradX, row1 + w0, read(gradX, row1 + w0) + a * (1 - b) * go);
        write(gradX, row1 + w1, read(gradX, row1 + w1) + a * b * go);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Sums over any axes (the twin of src/kernels/js/reduce.ts): x's dims merged into runs, each
// described at runs + r * 12 by (size, summed?, stride in out), visited as rows of the innermost run.

/** The kept offset of row `row0`, with the run counters set for it (one i32 per run at `counters`). */
function runsStart(runs: usize, runCount: i32, row0: i32, counters: usize): i32 {
  let rest = row0;
  let o: i32 = 0;
  for (let r = runCount - 2; r >= 0; r--) {
    const size = load<i32>(runs + <usize>(r * 12));
    const c = rest % size;
    rest = rest / size;
    store<i32>(counters + <usize>(r << 2), c);
    o += c * load<i32>(runs + <usize>(r * 12), 8);
  }
  return o;
}

/** The kept offset of the next row after the one at `o`, advancing the counters. */
function runsNext(runs: usize, runCount: i32, counters: usize, o: i32): i32 {
  for (let r = runCount - 2; r >= 0; r--) {
    const at = counters + <usize>(r << 2);
    const size = load<i32>(runs + <usize>(r * 12));
    const stride = load<i32>(runs + <usize>(r * 12), 8);
    const c = load<i32>(at) + 1;
    o += stride;
    if (c < size) {
      store<i32>(at, c);
      return o;
    }
    o -= stride * size;
    store<i32>(at, 0);
  }
  return o;
}

/**
 * out[kept] += sums over the summed runs for rows [row0, row1) of the innermost run; `x` points at
 * row0's first element (a caller streaming chunks of rows passes each chunk's start), `counters` is
 * scratch for one i32 per run. Float64 accumulation; f64x2 lanes along the innermost run.
 */
export function sumRuns(x: usize, out: usize, runs: usize, runCount: i32, row0: i32, row1: i32, counters: usize): void {
  const last = runCount - 1;
  const inner = load<i32>(runs + <usize>(last * 12));
  const innerSummed = load<i32>(runs + <usize>(last * 12), 4) != 0;
  let o = runsStart(runs, runCount, row0, counters);
  for (let row = row0; row < row1; row++) {
    const base = (row - row0) * inner;
    if (innerSummed) {
      store<f64>(at64(out, o), load<f64>(at64(out, o)) + blockSum(x, base, base + inner));
    } else {
      let j = 0;
      for (; j + 4 <= inner; j += 4) {
        const v = v128.load(at32(x, base + j));
        const p = at64(out, o + j);
        v128.store(p, f64x2.add(v128.load(p), low(v)));
        v128.store(p, f64x2.add(v128.load(p, 16), high(v)), 16);
      }
      for (; j < inner; j++) store<f64>(at64(out, o + j), load<f64>(at64(out, o + j)) + read(x, base + j));
    }
    o = runsNext(runs, runCount, counters, o);
  }
}

/**
 * out = x * (scale + offset) + shift with scale and shift (float32, shift 0 for none) broadcast along
 * the runs marked summed, for rows [row0, row1) (`x` and `out` point at row0's first element). Float64
 * arithmetic, rounded once, like the js loop.
 */
export function modulateRuns(
  x: usize, out: usize, scale: usize, shift: usize, offset: f64, runs: usize, runCount: i32, row0: i32, row1: i32, counters: usize,
): void {
  const last = runCount - 1;
  const inner = load<i32>(runs + <usize>(last * 12));
  const innerBroadcast = load<i32>(runs + <usize>(last * 12), 4) != 0;
  const offsetV = f64x2.splat(offset);
  let o = runsStart(runs, runCount, row0, counters);
  for (let row = row0; row < row1; row++) {
    const base = (row - row0) * inner;
    if (innerBroadcast) {
      affineBlock(x, out, base, base + inner, read(scale, o) + offset, shift != 0 ? read(shift, o) : 0);
    } else {
      let j = 0;
      for (; j + 4 <= inner; j += 4) {
        const v = v128.load(at32(x, base + j));
        const sv = v128.load(at32(scale, o + j));
        const tv = shift != 0 ? v128.load(at32(shift, o + j)) : f32x4.splat(0);
        const y0 = f64x2.add(f64x2.mul(low(v), f64x2.add(low(sv), offsetV)), low(tv));
        const y1 = f64x2.add(f64x2.mul(high(v), f64x2.add(high(sv), offsetV)), high(tv));
        v128.store(at32(out, base + j), pack(y0, y1));
      }
      for (; j < inner; j++) write(out, base + j, read(x, base + j) * (read(scale, o + j) + offset) + (shift != 0 ? read(shift, o + j) : 0));
    }
    o = runsNext(runs, runCount, counters, o);
  }
}

// ---------------------------------------------------------------------------------------------
// Elementwise binary ops in float32 lanes. For + - * / of two float32 values, one float32 rounding
// (f32x4) and the js loops' float64 arithmetic rounded to float32 give the same value (float64 has
// more than 2 * 24 + 2 bits, so rounding twice is exact for these ops); maximum and minimum are the js
// loops' comparisons (x >= y ? x : y: a NaN in y wins, a NaN in x loses), so the results are the js
// bits. Numbering: src/kernels/wasm/backend.ts BINARY_OPS.

const BINARY_ADD = 0;
const BINARY_SUB = 1;
const BINARY_MUL = 2;
const BINARY_DIV = 3;
const BINARY_MAXIMUM = 4;
/** b's values pair with a's, restarting at b's first value on each row (same shape: one row). */
const BINARY_PAIRWISE = 0;
/** b is one value for every element of a. */
const BINARY_SCALAR_B = 1;
/** a is one value for every element of b. */
const BINARY_SCALAR_A = 2;
/** Row r (counted from `firstRow`) of a reads b's value (firstRow + r) % bCount: a per-channel [C, 1, 1] against [N, C, H, W]. */
const BINARY_RUNS_B = 3;

@inline function binaryLanes(op: i32, x: v128, y: v128): v128 {
  if (op == BINARY_ADD) return f32x4.add(x, y);
  if (op == BINARY_SUB) return f32x4.sub(x, y);
  if (op == BINARY_MUL) return f32x4.mul(x, y);
  if (op == BINARY_DIV) return f32x4.div(x, y);
  if (op == BINARY_MAXIMUM) return v128.bitselect(x, y, f32x4.ge(x, y));
  return v128.bitselect(x, y, f32x4.le(x, y));
}

@inline function binaryOne(op: i32, x: f32, y: f32): f32 {
  if (op == BINARY_ADD) return x + y;
  if (op == BINARY_SUB) return x - y;
  if (op == BINARY_MUL) return x * y;
  if (op == BINARY_DIV) return x / y;
  if (op == BINARY_MAXIMUM) return x >= y ? x : y;
  return x <= y ? x : y;
}

/** The loops of one op and one kind (both constants where inlined). */
@inline function binaryRows(op: i32, a: usize, b: usize, out: usize, rows: i32, period: i32, kind: i32, firstRow: i32, bCount: i32): void {
  let run = kind == BINARY_RUNS_B ? firstRow % bCount : 0;
  for (let r = 0; r < rows; r++) {
    const pa = kind == BINARY_SCALAR_A ? a : at32(a, r * period);
    const pb = kind == BINARY_SCALAR_A ? at32(b, r * period) : kind == BINARY_RUNS_B ? at32(b, run) : b;
    const po = at32(out, r * period);
    // The single value of a scalar kind (read once per row; unused by the others).
    const xs = f32x4.splat(load<f32>(pa));
    const ys = f32x4.splat(load<f32>(pb));
    let i = 0;
    for (; i + 4 <= period; i += 4) {
      const x = kind == BINARY_SCALAR_A ? xs : v128.load(at32(pa, i));
      const y = kind == BINARY_SCALAR_B || kind == BINARY_RUNS_B ? ys : v128.load(at32(pb, i));
      v128.store(at32(po, i), binaryLanes(op, x, y));
    }
    for (; i < period; i++) {
      const x = kind == BINARY_SCALAR_A ? load<f32>(pa) : load<f32>(at32(pa, i));
      const y = kind == BINARY_SCALAR_B || kind == BINARY_RUNS_B ? load<f32>(pb) : load<f32>(at32(pb, i));
      store<f32>(at32(po, i), binaryOne(op, x, y));
    }
    if (kind == BINARY_RUNS_B) run = run + 1 == bCount ? 0 : run + 1;
  }
}

/**
 * out = a (op) b over `rows` rows of `period` float32 values, op 0-5 = add, sub, mul, div, maximum,
 * minimum; `kind` says how b (or a) is read: BINARY_PAIRWISE, b's `period` values repeat along a (a
 * bias row; a same-shape op is one row); BINARY_SCALAR_B / _A, one value for everything;
 * BINARY_RUNS_B, one of b's `bCount` values per row, starting at `firstRow % bCount`. `out` may be
 * the streamed operand itself: each element is read before it is written.
 */
export function binaryForward(op: i32, a: usize, b: usize, out: usize, rows: i32, period: i32, kind: i32, firstRow: i32, bCount: i32): void {
  if (op == BINARY_ADD) binaryKinds(BINARY_ADD, a, b, out, rows, period, kind, firstRow, bCount);
  else if (op == BINARY_SUB) binaryKinds(BINARY_SUB, a, b, out, rows, period, kind, firstRow, bCount);
  else if (op == BINARY_MUL) binaryKinds(BINARY_MUL, a, b, out, rows, period, kind, firstRow, bCount);
  else if (op == BINARY_DIV) binaryKinds(BINARY_DIV, a, b, out, rows, period, kind, firstRow, bCount);
  else if (op == BINARY_MAXIMUM) binaryKinds(BINARY_MAXIMUM, a, b, out, rows, period, kind, firstRow, bCount);
  else binaryKinds(5, a, b, out, rows, period, kind, firstRow, bCount);
}

/** One op's loops for each kind, each inlined with both constant, so no loop branches on either. */
@inline function binaryKinds(op: i32, a: usize, b: usize, out: usize, rows: i32, period: i32, kind: i32, firstRow: i32, bCount: i32): void {
  if (kind == BINARY_PAIRWISE) binaryRows(op, a, b, out, rows, period, BINARY_PAIRWISE, firstRow, bCount);
  else if (kind == BINARY_SCALAR_B) binaryRows(op, a, b, out, rows, period, BINARY_SCALAR_B, firstRow, bCount);
  else if (kind == BINARY_RUNS_B) binaryRows(op, a, b, out, rows, period, BINARY_RUNS_B, firstRow, bCount);
  else binaryRows(op, a, b, out, rows, period, BINARY_SCALAR_A, firstRow, bCount);
}

// ---------------------------------------------------------------------------------------------
// Activations (the ones the wasm backend takes: GELU forward and backward, sigmoid forward; the
// others are one pass over memory or have no formula here, and stay on the js loops). Float64
// arithmetic per element, rounded once, like the js loops. exp and erf have no instruction:
// `expLanes` is exp by range reduction and a Taylor polynomial (relative error below 1e-14, exact 0
// and Infinity at the ends), and erf evaluates the js kernels' own three polynomials, which the caller
// passes in memory (`erfTable`, laid out as src/kernels/js/math.ts's ERF_TABLE: the coefficients are
// written once).

const ACTIVATION_TANH = 1;
const ACTIVATION_SIGMOID = 2;
const ACTIVATION_SILU = 3;
const ACTIVATION_GELU = 4;
const INV_SQRT_2PI: f64 = 0.3989422804014327;
const LN2_HIGH: f64 = 6.93147180369123816490e-1; // ln 2 to 32 bits: k * LN2_HIGH is exact for |k| < 2^20
const LN2_LOW: f64 = 1.90821492927058770002e-10; // ln 2 - LN2_HIGH

/**
 * exp's constants in a static data segment, read with one load each: V8 builds a v128 constant from
 * immediates with several instructions at every use inside a loop, which made them about a sixth of
 * SiLU's time. In order: the clamp (708, -708), 1 / ln 2, the rounding shift 1.5 * 2^52, ln 2 in two parts,
 * 1 / n! for n = 0, 2, 3, ..., 13 (1 / 1! is the 1 in q0), the overflow threshold, Infinity.
 */
const EXP_CONSTANTS = memory.data<f64>([
  708, -708, 1.4426950408889634, 6755399441055744.0, LN2_HIGH, LN2_LOW,
  1.0, 0.5, 0.16666666666666666, 0.041666666666666664, 0.008333333333333333, 0.001388888888888889, 0.0001984126984126984,
  2.48015873015873e-05, 2.7557319223985893e-06, 2.755731922398589e-07, 2.505210838544172e-08, 2.08767569878681e-09, 1.6059043836821613e-10, 709.782712893384, Infinity,
]);

@inline function expConstant(index: i32): v128 {
  return v128.load64_splat(EXP_CONSTANTS + (<usize>index << 3));
}

/** e^x per lane: 0 below -708 (the float32 results it feeds are 0 there too), Infinity above 709.78, NaN for NaN. */
function expLanes(x: v128): v128 {
  // pmin / pmax (one instruction each) keep x when x is NaN: x is their first operand.
  const clamped = f64x2.pmax(f64x2.pmin(x, expConstant(0)), expConstant(1));
  // k = round(clamped / ln 2) by adding and subtracting 1.5 * 2^52 (ties to even, as f64x2.nearest): the
  // sum's low mantissa bits hold k as a two's-complement integer, so 2^k is the sum's bits shifted into the
  // exponent field, with no float-to-integer conversion.
  const shifted = f64x2.add(f64x2.mul(clamped, expConstant(2)), expConstant(3));
  const k = f64x2.sub(shifted, expConstant(3));
  const r = f64x2.sub(f64x2.sub(clamped, f64x2.mul(k, expConstant(4))), f64x2.mul(k, expConstant(5)));
  // |r| <= ln2 / 2: sum of r^n / n! for n <= 13 (the next term is below 1e-16 relative), by Estrin's
  // scheme: pairs, then pairs of pairs with r^2, r^4 and r^8, so the dependency chain is four
  // multiply-adds deep instead of Horner's thirteen (this function bounds tanh, sigmoid, SiLU and GELU).
  const r2 = f64x2.mul(r, r);
  const r4 = f64x2.mul(r2, r2);
  const r8 = f64x2.mul(r4, r4);
  const q0 = f64x2.add(expConstant(6), r);
  const q1 = f64x2.add(expConstant(7), f64x2.mul(expConstant(8), r));
  const q2 = f64x2.add(expConstant(9), f64x2.mul(expConstant(10), r));
  const q3 = f64x2.add(expConstant(11), f64x2.mul(expConstant(12), r));
  const q4 = f64x2.add(expConstant(13), f64x2.mul(expConstant(14), r));
  const q5 = f64x2.add(expConstant(15), f64x2.mul(expConstant(16), r));
  const q6 = f64x2.add(expConstant(17), f64x2.mul(expConstant(18), r));
  const s0 = f64x2.add(q0, f64x2.mul(q1, r2));
  const s1 = f64x2.add(q2, f64x2.mul(q3, r2));
  const s2 = f64x2.add(q4, f64x2.mul(q5, r2));
  const t0 = f64x2.add(s0, f64x2.mul(s1, r4));
  const t1 = f64x2.add(s2, f64x2.mul(q6, r4));
  const p = f64x2.add(t0, f64x2.mul(t1, r8));
  const exponent = i64x2.add(i64x2.shl(shifted, 52), i64x2.splat(0x3ff0000000000000));
  const value = f64x2.mul(p, exponent);
  const overflow = f64x2.gt(x, expConstant(19));
  return v128.bitselect(expConstant(20), v128.andnot(value, f64x2.lt(x, expConstant(1))), overflow);
}

/**
 * The polynomial with `count` coefficients (highest degree first, as the js kernels' Horner loop) at
 * v, by Horner's rule in v^2 over pairs (c_k v + c_(k+1)): each pair is independent of the running sum,
 * so the dependency chain is half as long as plain Horner's (the same value to float64 rounding).
 */
@inline function polynomialLanes(coefficients: usize, count: i32, v: v128): v128 {
  const v2 = f64x2.mul(v, v);
  let result: v128;
  let k: i32;
  if (count & 1) {
    result = v128.load64_splat(coefficients);
    k = 1;
  } else {
    result = f64x2.add(f64x2.mul(v128.load64_splat(coefficients), v), v128.load64_splat(at64(coefficients, 1)));
    k = 2;
  }
  for (; k < count; k += 2) {
    const pair = f64x2.add(f64x2.mul(v128.load64_splat(at64(coefficients, k)), v), v128.load64_splat(at64(coefficients, k + 1)));
    result = f64x2.add(f64x2.mul(result, v2), pair);
  }
  return result;
}

/**
 * erf per lane, the js kernels' formula (src/kernels/js/math.ts) with this module's exp. ERF_TABLE:
 * [small count, middle count, tail count, middle centre, tail centre, small..., middle..., tail...].
 * Each piece is computed only when a lane needs it.
 */
function erfLanes(table: usize, z: v128): v128 {
  const smallCount = <i32>load<f64>(table);
  const middleCount = <i32>load<f64>(table, 8);
  const tailCount = <i32>load<f64>(table, 16);
  const ax = f64x2.abs(z);
  const one = f64x2.splat(1);
  const isSmall = f64x2.lt(ax, one);
  const small = i64x2.all_true(v128.not(isSmall))
    ? z
    : f64x2.add(z, f64x2.mul(z, polynomialLanes(table + 40, smallCount, f64x2.mul(z, z))));
  if (i64x2.all_true(isSmall)) return small;
  const squared = f64x2.mul(ax, ax);
  const e = expLanes(f64x2.neg(squared));
  const isMiddle = f64x2.lt(ax, f64x2.splat(2.5));
  let value = one;
  if (v128.any_true(isMiddle)) {
    const middle = polynomialLanes(at64(table + 40, smallCount), middleCount, f64x2.sub(ax, v128.load64_splat(table + 24)));
    value = v128.bitselect(f64x2.sub(one, f64x2.mul(e, middle)), one, isMiddle);
  }
  const isTail = v128.andnot(v128.or(f64x2.ne(ax, ax), f64x2.lt(ax, f64x2.splat(6))), isMiddle);
  if (v128.any_true(isTail)) {
    const tail = polynomialLanes(at64(table + 40, smallCount + middleCount), tailCount, f64x2.sub(f64x2.div(one, squared), v128.load64_splat(table + 32)));
    value = v128.bitselect(f64x2.sub(one, f64x2.mul(f64x2.div(e, ax), tail)), value, isTail);
  }
  // |x| >= 6 keeps 1; NaN went through the tail (NaN).
  const signed = v128.bitselect(f64x2.neg(value), value, f64x2.lt(z, f64x2.splat(0)));
  return v128.bitselect(small, signed, isSmall);
}

/**
 * tanh per lane: sign(v) (1 - 2 / (exp(2|v|) + 1)) from |v| = 1/16, where that subtraction loses at
 * most 1e-13 relative, and the odd Taylor series to v^9 below (the next term is under 1e-14 relative
 * there); Math.tanh's values rounded to float32, within 1 ulp. NaN passes; ±Infinity gives ±1 (exp
 * overflows to Infinity); -0 stays -0.
 */
function tanhLanes(v: v128): v128 {
  const one = f64x2.splat(1);
  const magnitude = f64x2.abs(v);
  const e = expLanes(f64x2.add(magnitude, magnitude));
  const large = f64x2.sub(one, f64x2.div(f64x2.splat(2), f64x2.add(e, one)));
  const v2 = f64x2.mul(v, v);
  let series = f64x2.splat(62.0 / 2835.0);
  series = f64x2.add(f64x2.mul(series, v2), f64x2.splat(-17.0 / 315.0));
  series = f64x2.add(f64x2.mul(series, v2), f64x2.splat(2.0 / 15.0));
  series = f64x2.add(f64x2.mul(series, v2), f64x2.splat(-1.0 / 3.0));
  series = f64x2.add(f64x2.mul(series, v2), one);
  const small = f64x2.mul(v, series);
  const signed = v128.bitselect(f64x2.neg(large), large, f64x2.lt(v, f64x2.splat(0)));
  return v128.bitselect(small, signed, f64x2.lt(magnitude, f64x2.splat(0.0625)));
}

function activationLanes(op: i32, v: v128, table: usize): v128 {
  const one = f64x2.splat(1);
  if (op == ACTIVATION_TANH) return tanhLanes(v);
  if (op == ACTIVATION_SIGMOID) {
    // exp(-|v|) on both sides: 1 / (1 + e) for v >= 0, e / (1 + e) below (NaN takes the second).
    const e = expLanes(f64x2.neg(f64x2.abs(v)));
    const denominator = f64x2.add(one, e);
    return v128.bitselect(f64x2.div(one, denominator), f64x2.div(e, denominator), f64x2.ge(v, f64x2.splat(0)));
  }
  // SiLU: v / (1 + exp(-v)), the js loop's formula (exp(-v) overflows to Infinity below about -709: -0).
  if (op == ACTIVATION_SILU) return f64x2.div(v, f64x2.add(one, expLanes(f64x2.neg(v))));
  // GELU: 0.5 * v * (1 + erf(v / sqrt 2)).
  const z = f64x2.div(v, f64x2.splat(Math.SQRT2));
  return f64x2.mul(f64x2.mul(f64x2.splat(0.5), v), f64x2.add(one, erfLanes(table, z)));
}

/** out = act(x) for `n` float32 values, `op` tanh, sigmoid, SiLU or GELU. */
export function activationForward(op: i32, x: usize, out: usize, n: i32, table: usize): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const v = v128.load(at32(x, i));
    v128.store(at32(out, i), pack(activationLanes(op, low(v), table), activationLanes(op, high(v), table)));
  }
  for (; i < n; i++) write(out, i, f64x2.extract_lane(activationLanes(op, f64x2.splat(read(x, i)), table), 0));
}

/** GELU'(v) = 0.5 * (1 + erf(v / sqrt 2)) + v * phi(v). */
function geluDerivativeLanes(v: v128, table: usize): v128 {
  const cdf = f64x2.mul(f64x2.splat(0.5), f64x2.add(f64x2.splat(1), erfLanes(table, f64x2.div(v, f64x2.splat(Math.SQRT2)))));
  const density = f64x2.mul(f64x2.mul(v, f64x2.splat(INV_SQRT_2PI)), expLanes(f64x2.mul(f64x2.mul(f64x2.splat(-0.5), v), v)));
  return f64x2.add(cdf, density);
}

/** gradX = gradOutput * GELU'(x) for `n` float32 values; `gradX` may be `gradOutput` itself. */
export function geluBackward(x: usize, gy: usize, gradX: usize, n: i32, table: usize): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const v = v128.load(at32(x, i));
    const g = v128.load(at32(gy, i));
    v128.store(at32(gradX, i), pack(f64x2.mul(low(g), geluDerivativeLanes(low(v), table)), f64x2.mul(high(g), geluDerivativeLanes(high(v), table))));
  }
  for (; i < n; i++) write(gradX, i, read(gy, i) * f64x2.extract_lane(geluDerivativeLanes(f64x2.splat(read(x, i)), table), 0));
}

/** SiLU'(v) = s (1 + v (1 - s)) with s = 1 / (1 + exp(-v)), the js loop's formula. */
function siluDerivativeLanes(v: v128): v128 {
  const one = f64x2.splat(1);
  const s = f64x2.div(one, f64x2.add(one, expLanes(f64x2.neg(v))));
  return f64x2.mul(s, f64x2.add(one, f64x2.mul(v, f64x2.sub(one, s))));
}

/** gradX = gradOutput * SiLU'(x) for `n` float32 values; `gradX` may be `gradOutput` itself. */
export function siluBackward(x: usize, gy: usize, gradX: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const v = v128.load(at32(x, i));
    const g = v128.load(at32(gy, i));
    v128.store(at32(gradX, i), pack(f64x2.mul(low(g), siluDerivativeLanes(low(v))), f64x2.mul(high(g), siluDerivativeLanes(high(v)))));
  }
  for (; i < n; i++) write(gradX, i, read(gy, i) * f64x2.extract_lane(siluDerivativeLanes(f64x2.splat(read(x, i))), 0));
}

// ReLU in f32x4 lanes, the js loops' comparisons exactly (no arithmetic, so the same bits): out = x < 0 ?
// 0 : x (pmax keeps x when x < 0 is false: NaN and -0 pass through, as in PyTorch), and the gradient
// passes unless x <= 0 (so it passes at NaN). Branch-free: the js loops branch per element, and on
// activations of random sign each branch is a coin flip the predictor loses half the time.

/** out = relu(x) for `n` float32 values; `out` may be `x`. */
export function reluForward(x: usize, out: usize, n: i32): void {
  const zero = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(at32(out, i), f32x4.pmax(v128.load(at32(x, i)), zero));
  for (; i < n; i++) {
    const v = load<f32>(at32(x, i));
    store<f32>(at32(out, i), v < 0 ? 0 : v);
  }
}

/** gradX = x <= 0 ? 0 : gy for `n` float32 values; `gradX` may be `gy` itself. */
export function reluBackward(x: usize, gy: usize, gradX: usize, n: i32): void {
  const zero = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(at32(gradX, i), v128.andnot(v128.load(at32(gy, i)), f32x4.le(v128.load(at32(x, i)), zero)));
  for (; i < n; i++) store<f32>(at32(gradX, i), load<f32>(at32(x, i)) <= 0 ? 0 : load<f32>(at32(gy, i)));
}

