import { describe, expect, it } from 'vitest';
import { randn, tensor } from '../creation';
import { manualSeed } from '../random';
import type { Tensor } from '../tensor';
import { expectClose } from '../test-utils';
import { normalize, type NormalizeOptions } from './normalize';

// float64 data whose spread is beyond float64's square range (|x - mean| around 1e200, so the sum of
// squared deviations overflows): normalisation is scale invariant once eps is negligible, so the
// result must equal the same problem scaled down by 1e200. eps = 1e-5 is 1e-405 of a 1e400 variance;
// the scaled-down reference uses eps = 1e-300, as negligible against its O(1) variance. dL/dx scales
// by 1 / scale, the parameter gradients not at all.

const SCALE = 1e200;
const f64 = { dtype: 'float64' as const };

type Case = { name: string; shape: number[]; params: number; options: Omit<NormalizeOptions, 'eps' | 'op' | 'weight' | 'bias'> };

const CASES: Case[] = [
  { name: 'row-wise, centred (LayerNorm)', shape: [4, 6], params: 6, options: { layout: { outer: 4, groups: 1, inner: 6 }, acrossOuter: false, center: true, affineBlock: 1 } },
  { name: 'row-wise, uncentred (RMSNorm)', shape: [4, 6], params: 6, options: { layout: { outer: 4, groups: 1, inner: 6 }, acrossOuter: false, center: false, affineBlock: 1 } },
  {
    name: 'row-wise with a padding mask',
    shape: [4, 6],
    params: 6,
    options: { layout: { outer: 4, groups: 1, inner: 6 }, acrossOuter: false, center: true, affineBlock: 1, mask: Float64Array.of(1, 0, 1, 1), maskSpatial: 1 },
  },
  { name: 'slot-wise (GroupNorm)', shape: [2, 4, 3], params: 4, options: { layout: { outer: 2, groups: 2, inner: 6 }, acrossOuter: false, center: true, affineBlock: 3 } },
  { name: 'slot-wise, uncentred', shape: [2, 4, 3], params: 4, options: { layout: { outer: 2, groups: 2, inner: 6 }, acrossOuter: false, center: false, affineBlock: 3 } },
  { name: 'batch (BatchNorm)', shape: [3, 2, 5], params: 2, options: { layout: { outer: 3, groups: 2, inner: 5 }, acrossOuter: true, center: true, affineBlock: 5 } },
  {
    name: 'batch in ghost chunks with an allReduce',
    shape: [4, 2, 5],
    params: 2,
    options: { layout: { outer: 4, groups: 2, inner: 5 }, acrossOuter: true, outerChunk: 2, center: true, affineBlock: 5, allReduce: () => {} },
  },
  {
    name: 'general loops (spatial mask)',
    shape: [2, 2, 6],
    params: 12,
    options: { layout: { outer: 2, groups: 2, inner: 6 }, acrossOuter: false, center: true, affineBlock: 1, mask: Float64Array.of(1, 0, 1, 1, 1, 0), maskSpatial: 3 },
  },
  {
    name: 'general loops across outer (masked BatchNorm)',
    shape: [3, 2, 4],
    params: 2,
    options: { layout: { outer: 3, groups: 2, inner: 4 }, acrossOuter: true, center: true, affineBlock: 4, mask: Float64Array.of(1, 1, 0, 1, 0, 1, 1, 1, 1, 1, 1, 0), maskSpatial: 4 },
  },
];

interface Run {
  output: Tensor;
  mean: Float64Array;
  gradX: Float64Array;
  gradWeight: Float64Array;
  gradBias: Float64Array;
}

function run(c: Case, data: Float64Array, eps: number, seedGrad: Float64Array, weightData: Float64Array, biasData: Float64Array, affine = true): Run {
  const x = tensor(data, { ...f64, shape: c.shape, requiresGrad: true });
  const weight = affine ? tensor(weightData, { ...f64, requiresGrad: true }) : null;
  const bias = affine ? tensor(biasData, { ...f64, requiresGrad: true }) : null;
  const { output, statistics } = normalize(x, { ...c.options, op: 'overflowTest', eps, weight, bias });
  output.backward(tensor(seedGrad, { ...f64, shape: c.shape }));
  return {
    output,
    mean: statistics.mean,
    gradX: x.grad!.data as Float64Array,
    gradWeight: (weight?.grad?.data ?? new Float64Array(0)) as Float64Array,
    gradBias: (bias?.grad?.data ?? new Float64Array(0)) as Float64Array,
  };
}

/** actual * factor equals expected to 1e-9 of expected's largest magnitude. */
function expectScaledClose(actual: ArrayLike<number>, expected: ArrayLike<number>, factor = 1): void {
  const scaled = Array.from(actual, (v) => v * factor);
  for (const v of scaled) expect(Number.isFinite(v)).toBe(true);
  const top = Math.max(1e-300, ...Array.from(expected, Math.abs));
  expectClose(scaled, expected, 1e-9 * top, 1e-9);
}

function problem(c: Case): { x0: Float64Array; g: Float64Array; w: Float64Array; b: Float64Array } {
  const size = c.shape.reduce((a, d) => a * d, 1);
  return {
    x0: randn([size], f64).data as Float64Array,
    g: randn([size], f64).data as Float64Array,
    w: randn([c.params], f64).data as Float64Array,
    b: randn([c.params], f64).data as Float64Array,
  };
}

describe('normalize: float64 data beyond the square range (issue 17 item 10)', () => {
  for (const c of CASES) {
    it(`${c.name}: x * 1e200 normalises like x, gradients scale by 1 / 1e200`, () => {
      manualSeed(17);
      const { x0, g, w, b } = problem(c);
      const big = run(c, x0.map((v) => v * SCALE), 1e-5, g, w, b);
      const ref = run(c, x0, 1e-300, g, w, b);
      expectScaledClose(big.output.data, ref.output.data);
      expectScaledClose(big.gradX, ref.gradX, SCALE);
      expectScaledClose(big.gradWeight, ref.gradWeight);
      expectScaledClose(big.gradBias, ref.gradBias);
      expectScaledClose(big.mean, ref.mean, 1 / SCALE);
    });

    it(`${c.name}: 1e200 and 1e-200 mixed in one slot normalise like the slot scaled down by 1e200`, () => {
      manualSeed(18);
      const { x0, g, w, b } = problem(c);
      const mixed = x0.map((v, i) => (i % 2 === 0 ? v * SCALE : v * 1e-200));
      const big = run(c, mixed, 1e-5, g, w, b);
      const ref = run(c, mixed.map((v) => v / SCALE), 1e-300, g, w, b);
      expectScaledClose(big.output.data, ref.output.data);
      expectScaledClose(big.gradX, ref.gradX, SCALE);
      expectScaledClose(big.gradWeight, ref.gradWeight);
      expectScaledClose(big.gradBias, ref.gradBias);
    });

    it(`${c.name}: x * 1e-200 (eps dominates the 1e-400 variance) equals x * 1e-100 scaled down by 1e100`, () => {
      // Both variances are negligible against eps = 1e-5 (to 1e-195), so y = (x - mean) / sqrt(eps)
      // in both: y scales with x, and dL/dx = (dy * w - mean(dy * w)) / sqrt(eps) does not.
      manualSeed(19);
      const { x0, g } = problem(c);
      const tiny = run(c, x0.map((v) => v * 1e-200), 1e-5, g, new Float64Array(0), new Float64Array(0), false);
      const ref = run(c, x0.map((v) => v * 1e-100), 1e-5, g, new Float64Array(0), new Float64Array(0), false);
      expectScaledClose(tiny.output.data, ref.output.data, 1e100);
      expectScaledClose(tiny.gradX, ref.gradX);
    });
  }
});
