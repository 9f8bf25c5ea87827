import { describe, expect, it } from 'vitest';
import { graphOps } from '../autograd';
import { randn, tensor } from '../creation';
import type { DType } from '../dtype';
import { gradcheck } from '../gradcheck';
import type { Tensor } from '../tensor';
import { expectClose, expectGradcheck } from '../test-utils';
import { normalize, type NormalizeOptions } from './normalize';

// The row-wise fast path (groups 1, per-element affine, per-row statistics) against the general
// loops. acrossOuter with outerChunk 1 gives one statistic per row too, through the general code:
// the same function, so the two must agree to rounding, forward, statistics and every gradient.

type Affine = 'both' | 'weight' | 'bias' | 'none';

function run(x: Tensor, params: { weight?: Tensor; bias?: Tensor }, center: boolean, mask: Tensor | undefined, general: boolean) {
  const [rows, inner] = [x.shape[0]!, x.shape[1]!];
  const options: NormalizeOptions = {
    op: general ? 'general' : 'rowwise',
    layout: { outer: rows, groups: 1, inner },
    acrossOuter: general,
    ...(general ? { outerChunk: 1 } : {}),
    center,
    eps: 1e-5,
    weight: params.weight ?? null,
    bias: params.bias ?? null,
    affineBlock: 1,
    ...(mask ? { mask: mask.data, maskSpatial: 1 } : {}),
  };
  return normalize(x, options);
}

function makeParams(affine: Affine, inner: number, dtype: DType): { weight?: Tensor; bias?: Tensor } {
  const options = { dtype, requiresGrad: true };
  return {
    ...(affine === 'both' || affine === 'weight' ? { weight: randn([inner], options) } : {}),
    ...(affine === 'both' || affine === 'bias' ? { bias: randn([inner], options) } : {}),
  };
}

describe('normalize: the row-wise fast path', () => {
  // 7, 13 and 1 exercise the tails of the four-way unrolled reductions; 768 the main loop.
  const cases: Array<[number, number]> = [[5, 7], [3, 13], [4, 1], [6, 768]];

  for (const center of [true, false]) {
    for (const affine of ['both', 'weight', 'bias', 'none'] as const) {
      it(`equals the general kernel: center ${center}, affine ${affine}, float64 and float32, with and without a row mask`, () => {
        for (const dtype of ['float64', 'float32'] as const) {
          const tolerance = dtype === 'float64' ? 1e-12 : 2e-5;
          for (const [rows, inner] of cases) {
            for (const masked of [false, true]) {
              const x = randn([rows, inner], { dtype, requiresGrad: true, mean: 3 });
              const params = makeParams(affine, inner, dtype);
              const mask = masked ? tensor(Array.from({ length: rows }, (_, r) => (r % 3 === 1 ? 0 : 1))) : undefined;
              const g = randn([rows, inner], { dtype });
              const tensors = [x, params.weight, params.bias].filter((t): t is Tensor => t !== undefined);
              const results = [true, false].map((general) => {
                for (const t of tensors) t.grad = null;
                const result = run(x, params, center, mask, general);
                result.output.backward(g);
                return { result, grads: tensors.map((t) => t.grad!.clone()) };
              });
              const [general, rowwise] = results as [(typeof results)[0], (typeof results)[0]];
              expectClose(rowwise.result.output, general.result.output, tolerance, tolerance);
              expectClose(rowwise.result.statistics.mean, general.result.statistics.mean, 1e-12, 1e-12);
              expectClose(rowwise.result.statistics.variance, general.result.statistics.variance, 1e-12, 1e-12);
              expectClose(rowwise.result.statistics.count, general.result.statistics.count, 0, 0);
              rowwise.grads.forEach((grad, i) => expectClose(grad, general.grads[i]!, tolerance, tolerance));
            }
          }
        }
      });
    }
  }

  it('is one node, gradchecks, and skips the x gradient when x needs none', () => {
    const x = randn([4, 9], { dtype: 'float64', requiresGrad: true });
    const weight = randn([9], { dtype: 'float64', requiresGrad: true });
    const bias = randn([9], { dtype: 'float64', requiresGrad: true });
    for (const center of [true, false]) {
      const fn = (xx: Tensor, ww: Tensor, bb: Tensor) => run(xx, { weight: ww, bias: bb }, center, undefined, false).output;
      expect(graphOps(fn(x, weight, bias))).toEqual(['rowwise']);
      expectGradcheck(gradcheck(fn, [x, weight, bias]));
    }
    const frozen = randn([4, 9], { dtype: 'float64' });
    weight.grad = null;
    run(frozen, { weight }, true, undefined, false).output.backward(randn([4, 9], { dtype: 'float64' }));
    expect(frozen.grad).toBeNull();
    expect(weight.grad).not.toBeNull();
  });

  it('padded rows output 0 and pass no gradient; constant rows stay finite', () => {
    const x = tensor([[1, 2, 3, 4], [5, 5, 5, 5], [9, -1, 2, 0]], { dtype: 'float64', requiresGrad: true });
    const weight = tensor([1, 2, 3, 4], { dtype: 'float64', requiresGrad: true });
    const bias = tensor([0.5, 0.5, 0.5, 0.5], { dtype: 'float64', requiresGrad: true });
    const y = run(x, { weight, bias }, true, tensor([1, 1, 0]), false).output;
    expect(Array.from(y.data.slice(8))).toEqual([0, 0, 0, 0]);
    // The constant row normalises to 0, leaving the bias.
    expectClose(y.data.slice(4, 8), [0.5, 0.5, 0.5, 0.5], 1e-12);
    y.backward(new Float64Array(12).fill(1));
    expect(Array.from(x.grad!.data.slice(8))).toEqual([0, 0, 0, 0]);
    expect(Array.from(x.grad!.data).every(Number.isFinite)).toBe(true);
    expect(Array.from(bias.grad!.data)).toEqual([2, 2, 2, 2]);
  });
});
