import { describe, expect, it } from 'vitest';
import { graphOps } from '../autograd';
import { arange, ones, randn, tensor } from '../creation';
import { OptionError, ShapeError } from '../errors';
import { gradcheck } from '../gradcheck';
import { Generator } from '../random';
import type { Tensor } from '../tensor';
import { expectClose, expectGradcheck } from '../test-utils';
import { conv2d, convTranspose2d } from './conv';

interface Geometry {
  stride?: [number, number];
  padding?: [number, number];
  dilation?: [number, number];
  groups?: number;
}

/** The definition, written as seven plain loops (batch, out channel, out row, out column, in channel, kernel row, kernel column). */
function naiveConv2d(x: Tensor, w: Tensor, b: Tensor | null, geometry: Geometry): { data: Float64Array; shape: number[] } {
  const [sH, sW] = geometry.stride ?? [1, 1];
  const [pH, pW] = geometry.padding ?? [0, 0];
  const [dH, dW] = geometry.dilation ?? [1, 1];
  const groups = geometry.groups ?? 1;
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const [O, Cg, kH, kW] = w.shape as [number, number, number, number];
  const Og = O / groups;
  const outH = Math.floor((H + 2 * pH - dH * (kH - 1) - 1) / sH) + 1;
  const outW = Math.floor((W + 2 * pW - dW * (kW - 1) - 1) / sW) + 1;
  const out = new Float64Array(N * O * outH * outW);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++) {
      const g = Math.floor(o / Og);
      for (let oh = 0; oh < outH; oh++) {
        for (let ow = 0; ow < outW; ow++) {
          let total = b === null ? 0 : b.data[o]!;
          for (let c = 0; c < Cg; c++) {
            for (let i = 0; i < kH; i++) {
              for (let j = 0; j < kW; j++) {
                const ih = oh * sH - pH + i * dH;
                const iw = ow * sW - pW + j * dW;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                total += w.data[((o * Cg + c) * kH + i) * kW + j]! * x.data[((n * C + g * Cg + c) * H + ih) * W + iw]!;
              }
            }
          }
          out[((n * O + o) * outH + oh) * outW + ow] = total;
        }
      }
    }
  }
  return { data: out, shape: [N, O, outH, outW] };
}

/** Transposed convolution by direct scattering, independent of the im2col code path. */
function naiveConvTranspose2d(
  x: Tensor, w: Tensor, b: Tensor | null, geometry: Geometry & { outputPadding?: [number, number] },
): { data: Float64Array; shape: number[] } {
  const [sH, sW] = geometry.stride ?? [1, 1];
  const [pH, pW] = geometry.padding ?? [0, 0];
  const [dH, dW] = geometry.dilation ?? [1, 1];
  const [opH, opW] = geometry.outputPadding ?? [0, 0];
  const groups = geometry.groups ?? 1;
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const [, Og, kH, kW] = w.shape as [number, number, number, number];
  const Cg = C / groups;
  const O = Og * groups;
  const outH = (H - 1) * sH - 2 * pH + dH * (kH - 1) + opH + 1;
  const outW = (W - 1) * sW - 2 * pW + dW * (kW - 1) + opW + 1;
  const out = new Float64Array(N * O * outH * outW);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++) for (let p = 0; p < outH * outW; p++) out[(n * O + o) * outH * outW + p] = b === null ? 0 : b.data[o]!;
    for (let c = 0; c < C; c++) {
      const g = Math.floor(c / Cg);
      for (let h = 0; h < H; h++) {
        for (let v = 0; v < W; v++) {
          for (let o = 0; o < Og; o++) {
            for (let i = 0; i < kH; i++) {
              for (let j = 0; j < kW; j++) {
                const oh = h * sH - pH + i * dH;
                const ow = v * sW - pW + j * dW;
                if (oh < 0 || oh >= outH || ow < 0 || ow >= outW) continue;
                out[((n * O + g * Og + o) * outH + oh) * outW + ow]! += x.data[((n * C + c) * H + h) * W + v]! * w.data[((c * Og + o) * kH + i) * kW + j]!;
              }
            }
          }
        }
      }
    }
  }
  return { data: out, shape: [N, O, outH, outW] };
}

function dot(a: Tensor, b: Tensor): number {
  let total = 0;
  for (let i = 0; i < a.size; i++) total += a.data[i]! * b.data[i]!;
  return total;
}

const f64 = (seed: number, requiresGrad = false) => ({ dtype: 'float64' as const, generator: new Generator(seed), requiresGrad });

const CASES: Array<{ name: string; x: number[]; w: number[]; geometry: Geometry }> = [
  { name: 'plain 3x3', x: [2, 3, 6, 5], w: [4, 3, 3, 3], geometry: {} },
  { name: 'stride 2, padding 1', x: [2, 3, 7, 6], w: [4, 3, 3, 3], geometry: { stride: [2, 2], padding: [1, 1] } },
  { name: 'dilation 2, padding 2', x: [1, 2, 7, 7], w: [3, 2, 3, 3], geometry: { dilation: [2, 2], padding: [2, 2] } },
  { name: 'groups 2', x: [2, 4, 5, 5], w: [6, 2, 3, 3], geometry: { groups: 2, padding: [1, 1] } },
  { name: 'depthwise', x: [1, 3, 5, 6], w: [3, 1, 3, 3], geometry: { groups: 3 } },
  { name: 'non-square kernel, per-axis options', x: [2, 2, 8, 7], w: [3, 2, 2, 3], geometry: { stride: [2, 1], padding: [0, 2], dilation: [1, 2] } },
  { name: 'kernel larger than stride with padding and dilation', x: [1, 2, 9, 9], w: [2, 1, 3, 2], geometry: { stride: [3, 2], padding: [2, 1], dilation: [2, 3], groups: 2 } },
  { name: '1x1', x: [3, 5, 4, 4], w: [2, 5, 1, 1], geometry: {} },
];

describe('conv2d', () => {
  it('computes a hand-checked 3x3 box filter with padding 1', () => {
    // Each output is the sum of the (zero-padded) 3x3 neighbourhood of 0..15 laid out as a 4x4 image.
    const x = tensor(arange(0, 16, 1, { dtype: 'float64' }).data, { shape: [1, 1, 4, 4] });
    const y = conv2d(x, ones([1, 1, 3, 3], { dtype: 'float64' }), null, { padding: 1 });
    expect(y.shape).toEqual([1, 1, 4, 4]);
    expect(y.toArray()).toEqual([[[[10, 18, 24, 18], [27, 45, 54, 39], [51, 81, 90, 63], [42, 66, 72, 50]]]]);
  });

  for (const { name, x: xShape, w: wShape, geometry } of CASES) {
    it(`matches the 7-loop definition: ${name}`, () => {
      const x = randn(xShape, f64(1));
      const w = randn(wShape, f64(2));
      const b = randn([wShape[0]!], f64(3));
      const expected = naiveConv2d(x, w, b, geometry);
      const y = conv2d(x, w, b, geometry);
      expect(y.shape).toEqual(expected.shape);
      expectClose(y, expected.data, 1e-12, 1e-12);
      expectClose(conv2d(x, w, null, geometry), naiveConv2d(x, w, null, geometry).data, 1e-12, 1e-12);
    });
  }

  it('accepts scalar options for both axes', () => {
    const x = randn([1, 2, 9, 8], f64(4));
    const w = randn([2, 1, 3, 3], f64(5));
    const scalar = conv2d(x, w, null, { stride: 2, padding: 1, dilation: 2, groups: 2 });
    const pair = conv2d(x, w, null, { stride: [2, 2], padding: [1, 1], dilation: [2, 2], groups: 2 });
    expect(scalar.shape).toEqual([1, 2, 4, 3]);
    expectClose(scalar, pair, 0, 0);
  });

  it('keeps float32 inputs float32 and agrees with the float64 reference', () => {
    const x = randn([2, 4, 9, 9], { generator: new Generator(6) });
    const w = randn([8, 4, 3, 3], { generator: new Generator(7) });
    const b = randn([8], { generator: new Generator(8) });
    const y = conv2d(x, w, b, { padding: 1 });
    expect(y.dtype).toBe('float32');
    expectClose(y, naiveConv2d(x, w, b, { padding: [1, 1] }).data, 1e-5, 1e-5);
  });

  it('is one autograd node', () => {
    const x = randn([1, 2, 4, 4], f64(9, true));
    const w = randn([3, 2, 3, 3], f64(10, true));
    const b = randn([3], f64(11, true));
    expect(graphOps(conv2d(x, w, b))).toEqual(['conv2d']);
  });

  for (const { name, x: xShape, w: wShape, geometry } of CASES.slice(0, 7)) {
    it(`passes gradcheck in float64 for x, weight and bias: ${name}`, () => {
      const x = randn(xShape.map((d, i) => (i === 0 ? 1 : d)), f64(12, true));
      const w = randn(wShape, f64(13, true));
      const b = randn([wShape[0]!], f64(14, true));
      expectGradcheck(gradcheck((xi, wi, bi) => conv2d(xi, wi, bi, geometry), [x, w, b]));
    });
  }

  it('passes gradcheck across a batch, without bias, and with only the weight requiring grad', () => {
    const x = randn([3, 2, 5, 4], f64(15, true));
    const w = randn([2, 1, 2, 2], f64(16, true));
    expectGradcheck(gradcheck((xi, wi) => conv2d(xi, wi, null, { stride: 2, padding: 1, groups: 2 }), [x, w]));
    const frozen = randn([3, 2, 5, 4], f64(17));
    const w2 = randn([3, 2, 2, 2], f64(32, true));
    expectGradcheck(gradcheck((wi) => conv2d(frozen, wi, null, { dilation: 2 }), [w2]));
  });

  it('accumulates gradients when one input is used twice', () => {
    const x = randn([1, 2, 5, 5], f64(18, true));
    const w = randn([2, 2, 3, 3], f64(19, true));
    expectGradcheck(gradcheck((xi, wi) => conv2d(conv2d(xi, wi, null, { padding: 1 }), wi, null), [x, w]));
  });

  it('refuses wrong ranks, channel mismatches, groups that do not divide, bad biases and options', () => {
    const x = randn([2, 4, 6, 6]);
    expect(() => conv2d(randn([4, 6, 6]), randn([2, 4, 3, 3]), null)).toThrow(ShapeError);
    expect(() => conv2d(randn([4, 6, 6]), randn([2, 4, 3, 3]), null)).toThrow(/conv2d: expected an input of shape \[N, C, H, W\] \(rank 4\), got shape \[4, 6, 6\]/);
    expect(() => conv2d(x, randn([2, 4, 3]), null)).toThrow(/conv2d: expected a weight of shape \[Cout, Cin \/ groups, kH, kW\].*\[2, 4, 3\]/);
    expect(() => conv2d(x, randn([2, 3, 3, 3]), null)).toThrow(/weight.shape\[1\] \* groups to equal the input channels \(4\).*\[2, 3, 3, 3\] with groups = 1/);
    expect(() => conv2d(x, randn([3, 4, 3, 3]), null, { groups: 3 })).toThrow(/input channels divisible by groups \(3\), got input channels = 4/);
    expect(() => conv2d(x, randn([3, 2, 3, 3]), null, { groups: 2 })).toThrow(/output channels \(weight.shape\[0\]\) divisible by groups \(2\), got .* = 3/);
    expect(() => conv2d(x, randn([2, 4, 3, 3]), randn([3]))).toThrow(/a bias of shape \[2\].*got \[3\]/);
    expect(() => conv2d(x, randn([2, 4, 7, 3]), null)).toThrow(/at least as large as the dilated kernel.*output \[0, 4\]/);
    expect(() => conv2d(x, randn([2, 4, 3, 3]), null, { stride: 0 })).toThrow(OptionError);
    expect(() => conv2d(x, randn([2, 4, 3, 3]), null, { stride: 0 })).toThrow(/conv2d: expected stride to be an integer >= 1, got stride = 0/);
    expect(() => conv2d(x, randn([2, 4, 3, 3]), null, { padding: [1, -1] })).toThrow(/padding\[1\] to be an integer >= 0/);
    expect(() => conv2d(x, randn([2, 4, 3, 3]), null, { dilation: 1.5 })).toThrow(/dilation to be an integer >= 1/);
    expect(() => conv2d(x, randn([2, 2, 3, 3]), null, { groups: 0 })).toThrow(/groups to be an integer >= 1/);
  });
});

describe('convTranspose2d', () => {
  const TRANSPOSE_CASES: Array<{ name: string; x: number[]; w: number[]; geometry: Geometry & { outputPadding?: [number, number] } }> = [
    { name: 'plain', x: [2, 3, 4, 5], w: [3, 2, 3, 3], geometry: {} },
    { name: 'stride 2, padding 1, outputPadding 1', x: [2, 3, 4, 4], w: [3, 2, 4, 3], geometry: { stride: [2, 2], padding: [1, 1], outputPadding: [1, 0] } },
    { name: 'dilation 2, groups 2', x: [1, 4, 4, 3], w: [4, 3, 3, 3], geometry: { dilation: [2, 2], groups: 2, padding: [1, 2] } },
    { name: 'stride 3 with outputPadding under the dilation', x: [1, 2, 3, 3], w: [2, 2, 2, 2], geometry: { stride: [1, 3], dilation: [3, 1], outputPadding: [2, 2] } },
  ];

  it('computes a hand-checked strided example', () => {
    // A 2x2 input, stride 2, ones kernel 2x2: every input pixel becomes a 2x2 block.
    const x = tensor([[[[1, 2], [3, 4]]]], { dtype: 'float64' });
    const y = convTranspose2d(x, ones([1, 1, 2, 2], { dtype: 'float64' }), tensor([10], { dtype: 'float64' }), { stride: 2 });
    expect(y.toArray()).toEqual([[[[11, 11, 12, 12], [11, 11, 12, 12], [13, 13, 14, 14], [13, 13, 14, 14]]]]);
  });

  for (const { name, x: xShape, w: wShape, geometry } of TRANSPOSE_CASES) {
    it(`matches a direct scattering reference: ${name}`, () => {
      const x = randn(xShape, f64(20));
      const w = randn(wShape, f64(21));
      const b = randn([wShape[1]! * (geometry.groups ?? 1)], f64(22));
      const expected = naiveConvTranspose2d(x, w, b, geometry);
      const y = convTranspose2d(x, w, b, geometry);
      expect(y.shape).toEqual(expected.shape);
      expectClose(y, expected.data, 1e-12, 1e-12);
    });

    it(`passes gradcheck in float64: ${name}`, () => {
      const x = randn(xShape.map((d, i) => (i === 0 ? 1 : d)), f64(23, true));
      const w = randn(wShape, f64(24, true));
      const b = randn([wShape[1]! * (geometry.groups ?? 1)], f64(25, true));
      expectGradcheck(gradcheck((xi, wi, bi) => convTranspose2d(xi, wi, bi, geometry), [x, w, b]));
    });
  }

  it('is the adjoint of conv2d with the same weight: <conv2d(x), y> = <x, convTranspose2d(y)>', () => {
    const settings: Array<{ x: number[]; w: number[]; geometry: Geometry }> = [
      { x: [2, 3, 7, 6], w: [4, 3, 3, 3], geometry: {} },
      { x: [2, 3, 8, 7], w: [4, 3, 3, 3], geometry: { stride: [2, 2], padding: [1, 1] } },
      { x: [1, 4, 9, 9], w: [6, 2, 3, 2], geometry: { stride: [2, 3], padding: [2, 1], dilation: [2, 2], groups: 2 } },
      { x: [2, 4, 6, 5], w: [4, 1, 3, 3], geometry: { groups: 4, padding: [1, 1] } },
    ];
    for (const { x: xShape, w: wShape, geometry } of settings) {
      const x = randn(xShape, f64(26));
      const w = randn(wShape, f64(27));
      const forward = conv2d(x, w, null, geometry);
      const y = randn([...forward.shape], f64(28));
      // outputPadding recovers the rows/columns the strided conv dropped, so the shapes line up with x.
      const [sH, sW] = geometry.stride ?? [1, 1];
      const [pH, pW] = geometry.padding ?? [0, 0];
      const [dH, dW] = geometry.dilation ?? [1, 1];
      const outputPadding: [number, number] = [
        xShape[2]! - ((forward.shape[2]! - 1) * sH - 2 * pH + dH * (wShape[2]! - 1) + 1),
        xShape[3]! - ((forward.shape[3]! - 1) * sW - 2 * pW + dW * (wShape[3]! - 1) + 1),
      ];
      const back = convTranspose2d(y, w, null, { ...geometry, outputPadding });
      expect(back.shape).toEqual(xShape);
      const lhs = dot(forward, y);
      expect(Math.abs(lhs - dot(x, back))).toBeLessThan(1e-10 * Math.max(1, Math.abs(lhs)));
    }
  });

  it('gives conv2d the input gradient it implies: d<conv2d(x), y>/dx = convTranspose2d(y)', () => {
    const x = randn([2, 4, 7, 7], f64(29, true));
    const w = randn([6, 2, 3, 3], f64(30));
    const out = conv2d(x, w, null, { stride: 2, padding: 1, groups: 2 });
    const y = randn([...out.shape], f64(31));
    out.backward(y);
    expectClose(x.grad!, convTranspose2d(y, w, null, { stride: 2, padding: 1, groups: 2 }), 1e-12, 1e-12);
  });

  it('is one autograd node and keeps float32', () => {
    const x = randn([1, 2, 3, 3], { requiresGrad: true });
    const y = convTranspose2d(x, randn([2, 3, 2, 2]), randn([3]), { stride: 2 });
    expect(y.dtype).toBe('float32');
    expect(y.shape).toEqual([1, 3, 6, 6]);
    expect(graphOps(y)).toEqual(['convTranspose2d']);
  });

  it('refuses wrong ranks, channel mismatches, groups and output paddings out of range', () => {
    const x = randn([1, 4, 5, 5]);
    expect(() => convTranspose2d(randn([4, 5, 5]), randn([4, 2, 3, 3]), null)).toThrow(/convTranspose2d: expected an input of shape \[N, C, H, W\]/);
    expect(() => convTranspose2d(x, randn([4, 2, 3]), null)).toThrow(/expected a weight of shape \[Cin, Cout \/ groups, kH, kW\]/);
    expect(() => convTranspose2d(x, randn([3, 2, 3, 3]), null)).toThrow(/weight.shape\[0\] to equal the input channels \(4\)/);
    expect(() => convTranspose2d(x, randn([4, 2, 3, 3]), null, { groups: 3 })).toThrow(/input channels divisible by groups \(3\)/);
    expect(() => convTranspose2d(x, randn([4, 2, 3, 3]), randn([2]), { groups: 2 })).toThrow(/a bias of shape \[4\]/);
    expect(() => convTranspose2d(x, randn([4, 2, 3, 3]), null, { stride: 2, outputPadding: 2 })).toThrow(OptionError);
    expect(() => convTranspose2d(x, randn([4, 2, 3, 3]), null, { stride: 2, outputPadding: 2 })).toThrow(
      /outputPadding\[0\] smaller than the stride \(2\) or the dilation \(1\), got outputPadding\[0\] = 2/,
    );
    expect(() => convTranspose2d(x, randn([4, 2, 1, 1]), null, { padding: 3 })).toThrow(/output size .* >= 1/);
  });
});
