import { describe, expect, it } from 'vitest';
import { graphOps } from '../autograd';
import { randn, tensor } from '../creation';
import type { DType } from '../dtype';
import { gradcheck } from '../gradcheck';
import type { Tensor } from '../tensor';
import { expectClose, expectGradcheck } from '../test-utils';
import { normalize, type NormalizeOptions } from './normalize';

// The per-sample fast path (per-(outer, group) statistics, per-block affine: GroupNorm, InstanceNorm,
// FRN) against the general loops. acrossOuter with outerChunk 1 gives the same one statistic per
// (outer, group) slot through the general code, so the two must agree to rounding: forward,
// statistics and every gradient (x, weight, bias, eps, threshold).

type EpsKind = 'number' | 'tensor' | 'learned';

interface Case {
  outer: number;
  groups: number;
  inner: number;
  block: number;
}

// GroupNorm-like (several blocks per group), InstanceNorm-like (one block), and tails of the unrolled loops.
const cases: Case[] = [
  { outer: 3, groups: 2, inner: 3 * 7, block: 7 },
  { outer: 2, groups: 4, inner: 13, block: 13 },
  { outer: 2, groups: 3, inner: 2 * 16, block: 16 },
  { outer: 1, groups: 2, inner: 6, block: 2 },
];

function run(x: Tensor, c: Case, params: Record<string, Tensor | undefined>, center: boolean, eps: EpsKind, general: boolean) {
  const epsValue = eps === 'number' ? 1e-3 : eps === 'tensor' ? params.eps! : { fixed: 1e-3, learned: params.eps! };
  const options: NormalizeOptions = {
    op: general ? 'general' : 'slotwise',
    layout: { outer: c.outer, groups: c.groups, inner: c.inner },
    acrossOuter: general,
    ...(general ? { outerChunk: 1 } : {}),
    center,
    eps: epsValue,
    weight: params.weight ?? null,
    bias: params.bias ?? null,
    threshold: params.threshold ?? null,
    affineBlock: c.block,
  };
  return normalize(x, options);
}

function makeParams(c: Case, dtype: DType, affine: boolean, threshold: boolean, eps: EpsKind): Record<string, Tensor | undefined> {
  const count = (c.groups * c.inner) / c.block;
  const options = { dtype, requiresGrad: true };
  return {
    weight: affine ? randn([count], { ...options, mean: 1 }) : undefined,
    bias: affine ? randn([count], options) : undefined,
    threshold: threshold ? randn([count], { ...options, std: 0.5 }) : undefined,
    eps: eps === 'number' ? undefined : tensor(eps === 'tensor' ? [0.02] : [-0.05], options),
  };
}

describe('normalize: the per-sample (slot-wise) fast path', () => {
  for (const center of [true, false]) {
    for (const [affine, threshold] of [[true, false], [false, false], [true, true], [false, true]] as const) {
      it(`equals the general kernel: center ${center}, affine ${affine}, threshold ${threshold}, every eps form, float64 and float32`, () => {
        for (const dtype of ['float64', 'float32'] as const) {
          const tolerance = dtype === 'float64' ? 1e-12 : 2e-5;
          for (const c of cases) {
            for (const eps of ['number', 'tensor', 'learned'] as const) {
              for (const xNeedsGrad of [true, false]) {
                const x = randn([c.outer, c.groups, c.inner], { dtype, requiresGrad: xNeedsGrad, mean: 2 });
                const params = makeParams(c, dtype, affine, threshold, eps);
                const g = randn([c.outer, c.groups, c.inner], { dtype });
                const tensors = [x, params.weight, params.bias, params.eps, params.threshold].filter((t): t is Tensor => t !== undefined);
                const results = [true, false].map((general) => {
                  for (const t of tensors) t.grad = null;
                  const result = run(x, c, params, center, eps, general);
                  // Nothing may require a gradient (no affine, a number eps, x without grad): forward only.
                  if (result.output.requiresGrad) result.output.backward(g);
                  return { result, grads: tensors.map((t) => (t.requiresGrad && t.grad ? t.grad.clone() : null)) };
                });
                const [general, fast] = results as [(typeof results)[0], (typeof results)[0]];
                expect(graphOps(fast.result.output)).toEqual(fast.result.output.requiresGrad ? ['slotwise'] : []);
                expectClose(fast.result.output, general.result.output, tolerance, tolerance);
                expectClose(fast.result.statistics.mean, general.result.statistics.mean, 1e-12, 1e-12);
                expectClose(fast.result.statistics.variance, general.result.statistics.variance, 1e-12, 1e-12);
                expect(Array.from(fast.result.statistics.count)).toEqual(Array.from(general.result.statistics.count));
                fast.grads.forEach((grad, i) => {
                  if (grad === null) expect(general.grads[i]).toBeNull();
                  else expectClose(grad, general.grads[i]!, tolerance, tolerance);
                });
              }
            }
          }
        }
      });
    }
  }

  it('passes gradcheck with every input at once (x, weight, bias, learned eps, threshold)', () => {
    const c = cases[0]!;
    const x = randn([c.outer, c.groups, c.inner], { dtype: 'float64', requiresGrad: true });
    const params = makeParams(c, 'float64', true, true, 'learned');
    const fn = (xx: Tensor, w: Tensor, b: Tensor, e: Tensor, t: Tensor): Tensor => run(xx, c, { weight: w, bias: b, eps: e, threshold: t }, false, 'learned', false).output;
    expectGradcheck(gradcheck(fn, [x, params.weight!, params.bias!, params.eps!, params.threshold!]));
  });

  it('gives finite outputs on constant slots (zero variance)', () => {
    const x = tensor(new Float64Array(2 * 3 * 4).fill(5), { shape: [2, 3, 4], dtype: 'float64' });
    const y = normalize(x, { op: 'in', layout: { outer: 2, groups: 3, inner: 4 }, acrossOuter: false, center: true, eps: 1e-5, affineBlock: 4 }).output;
    expect(Array.from(y.data).every((v) => v === 0)).toBe(true);
  });
});
