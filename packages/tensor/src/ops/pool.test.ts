import { describe, expect, it } from 'vitest';
import { graphOps } from '../autograd';
import { arange, ones, randn, tensor } from '../creation';
import { OptionError, ShapeError } from '../errors';
import { gradcheck } from '../gradcheck';
import { Generator } from '../random';
import type { Tensor } from '../tensor';
import { expectClose, expectGradcheck } from '../test-utils';
import { adaptiveAvgPool2d, avgPool2d, maxPool2d } from './pool';

const f64 = (seed: number, requiresGrad = true) => ({ dtype: 'float64' as const, requiresGrad, generator: new Generator(seed) });
/** 0..15 as a [1, 1, 4, 4] image. */
const grid4 = () => tensor(arange(0, 16, 1, { dtype: 'float64' }).data, { shape: [1, 1, 4, 4] });

/** Mean of every window by brute force over the padded image, for any divisor rule. */
function naiveAvgPool(x: Tensor, k: [number, number], s: [number, number], p: [number, number], includePad: boolean): number[] {
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const outH = Math.floor((H + 2 * p[0] - k[0]) / s[0]) + 1;
  const outW = Math.floor((W + 2 * p[1] - k[1]) / s[1]) + 1;
  const out: number[] = [];
  for (let plane = 0; plane < N * C; plane++) {
    for (let oh = 0; oh < outH; oh++) {
      for (let ow = 0; ow < outW; ow++) {
        let total = 0;
        let inBounds = 0;
        for (let i = 0; i < k[0]; i++) {
          for (let j = 0; j < k[1]; j++) {
            const ih = oh * s[0] - p[0] + i;
            const iw = ow * s[1] - p[1] + j;
            if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
            total += x.data[(plane * H + ih) * W + iw]!;
            inBounds++;
          }
        }
        out.push(total / (includePad ? k[0] * k[1] : inBounds));
      }
    }
  }
  return out;
}

describe('avgPool2d', () => {
  it('averages non-overlapping 2x2 windows by default', () => {
    expect(avgPool2d(grid4(), 2).toArray()).toEqual([[[[2.5, 4.5], [10.5, 12.5]]]]);
  });

  it('counts padded zeros in the divisor by default and not with countIncludePad: false', () => {
    const x = ones([1, 1, 3, 3], { dtype: 'float64' });
    expectClose(avgPool2d(x, 3, { stride: 1, padding: 1 }), [4, 6, 4, 6, 9, 6, 4, 6, 4].map((v) => v / 9), 1e-15);
    expect([...avgPool2d(x, 3, { stride: 1, padding: 1, countIncludePad: false }).data]).toEqual(new Array(9).fill(1));
  });

  it('matches brute force with per-axis kernel, stride and padding', () => {
    const x = randn([2, 3, 7, 8], f64(1, false));
    for (const includePad of [true, false]) {
      const y = avgPool2d(x, [3, 2], { stride: [2, 1], padding: [1, 1], countIncludePad: includePad });
      expect(y.shape).toEqual([2, 3, 4, 9]);
      expectClose(y, naiveAvgPool(x, [3, 2], [2, 1], [1, 1], includePad), 1e-14);
    }
  });

  it('accepts [C, H, W] input, keeps float32, and is one node', () => {
    const x = randn([3, 4, 4], { requiresGrad: true });
    const y = avgPool2d(x, 2);
    expect(y.shape).toEqual([3, 2, 2]);
    expect(y.dtype).toBe('float32');
    expect(graphOps(y)).toEqual(['avgPool2d']);
  });

  it('passes gradcheck in float64 (overlapping, padded, both divisor rules)', () => {
    const x = randn([2, 2, 5, 6], f64(2));
    expectGradcheck(gradcheck((t) => avgPool2d(t, 2), [x]));
    expectGradcheck(gradcheck((t) => avgPool2d(t, 3, { stride: 2, padding: 1 }), [x]));
    expectGradcheck(gradcheck((t) => avgPool2d(t, [3, 2], { stride: 1, padding: [1, 1], countIncludePad: false }), [x]));
  });
});

describe('maxPool2d', () => {
  it('takes window maxima', () => {
    expect(maxPool2d(grid4(), 2).toArray()).toEqual([[[[5, 7], [13, 15]]]]);
    // padding is -infinity, never zero: an all-negative image keeps its own maxima
    const negative = tensor([[[[-5, -4], [-3, -2]]]]);
    expect(maxPool2d(negative, 3, { stride: 1, padding: 1 }).toArray()).toEqual([[[[-2, -2], [-2, -2]]]]);
  });

  it('spaces taps by the dilation', () => {
    // kernel 2, dilation 2, stride 1 on the 4x4 grid: window (oh, ow) reads rows oh, oh + 2 and columns ow, ow + 2
    expect(maxPool2d(grid4(), 2, { stride: 1, dilation: 2 }).toArray()).toEqual([[[[10, 11], [14, 15]]]]);
  });

  it('sends the gradient to the first maximum on ties (PyTorch CPU order)', () => {
    const x = tensor([[[[1, 3, 3], [3, 0, 2], [1, 3, 3]]]], { dtype: 'float64', requiresGrad: true });
    const y = maxPool2d(x, 2, { stride: 1 });
    expect(y.toArray()).toEqual([[[[3, 3], [3, 3]]]]);
    y.backward(1);
    // windows 0 and 1 both pick (0, 1); window 2 picks (1, 0); window 3 picks (2, 1): values checked against torch 1.13
    expect(x.grad!.toArray()).toEqual([[[[0, 2, 0], [1, 0, 0], [0, 1, 0]]]]);
  });

  it('propagates NaN', () => {
    const y = maxPool2d(tensor([[[[1, NaN], [3, 2]]]]), 2);
    expect(Number.isNaN(y.item())).toBe(true);
  });

  it('matches a brute-force maximum with stride, padding and dilation', () => {
    const x = randn([2, 2, 7, 9], f64(3, false));
    const [k, s, p, d] = [[3, 2], [2, 3], [1, 1], [2, 1]] as const;
    const y = maxPool2d(x, k, { stride: s, padding: p, dilation: d });
    const outH = Math.floor((7 + 2 * p[0] - d[0] * (k[0] - 1) - 1) / s[0]) + 1;
    const outW = Math.floor((9 + 2 * p[1] - d[1] * (k[1] - 1) - 1) / s[1]) + 1;
    expect(y.shape).toEqual([2, 2, outH, outW]);
    const expected: number[] = [];
    for (let plane = 0; plane < 4; plane++) {
      for (let oh = 0; oh < outH; oh++) {
        for (let ow = 0; ow < outW; ow++) {
          let best = -Infinity;
          for (let i = 0; i < k[0]; i++) for (let j = 0; j < k[1]; j++) {
            const ih = oh * s[0] - p[0] + i * d[0];
            const iw = ow * s[1] - p[1] + j * d[1];
            if (ih >= 0 && ih < 7 && iw >= 0 && iw < 9) best = Math.max(best, x.data[(plane * 7 + ih) * 9 + iw]!);
          }
          expected.push(best);
        }
      }
    }
    expectClose(y, expected, 0, 0);
  });

  it('is one node and passes gradcheck in float64', () => {
    const x = randn([2, 2, 5, 6], f64(4));
    expect(graphOps(maxPool2d(x, 2))).toEqual(['maxPool2d']);
    expectGradcheck(gradcheck((t) => maxPool2d(t, 2), [x]));
    expectGradcheck(gradcheck((t) => maxPool2d(t, 3, { stride: 2, padding: 1 }), [x]));
    expectGradcheck(gradcheck((t) => maxPool2d(t, [2, 3], { stride: 1, dilation: 2, padding: [1, 0] }), [x]));
  });
});

describe('adaptiveAvgPool2d', () => {
  it('uses the PyTorch windows [floor(o * in / out), ceil((o + 1) * in / out))', () => {
    // in 5 -> out 3: windows [0, 2), [1, 4), [3, 5) over 0..4
    const x = tensor(arange(0, 5, 1, { dtype: 'float64' }).data, { shape: [1, 1, 1, 5] });
    expect(adaptiveAvgPool2d(x, [1, 3]).toArray()).toEqual([[[[0.5, 2, 3.5]]]]);
  });

  it('is global average pooling for [1, 1] and plain average pooling for divisible sizes', () => {
    const x = randn([2, 3, 6, 4], f64(5, false));
    const global = adaptiveAvgPool2d(x, 1);
    expect(global.shape).toEqual([2, 3, 1, 1]);
    const means: number[] = [];
    for (let plane = 0; plane < 6; plane++) {
      let total = 0;
      for (const v of x.data.subarray(plane * 24, (plane + 1) * 24)) total += v;
      means.push(total / 24);
    }
    expectClose(global, means, 1e-14);
    expectClose(adaptiveAvgPool2d(x, [3, 2]), avgPool2d(x, 2), 1e-14);
    expectClose(adaptiveAvgPool2d(x, [2, 1]), avgPool2d(x, [3, 4]), 1e-14);
  });

  it('accepts [C, H, W] input, is one node, and passes gradcheck (overlapping windows, upsampling)', () => {
    expect(adaptiveAvgPool2d(randn([3, 5, 5]), [2, 2]).shape).toEqual([3, 2, 2]);
    const x = randn([1, 2, 5, 7], f64(6));
    expect(graphOps(adaptiveAvgPool2d(x, [3, 4]))).toEqual(['adaptiveAvgPool2d']);
    expectGradcheck(gradcheck((t) => adaptiveAvgPool2d(t, [3, 4]), [x]));
    expectGradcheck(gradcheck((t) => adaptiveAvgPool2d(t, [1, 1]), [x]));
    expectGradcheck(gradcheck((t) => adaptiveAvgPool2d(t, [7, 9]), [x]));
  });
});

describe('pooling errors', () => {
  it('refuses wrong ranks, over-large padding, empty outputs and bad sizes', () => {
    expect(() => avgPool2d(randn([4, 4]), 2)).toThrow(ShapeError);
    expect(() => avgPool2d(randn([4, 4]), 2)).toThrow(/avgPool2d: expected an input of shape \[N, C, H, W\] or \[C, H, W\], got shape \[4, 4\] \(rank 2\)/);
    expect(() => maxPool2d(randn([1, 1, 1, 4, 4]), 2)).toThrow(/maxPool2d: expected an input of shape \[N, C, H, W\] or \[C, H, W\]/);
    expect(() => adaptiveAvgPool2d(randn([4]), 1)).toThrow(/adaptiveAvgPool2d: expected an input of shape/);
    expect(() => avgPool2d(randn([1, 1, 4, 4]), 2, { padding: 2 })).toThrow(OptionError);
    expect(() => maxPool2d(randn([1, 1, 4, 4]), 3, { padding: 2 })).toThrow(/maxPool2d: expected padding at most half the kernel size \[3, 3\], got padding \[2, 2\]/);
    expect(() => maxPool2d(randn([1, 1, 2, 2]), 3)).toThrow(/at least as large as the dilated kernel/);
    expect(() => avgPool2d(randn([1, 1, 4, 4]), 0)).toThrow(/kernelSize to be an integer >= 1/);
    expect(() => avgPool2d(randn([1, 1, 4, 4]), 2, { stride: [1, 0] })).toThrow(/stride\[1\] to be an integer >= 1/);
    expect(() => adaptiveAvgPool2d(randn([1, 1, 4, 4]), [0, 2])).toThrow(/outputSize\[0\] to be an integer >= 1/);
    expect(() => adaptiveAvgPool2d(randn([1, 1, 0, 4]), [1, 1])).toThrow(/non-empty spatial dims/);
  });
});
