import { describe, expect, it } from 'vitest';
import { graphOps } from '../autograd';
import { ones, randn } from '../creation';
import type { DType } from '../dtype';
import { gradcheck } from '../gradcheck';
import type { Tensor } from '../tensor';
import { expectClose, expectGradcheck } from '../test-utils';
import { normalize, type NormalizeOptions } from './normalize';

// The batch fast path (acrossOuter statistics, per-channel affine: BatchNorm, GhostBatchNorm,
// SyncBatchNorm) against the general loops. A mask of all ones sends the same computation through
// the general code, so the two must agree to rounding: forward, statistics, every gradient and
// every buffer handed to allReduce, in the same order.

interface Case {
  outer: number;
  groups: number;
  inner: number;
  outerChunk?: number;
}

const cases: Case[] = [
  { outer: 5, groups: 3, inner: 7 }, // tails of the unrolled loops
  { outer: 6, groups: 4, inner: 1 }, // [N, C]
  { outer: 4, groups: 2, inner: 16 },
  { outer: 7, groups: 3, inner: 5, outerChunk: 3 }, // ghost batches of 3, 3 and 1
  { outer: 4, groups: 2, inner: 6, outerChunk: 1 },
];

interface Variant {
  center: boolean;
  affine: boolean;
  fixed: boolean;
  dtype: DType;
}

const variants: Variant[] = [
  { center: true, affine: true, fixed: false, dtype: 'float64' },
  { center: true, affine: false, fixed: false, dtype: 'float64' },
  { center: false, affine: true, fixed: false, dtype: 'float64' },
  { center: true, affine: true, fixed: true, dtype: 'float64' },
  { center: true, affine: true, fixed: false, dtype: 'float32' },
];

function options(c: Case, v: Variant, params: { weight?: Tensor; bias?: Tensor }, general: boolean, calls: Float64Array[], otherReplica = true): NormalizeOptions {
  const slots = (c.outerChunk ? Math.ceil(c.outer / c.outerChunk) : 1) * c.groups;
  return {
    op: general ? 'general' : 'batchwise',
    layout: { outer: c.outer, groups: c.groups, inner: c.inner },
    acrossOuter: true,
    ...(c.outerChunk ? { outerChunk: c.outerChunk } : {}),
    center: v.center,
    eps: 1e-3,
    weight: params.weight ?? null,
    bias: params.bias ?? null,
    affineBlock: c.inner,
    ...(general ? { mask: ones([c.outer * c.inner]).data, maskSpatial: c.inner } : {}),
    ...(v.fixed
      ? { statistics: { mean: Float64Array.from({ length: slots }, (_, s) => 0.3 * s - 0.5), variance: Float64Array.from({ length: slots }, (_, s) => 0.5 + s) } }
      : {}),
    // A hook that records what it is given and adds a fixed "other replica" contribution.
    allReduce: (buffer) => {
      calls.push(buffer.slice());
      if (otherReplica) for (let i = 0; i < buffer.length; i++) buffer[i]! += 1 + 0.25 * i;
    },
  };
}

describe('normalize: the batch (across-outer) fast path', () => {
  for (const c of cases) {
    for (const v of variants) {
      it(`${JSON.stringify(c)} ${JSON.stringify(v)}: equals the general loops, allReduce calls included`, () => {
        const tolerance = v.dtype === 'float64' ? 1e-11 : 2e-5;
        const x = randn([c.outer, c.groups, c.inner], { dtype: v.dtype, mean: 2, std: 1.5 }).requireGrad();
        const upstream = randn([c.outer, c.groups, c.inner], { dtype: v.dtype });
        const params = v.affine
          ? { weight: randn([c.groups], { dtype: v.dtype, mean: 1, requiresGrad: true }), bias: randn([c.groups], { dtype: v.dtype, requiresGrad: true }) }
          : {};
        const run = (general: boolean) => {
          const calls: Float64Array[] = [];
          x.grad = null;
          if (params.weight) params.weight.grad = null;
          if (params.bias) params.bias.grad = null;
          const result = normalize(x, options(c, v, params, general, calls));
          result.output.backward(upstream);
          return { result, calls, grads: [x.grad!, params.weight?.grad, params.bias?.grad].map((g) => g?.clone() ?? null) };
        };
        const fast = run(false);
        const general = run(true);
        expect(graphOps(fast.result.output)).toEqual(['batchwise']);
        expectClose(fast.result.output, general.result.output, tolerance, tolerance);
        for (const key of ['count', 'mean', 'variance'] as const) expectClose(fast.result.statistics[key], general.result.statistics[key], 1e-12, 1e-12);
        fast.grads.forEach((g, i) => {
          if (g === null) expect(general.grads[i]).toBeNull();
          else expectClose(g, general.grads[i]!, tolerance, tolerance);
        });
        expect(fast.calls.map((b) => b.length)).toEqual(general.calls.map((b) => b.length));
        fast.calls.forEach((b, i) => expectClose(b, general.calls[i]!, 1e-9, 1e-9));
        // Forward [counts, sums], squared deviations when centring; backward reductions unless fixed.
        expect(fast.calls.length).toBe(v.fixed ? 0 : v.center ? 3 : 2);
      });
    }
  }

  it('passes gradcheck with chunks, affine and an allReduce hook (a group of one)', () => {
    const c: Case = { outer: 5, groups: 2, inner: 3, outerChunk: 2 };
    const v: Variant = { center: true, affine: true, fixed: false, dtype: 'float64' };
    const x = randn([5, 2, 3], { dtype: 'float64', requiresGrad: true });
    const weight = randn([2], { dtype: 'float64', requiresGrad: true });
    const bias = randn([2], { dtype: 'float64', requiresGrad: true });
    expectGradcheck(gradcheck((xx, ww, bb) => normalize(xx, options(c, v, { weight: ww, bias: bb }, false, [], false)).output, [x, weight, bias]));
  });
});
