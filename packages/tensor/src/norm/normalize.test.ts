import { describe, expect, it } from 'vitest';
import { graphOps } from '../autograd';
import { randn, scalar, tensor } from '../creation';
import { ShapeError, ValueError } from '../errors';
import { gradcheck } from '../gradcheck';
import { abs, add, div, maximum, mul, sqrt, sub } from '../ops/elementwise';
import { mean, sum, variance } from '../ops/reduce';
import { concat, reshape, slice } from '../ops/shape';
import type { Tensor } from '../tensor';
import { expectClose, expectGradcheck } from '../test-utils';
import { normalize } from './normalize';
import { computeStatistics } from './statistics';

const f64 = { dtype: 'float64' as const, requiresGrad: true };

/** The composed-from-primitives oracle: (x - mean) / sqrt(var + eps) over `axes` (biased variance). */
function reference(x: Tensor, axes: number[], eps: number, center = true): Tensor {
  if (!center) return div(x, sqrt(add(mean(mul(x, x), axes, { keepdim: true }), eps)));
  return div(sub(x, mean(x, axes, { keepdim: true })), sqrt(add(variance(x, axes, { keepdim: true, unbiased: false }), eps)));
}

describe('normalize: the shared fused kernel', () => {
  const [n, c, h, w] = [3, 4, 2, 3];
  const spatial = h * w;

  it('batch layout equals the composed reference, forward and every gradient', () => {
    const x = randn([n, c, h, w], f64);
    const weight = randn([c], f64);
    const bias = randn([c], f64);
    const fused = (xx: Tensor, ww: Tensor, bb: Tensor): Tensor =>
      normalize(xx, { op: 'batchNorm', layout: { outer: n, groups: c, inner: spatial }, acrossOuter: true, center: true, eps: 1e-5, weight: ww, bias: bb, affineBlock: spatial }).output;
    const composed = (xx: Tensor, ww: Tensor, bb: Tensor): Tensor =>
      add(mul(reference(xx, [0, 2, 3], 1e-5), reshape(ww, [1, c, 1, 1])), reshape(bb, [1, c, 1, 1]));
    expectClose(fused(x, weight, bias), composed(x, weight, bias), 1e-12);
    expectGradcheck(gradcheck(fused, [x, weight, bias]));
    // Same gradients as the composed graph, not only the same finite differences.
    const g = randn([n, c, h, w], { dtype: 'float64' });
    for (const t of [x, weight, bias]) t.grad = null;
    fused(x, weight, bias).backward(g);
    const fusedGrads = [x, weight, bias].map((t) => t.grad!.clone());
    for (const t of [x, weight, bias]) t.grad = null;
    composed(x, weight, bias).backward(g);
    [x, weight, bias].forEach((t, i) => expectClose(t.grad!, fusedGrads[i]!, 1e-10));
  });

  it('is one node in the autograd graph', () => {
    const x = randn([n, c, spatial], f64);
    const y = normalize(x, { op: 'batchNorm', layout: { outer: n, groups: c, inner: spatial }, acrossOuter: true, center: true, eps: 1e-5, affineBlock: spatial }).output;
    expect(graphOps(y)).toEqual(['batchNorm']);
  });

  it('instance, group, layer and RMS layouts equal their references', () => {
    const x = randn([n, c, h, w], f64);
    const instance = normalize(x, { op: 'i', layout: { outer: n, groups: c, inner: spatial }, acrossOuter: false, center: true, eps: 1e-5, affineBlock: spatial }).output;
    expectClose(instance, reference(x, [2, 3], 1e-5), 1e-12);
    const groups = 2;
    const group = normalize(x, { op: 'g', layout: { outer: n, groups, inner: (c / groups) * spatial }, acrossOuter: false, center: true, eps: 1e-5, affineBlock: spatial }).output;
    expectClose(group, reshape(reference(reshape(x, [n, groups, (c / groups) * spatial]), [2], 1e-5), [n, c, h, w]), 1e-12);
    const rows = randn([5, 7], f64);
    const weight = randn([7], f64);
    const layer = normalize(rows, { op: 'l', layout: { outer: 5, groups: 1, inner: 7 }, acrossOuter: false, center: true, eps: 1e-5, weight, affineBlock: 1 }).output;
    expectClose(layer, mul(reference(rows, [1], 1e-5), weight), 1e-12);
    const rms = normalize(rows, { op: 'r', layout: { outer: 5, groups: 1, inner: 7 }, acrossOuter: false, center: false, eps: 1e-6, weight, affineBlock: 1 }).output;
    expectClose(rms, mul(reference(rows, [1], 1e-6, false), weight), 1e-12);
    expectGradcheck(gradcheck((r, ww) => normalize(r, { op: 'r', layout: { outer: 5, groups: 1, inner: 7 }, acrossOuter: false, center: false, eps: 1e-6, weight: ww, affineBlock: 1 }).output, [rows, weight]));
    expectGradcheck(gradcheck((xx) => normalize(xx, { op: 'g', layout: { outer: n, groups, inner: (c / groups) * spatial }, acrossOuter: false, center: true, eps: 1e-5, affineBlock: spatial }).output, [x]));
  });

  it('masked statistics equal statistics over the real positions, padded outputs are zero and pass no gradient', () => {
    const length = 5;
    const x = randn([2, 3, length], f64);
    const mask = tensor([1, 1, 1, 0, 0, 1, 1, 1, 1, 0]);
    const run = (xx: Tensor): Tensor =>
      normalize(xx, { op: 'maskedBatchNorm', layout: { outer: 2, groups: 3, inner: length }, acrossOuter: true, center: true, eps: 1e-5, affineBlock: length, mask: mask.data, maskSpatial: length }).output;
    const y = run(x);
    // Reference: per-channel statistics over the real tokens only.
    const channels: number[][] = [[], [], []];
    for (let s = 0; s < 2; s++) for (let ch = 0; ch < 3; ch++) for (let t = 0; t < length; t++) if (mask.data[s * length + t]) channels[ch]!.push(x.data[(s * 3 + ch) * length + t]!);
    for (let s = 0; s < 2; s++) {
      for (let ch = 0; ch < 3; ch++) {
        const values = channels[ch]!;
        const m = values.reduce((a, b) => a + b, 0) / values.length;
        const v = values.reduce((a, b) => a + (b - m) ** 2, 0) / values.length;
        for (let t = 0; t < length; t++) {
          const expected = mask.data[s * length + t] ? (x.data[(s * 3 + ch) * length + t]! - m) / Math.sqrt(v + 1e-5) : 0;
          expect(y.data[(s * 3 + ch) * length + t]).toBeCloseTo(expected, 12);
        }
      }
    }
    // A nonzero upstream gradient on padded positions must not leak into the statistics.
    const upstream = randn([2, 3, length], { dtype: 'float64' });
    run(x).backward(upstream);
    const withPaddedGrad = x.grad!.clone();
    x.grad = null;
    const zeroedUpstream = upstream.clone();
    for (let s = 0; s < 2; s++) for (let ch = 0; ch < 3; ch++) for (let t = 0; t < length; t++) if (!mask.data[s * length + t]) zeroedUpstream.data[(s * 3 + ch) * length + t] = 0;
    run(x).backward(zeroedUpstream);
    expectClose(x.grad!, withPaddedGrad, 0);
    for (let s = 0; s < 2; s++) for (let t = 0; t < length; t++) if (!mask.data[s * length + t]) expect(withPaddedGrad.data[s * 3 * length + t]).toBe(0);
    expectGradcheck(gradcheck(run, [x]));
  });

  it('ghost chunks equal the kernel applied chunk by chunk', () => {
    const x = randn([5, 2, 3], f64);
    const whole = normalize(x, { op: 'ghost', layout: { outer: 5, groups: 2, inner: 3 }, acrossOuter: true, outerChunk: 2, center: true, eps: 1e-5, affineBlock: 3 }).output;
    const pieces = [[0, 2], [2, 4], [4, 5]].map(([a, b]) =>
      normalize(slice(x, 0, a!, b), { op: 'bn', layout: { outer: b! - a!, groups: 2, inner: 3 }, acrossOuter: true, center: true, eps: 1e-5, affineBlock: 3 }).output,
    );
    expectClose(whole, concat(pieces, 0), 1e-12);
  });

  it('an allReduce hook over replicas equals the kernel on the concatenated batch (forward and backward)', () => {
    const [rows, channels, inner] = [6, 3, 4];
    const x = randn([rows, channels, inner], f64);
    const upstream = randn([rows, channels, inner], { dtype: 'float64' });
    const options = { op: 'bn', acrossOuter: true, center: true, eps: 1e-5, affineBlock: inner } as const;
    const full = normalize(x, { ...options, layout: { outer: rows, groups: channels, inner } }).output;
    full.backward(upstream);
    const fullGrad = x.grad!.clone();

    // Replica A holds samples 0..3, replica B samples 4..5. B's contributions to each reduction,
    // in the order the kernel calls allReduce: [counts, sums], squared deviations, backward sums.
    const a = slice(x, 0, 0, 4).detach().requireGrad();
    const b = slice(x, 0, 4, 6).detach();
    const bStats = computeStatistics(b.data, { layout: { outer: 2, groups: channels, inner }, acrossOuter: true, center: true });
    const globalStats = computeStatistics(x.data, { layout: { outer: rows, groups: channels, inner }, acrossOuter: true, center: true });
    const bSquares = new Float64Array(channels);
    const bGradSums = new Float64Array(2 * channels);
    const upstreamB = slice(upstream, 0, 4, 6).data;
    for (let s = 0; s < 2; s++) {
      for (let ch = 0; ch < channels; ch++) {
        const rstd = 1 / Math.sqrt(globalStats.variance[ch]! + 1e-5);
        for (let i = 0; i < inner; i++) {
          const k = (s * channels + ch) * inner + i;
          const d = b.data[k]! - globalStats.mean[ch]!;
          bSquares[ch]! += d * d;
          bGradSums[ch]! += upstreamB[k]!;
          bGradSums[channels + ch]! += upstreamB[k]! * d * rstd;
        }
      }
    }
    const contributions = [
      Float64Array.from([...bStats.count, ...bStats.mean.map((m, ch) => m * bStats.count[ch]!)]),
      bSquares,
      bGradSums,
    ];
    let call = 0;
    const allReduce = (buffer: Float64Array): void => {
      const other = contributions[call++]!;
      for (let i = 0; i < buffer.length; i++) buffer[i]! += other[i]!;
    };
    const outputA = normalize(a, { ...options, layout: { outer: 4, groups: channels, inner }, allReduce }).output;
    expectClose(outputA, slice(full, 0, 0, 4), 1e-12);
    outputA.backward(slice(upstream, 0, 0, 4));
    expect(call).toBe(3);
    expectClose(a.grad!, slice(fullGrad, 0, 0, 4), 1e-12);
  });

  it('fixed statistics give an affine map whose gradient is weight * rstd', () => {
    const x = randn([2, 3, 4], f64);
    const meanValues = new Float64Array([0.5, -1, 2]);
    const varianceValues = new Float64Array([1, 4, 0.25]);
    const weight = randn([3], f64);
    const bias = randn([3], f64);
    const run = (xx: Tensor, ww: Tensor, bb: Tensor): Tensor =>
      normalize(xx, { op: 'eval', layout: { outer: 2, groups: 3, inner: 4 }, acrossOuter: true, center: true, eps: 1e-5, weight: ww, bias: bb, affineBlock: 4, statistics: { mean: meanValues, variance: varianceValues } }).output;
    const y = run(x, weight, bias);
    for (let i = 0; i < x.size; i++) {
      const ch = Math.floor(i / 4) % 3;
      expect(y.data[i]).toBeCloseTo(((x.data[i]! - meanValues[ch]!) / Math.sqrt(varianceValues[ch]! + 1e-5)) * weight.data[ch]! + bias.data[ch]!, 12);
    }
    expectGradcheck(gradcheck(run, [x, weight, bias]));
  });

  it('a scalar-tensor eps receives its gradient (learnable eps)', () => {
    const x = randn([2, 3, 4], f64);
    const eps = scalar(0.3, 'float64').requireGrad();
    const run = (xx: Tensor, e: Tensor): Tensor =>
      normalize(xx, { op: 'frn', layout: { outer: 2, groups: 3, inner: 4 }, acrossOuter: false, center: false, eps: e, affineBlock: 4 }).output;
    expectGradcheck(gradcheck(run, [x, eps]));
  });

  it('learned eps { fixed, learned } is eps = fixed + |learned| inside the one node, with its gradient', () => {
    const x = randn([2, 3, 4], f64);
    const layout = { outer: 2, groups: 3, inner: 4 };
    const run = (xx: Tensor, l: Tensor): Tensor =>
      normalize(xx, { op: 'frn', layout, acrossOuter: false, center: false, eps: { fixed: 1e-3, learned: l }, affineBlock: 4 }).output;
    // The composed oracle: eps = fixed + abs(learned) through the scalar-tensor eps path.
    const composed = (xx: Tensor, l: Tensor): Tensor =>
      normalize(xx, { op: 'frn', layout, acrossOuter: false, center: false, eps: add(abs(l), 1e-3), affineBlock: 4 }).output;
    for (const value of [0.2, -0.3]) {
      const learned = tensor([value], f64);
      expectClose(run(x, learned), reference(x, [2], 1e-3 + Math.abs(value), false), 1e-12);
      expectGradcheck(gradcheck(run, [x, learned]));
      const g = randn([2, 3, 4], { dtype: 'float64' });
      learned.grad = null;
      run(x, learned).backward(g);
      const fusedGrad = learned.grad!.item();
      learned.grad = null;
      composed(x, learned).backward(g);
      expect(fusedGrad).toBeCloseTo(learned.grad!.item(), 12);
      expect(graphOps(run(x, learned))).toEqual(['frn']);
    }
    // At learned = 0, abs has derivative 0 (PyTorch and TensorFlow): the gradient is exactly 0.
    const zero = tensor([0], f64);
    run(x, zero).backward(randn([2, 3, 4], { dtype: 'float64' }));
    expect(zero.grad!.item()).toBe(0);
    expect(() => normalize(x, { op: 'frn', layout, acrossOuter: false, center: false, eps: { fixed: 0, learned: zero }, affineBlock: 4 })).toThrow(/frn: expected a fixed eps > 0/);
    expect(() => normalize(x, { op: 'frn', layout, acrossOuter: false, center: false, eps: { fixed: 1e-3, learned: tensor([0, 0], f64) }, affineBlock: 4 })).toThrow(/one-element eps tensor/);
  });

  it('a threshold epilogue equals maximum(y, threshold) composed from ops, forward and every gradient, ties included', () => {
    const [nn, cc, inner] = [3, 4, 5];
    const layout = { outer: nn, groups: cc, inner };
    const x = randn([nn, cc, inner], f64);
    // Zeros in channel 1 give y = bias exactly; with threshold[1] = bias[1] they tie.
    for (let s = 0; s < nn; s++) x.data[(s * cc + 1) * inner] = 0;
    const weight = randn([cc], f64);
    const bias = randn([cc], f64);
    const threshold = randn([cc], f64);
    threshold.data[1] = bias.data[1]!;
    const fused = (xx: Tensor, ww: Tensor, bb: Tensor, tt: Tensor): Tensor =>
      normalize(xx, { op: 'frnTlu', layout, acrossOuter: false, center: false, eps: 1e-6, weight: ww, bias: bb, threshold: tt, affineBlock: inner }).output;
    const composed = (xx: Tensor, ww: Tensor, bb: Tensor, tt: Tensor): Tensor =>
      maximum(normalize(xx, { op: 'frn', layout, acrossOuter: false, center: false, eps: 1e-6, weight: ww, bias: bb, affineBlock: inner }).output, reshape(tt, [1, cc, 1]));
    const inputs = [x, weight, bias, threshold];
    expectClose(fused(x, weight, bias, threshold), composed(x, weight, bias, threshold), 0);
    const g = randn([nn, cc, inner], { dtype: 'float64' });
    for (const t of inputs) t.grad = null;
    fused(x, weight, bias, threshold).backward(g);
    const fusedGrads = inputs.map((t) => t.grad!.clone());
    for (const t of inputs) t.grad = null;
    composed(x, weight, bias, threshold).backward(g);
    inputs.forEach((t, i) => expectClose(fusedGrads[i]!, t.grad!, 1e-12));
    expect(graphOps(fused(x, weight, bias, threshold))).toEqual(['frnTlu']);
    // Away from ties the function is differentiable: finite differences agree.
    threshold.data[1] = bias.data[1]! - 0.5;
    expectGradcheck(gradcheck(fused, inputs));
    // The threshold clips something and leaves something: both branches are exercised.
    const y = fused(x, weight, bias, threshold);
    const clipped = Array.from(y.data).filter((v, i) => v === threshold.data[Math.floor(i / inner) % cc]).length;
    expect(clipped).toBeGreaterThan(0);
    expect(clipped).toBeLessThan(y.size);
    expect(() => fused(x, weight, bias, randn([cc + 1], f64))).toThrow(/frnTlu: expected threshold with 4 elements/);
  });

  it('a threshold with a mask: padded outputs stay 0 and give the threshold no gradient', () => {
    const length = 4;
    const mask = tensor([1, 1, 0, 0, 1, 1, 1, 0]);
    const x = randn([2, 3, length], f64);
    const threshold = tensor([5, 5, 5], f64).requireGrad();
    const y = normalize(x, { op: 'm', layout: { outer: 2, groups: 3, inner: length }, acrossOuter: false, center: false, eps: 1e-6, threshold, affineBlock: length, mask: mask.data, maskSpatial: length }).output;
    // Every real position is clipped to 5 (|xhat| < 2 here), every padded one is 0.
    for (let i = 0; i < y.size; i++) expect(y.data[i]).toBe(mask.data[Math.floor(i / (3 * length)) * length + (i % length)] ? 5 : 0);
    y.backward(new Float64Array(y.size).fill(1));
    // Real positions per sample: 2 and 3, so each channel's threshold collects 5.
    expect(Array.from(threshold.grad!.data)).toEqual([5, 5, 5]);
    expect(Array.from(x.grad!.data).every((v) => v === 0)).toBe(true);
  });

  it('constant rows give finite outputs (zero variance)', () => {
    const x = tensor([[3, 3, 3, 3]], { dtype: 'float64' });
    const y = normalize(x, { op: 'l', layout: { outer: 1, groups: 1, inner: 4 }, acrossOuter: false, center: true, eps: 1e-5, affineBlock: 1 }).output;
    expect(Array.from(y.data)).toEqual([0, 0, 0, 0]);
    expect(sum(y).item()).toBe(0);
  });

  it('refuses a layout that does not match, wrong weight size, bad eps, wrong mask size', () => {
    const x = randn([2, 3, 4]);
    const base = { op: 'bn', acrossOuter: true, center: true, affineBlock: 4 } as const;
    expect(() => normalize(x, { ...base, layout: { outer: 2, groups: 4, inner: 4 }, eps: 1e-5 })).toThrow(ShapeError);
    expect(() => normalize(x, { ...base, layout: { outer: 2, groups: 3, inner: 4 }, eps: 1e-5, weight: randn([4]) })).toThrow(/bn: expected weight with 3 elements/);
    expect(() => normalize(x, { ...base, layout: { outer: 2, groups: 3, inner: 4 }, eps: 0 })).toThrow(ValueError);
    expect(() => normalize(x, { ...base, layout: { outer: 2, groups: 3, inner: 4 }, eps: 1e-5, mask: new Float32Array(3) })).toThrow(/mask of 8 values/);
  });

  it('refuses fixed statistics whose mean or variance has the wrong length, on the batch and the general path', () => {
    const x = randn([2, 3, 4]);
    const layout = { outer: 2, groups: 3, inner: 4 };
    const three = new Float64Array(3).fill(1);
    const two = new Float64Array(2).fill(1);
    for (const affineBlock of [4, 2]) {
      const base = { op: 'bn', layout, acrossOuter: true, center: true, eps: 1e-5, affineBlock } as const;
      expect(() => normalize(x, { ...base, statistics: { mean: two, variance: three } })).toThrow(/bn: expected 3 statistics/);
      expect(() => normalize(x, { ...base, statistics: { mean: three, variance: two } })).toThrow(/bn: expected 3 statistics/);
    }
  });
});

describe('normalize: the general loop (no fast path takes a padding mask with a per-channel affine)', () => {
  it('gradcheck w.r.t. x, weight, bias, a learned eps and the threshold, each gradient by its name', () => {
    const [n, c, l] = [2, 3, 4];
    const x = randn([n, c, l], { dtype: 'float64', requiresGrad: true });
    const weight = randn([c], { dtype: 'float64', requiresGrad: true });
    const bias = randn([c], { dtype: 'float64', requiresGrad: true });
    const learned = tensor([0.3], { dtype: 'float64', requiresGrad: true });
    const threshold = tensor([-0.5, -0.2, -0.8], { dtype: 'float64', requiresGrad: true });
    const mask = Float64Array.from([1, 1, 1, 0, 1, 1, 0, 0]);
    const run = (xx: Tensor, w: Tensor, b: Tensor, e: Tensor, t: Tensor) =>
      normalize(xx, {
        op: 'general', layout: { outer: n, groups: c, inner: l }, acrossOuter: false, center: true, affineBlock: l,
        mask, maskSpatial: l, eps: { fixed: 1e-3, learned: e }, weight: w, bias: b, threshold: t,
      }).output;
    expect(graphOps(run(x, weight, bias, learned, threshold))).toEqual(['general']);
    expectGradcheck(gradcheck((xx, w, b, e, t) => run(xx, w, b, e, t), [x, weight, bias, learned, threshold]));
  });
});
