import { describe, expect, it } from 'vitest';
import { Linear, OptionError, SGD, Tensor, ValueError, mse, type GradientEntry } from '@normkit/tensor';
import { describeGradientTransform, expectClose } from '@normkit/testkit';
import { clipGradNorm, totalGradNorm } from './clip-grad-norm';
import { clipGradNormPlugin } from './plugins';
import { entry, gaussian, gradientsOf, randomEntry } from './test-support';

/** Float64 reference of torch's clip_grad_norm_: the norm of per-tensor norms, coefficient maxNorm / (norm + 1e-6) clamped to 1. */
function reference(grads: number[][], maxNorm: number, p: number): { total: number; clipped: number[][] } {
  const perTensor = grads.map((g) => (p === Infinity ? Math.max(...g.map(Math.abs)) : g.reduce((s, v) => s + Math.abs(v) ** p, 0) ** (1 / p)));
  const total = p === Infinity ? Math.max(...perTensor) : perTensor.reduce((s, n) => s + n ** p, 0) ** (1 / p);
  const coefficient = Math.min(maxNorm / (total + 1e-6), 1);
  return { total, clipped: grads.map((g) => g.map((v) => v * coefficient)) };
}

/** [3, 4] and [12]: L2 norm 13, L1 norm 19, max norm 12. */
const handEntries = (): GradientEntry[] => [entry('a', [1, 2], [1, 1], [3, 4]), entry('b', [1], [1], [12])];

describe('clipGradNorm (plain function)', () => {
  it('returns the total norm and scales every gradient by maxNorm / (norm + 1e-6) on a hand-computed case', () => {
    const entries = handEntries();
    expect(clipGradNorm(entries, { maxNorm: 6.5 })).toBe(13);
    const c = 6.5 / (13 + 1e-6);
    expectClose(entries[0]!.parameter.grad!, [3 * c, 4 * c], 1e-15, 1e-15);
    expectClose(entries[1]!.parameter.grad!, [12 * c], 1e-15, 1e-15);
  });

  it('norm types 1, inf and 3 on the same case', () => {
    const l1 = handEntries();
    expect(clipGradNorm(l1, { maxNorm: 9.5, normType: 1 })).toBe(19);
    expectClose(l1[1]!.parameter.grad!, [12 * (9.5 / (19 + 1e-6))], 1e-15, 1e-15);
    for (const inf of ['inf', Infinity, null] as const) {
      const entries = handEntries();
      expect(clipGradNorm(entries, { maxNorm: 6, normType: inf })).toBe(12);
      expectClose(entries[0]!.parameter.grad!, [3 * (6 / (12 + 1e-6)), 4 * (6 / (12 + 1e-6))], 1e-15, 1e-15);
    }
    expect(clipGradNorm(handEntries(), { maxNorm: 100, normType: 3 })).toBeCloseTo((27 + 64 + 1728) ** (1 / 3), 12);
  });

  it('leaves gradients bit-identical when the norm is below maxNorm (coefficient clamped to 1)', () => {
    const entries = handEntries();
    const before = gradientsOf(entries);
    expect(clipGradNorm(entries, { maxNorm: 13.5 })).toBe(13);
    expect(gradientsOf(entries)).toEqual(before);
  });

  it('matches a float64 reference on random gradients for p = 2, 1, inf, 3 and 0.5, clipped or not', () => {
    for (const [p, maxNorm] of [[2, 1], [2, 1e3], [1, 2], [Infinity, 0.5], [3, 0.7], [0.5, 10]] as const) {
      const entries = [randomEntry('w', [4, 3], 1), randomEntry('b', [4], 2), randomEntry('conv', [2, 3, 3, 3], 3)];
      const expected = reference(gradientsOf(entries), maxNorm, p);
      const total = clipGradNorm(entries, { maxNorm, normType: p });
      expect(total).toBeCloseTo(expected.total, 12);
      entries.forEach((e, i) => expectClose(e.parameter.grad!, expected.clipped[i]!, 1e-14, 1e-13));
    }
  });

  it('float32 gradients: norms accumulate in float64, each gradient rounds once', () => {
    const entries = [randomEntry('w', [64, 64], 4, 1e3, 'float32')];
    const grads = gradientsOf(entries);
    const expected = reference(grads, 1, 2);
    expect(clipGradNorm(entries, { maxNorm: 1 })).toBeCloseTo(expected.total, 7);
    expectClose(entries[0]!.parameter.grad!, Float32Array.from(expected.clipped[0]!), 0, 0);
  });

  it('large p and huge gradients neither overflow nor underflow', () => {
    const huge = [entry('x', [3], [0, 0, 0], [1e200, -2e200, 3e199])];
    expect(clipGradNorm(huge, { maxNorm: 1 })).toBeCloseTo(Math.sqrt(1 + 4 + 0.09) * 1e200, -188);
    expectClose(huge[0]!.parameter.grad!, [1 / Math.sqrt(5.09), -2 / Math.sqrt(5.09), 0.3 / Math.sqrt(5.09)], 1e-12, 1e-10);
    const p = 400;
    expect(totalGradNorm([Float64Array.from([2, 1])], p)).toBeCloseTo(2 * (1 + 0.5 ** p) ** (1 / p), 14);
    expect(totalGradNorm([], 2)).toBe(0);
  });

  it('accepts a Module, a tensor, a list of tensors and [name, tensor] pairs; skips parameters without a gradient', () => {
    const layer = new Linear({ inFeatures: 3, outFeatures: 2, dtype: 'float64' });
    mse(layer.forward(gaussian([4, 3], 1)), gaussian([4, 2], 2)).backward();
    const reference64 = reference([Array.from(layer.weight.grad!.data), Array.from(layer.bias!.grad!.data)], 0.1, 2);
    expect(clipGradNorm(layer, { maxNorm: 0.1 })).toBeCloseTo(reference64.total, 13);
    expectClose(layer.weight.grad!, reference64.clipped[0]!, 1e-15, 1e-13);

    const single = randomEntry('t', [5], 3).parameter;
    const norm = Math.hypot(...single.grad!.data);
    expect(clipGradNorm(single, { maxNorm: 100 })).toBeCloseTo(norm, 14);
    const [a, b] = [randomEntry('a', [2], 4).parameter, randomEntry('b', [2], 5).parameter];
    b.grad = null;
    expect(clipGradNorm([a, b], { maxNorm: 100 })).toBeCloseTo(Math.hypot(...a.grad!.data), 14);
    expect(b.grad).toBeNull();
    expect(clipGradNorm([['a', a] as const], { maxNorm: 100 })).toBeCloseTo(Math.hypot(...a.grad!.data), 14);
    expect(clipGradNorm([], { maxNorm: 1 })).toBe(0);
  });
});

describe('clipGradNorm (gradient transform)', () => {
  it('runs in an optimizer step and reports the total norm, coefficient and whether it clipped', () => {
    const layer = new Linear({ inFeatures: 3, outFeatures: 2, dtype: 'float64' });
    const optimizer = new SGD(layer, { lr: 1, gradientTransforms: [clipGradNorm({ maxNorm: 0.01 })] });
    const before = Float64Array.from(layer.weight.data);
    mse(layer.forward(gaussian([4, 3], 1)), gaussian([4, 2], 2)).backward();
    const expected = reference([Array.from(layer.weight.grad!.data), Array.from(layer.bias!.grad!.data)], 0.01, 2);
    const report = optimizer.step();
    expect(report.transforms[0]!.name).toBe('clip-grad-norm');
    expect(report.transforms[0]!.report!.totalNorm).toBeCloseTo(expected.total, 13);
    expect(report.transforms[0]!.report!.clipped).toBe(true);
    expect(report.transforms[0]!.report!.clipCoefficient).toBeCloseTo(0.01 / (expected.total + 1e-6), 15);
    expectClose(layer.weight, before.map((w, i) => w - expected.clipped[0]![i]!), 1e-15, 1e-13);
  });

  it('exposes its resolved options', () => {
    expect(clipGradNorm({ maxNorm: 2 }).options).toEqual({ maxNorm: 2, normType: 2, nonFinite: 'error' });
    expect(clipGradNorm({ maxNorm: 2, normType: 'inf' }).options.normType).toBe(Infinity);
  });
});

describe('clipGradNorm: bad input', () => {
  it('refuses maxNorm <= 0, a bad normType, missing options and unknown parameters with typed errors', () => {
    expect(() => clipGradNorm({ maxNorm: 0 })).toThrow(OptionError);
    expect(() => clipGradNorm({ maxNorm: -1 })).toThrow(/clipGradNorm: expected maxNorm to be a finite number > 0, got maxNorm = -1/);
    expect(() => clipGradNorm(handEntries(), { maxNorm: Number.NaN })).toThrow(OptionError);
    expect(() => clipGradNorm({ maxNorm: 1, normType: 0 })).toThrow(/normType to be a number > 0/);
    expect(() => clipGradNorm({ maxNorm: 1, normType: -Infinity })).toThrow(OptionError);
    expect(() => clipGradNorm({ maxNorm: 1, normType: 'two' as never })).toThrow(OptionError);
    expect(() => clipGradNorm({ maxNorm: 1, nonFinite: 'ignore' as never })).toThrow(/nonFinite to be 'error' or 'skip'/);
    expect(() => clipGradNorm(handEntries() as never)).toThrow(/options \{ maxNorm, normType\? \} after the parameters/);
    expect(() => clipGradNorm([42] as never, { maxNorm: 1 })).toThrow(ValueError);
    expect(() => clipGradNorm([42] as never, { maxNorm: 1 })).toThrow(/number at position 0/);
  });

  it("non-finite gradients: 'error' throws naming them and changes nothing; 'skip' changes nothing and reports", () => {
    const entries = [...handEntries(), entry('bad', [2], [0, 0], [Number.NaN, 1]), entry('worse', [1], [0], [Infinity])];
    const before = gradientsOf(entries);
    expect(() => clipGradNorm(entries, { maxNorm: 1 })).toThrow(ValueError);
    expect(() => clipGradNorm(entries, { maxNorm: 1 })).toThrow(/NaN or infinity in the gradient of "bad", "worse". No gradient was changed/);
    expect(gradientsOf(entries)).toEqual(before);
    expect(clipGradNorm(entries, { maxNorm: 1, nonFinite: 'skip' })).toBeNaN();
    expect(gradientsOf(entries)).toEqual(before);
    const report = clipGradNorm({ maxNorm: 1, nonFinite: 'skip' }).apply(entries);
    expect(report).toEqual({ skipped: true, nonFinite: 'bad, worse' });
    expect(gradientsOf(entries)).toEqual(before);
    expect(clipGradNorm([entry('inf', [2], [0, 0], [Infinity, 1])], { maxNorm: 1, nonFinite: 'skip' })).toBe(Infinity);
  });

  it("in an optimizer with skipNonFinite, a 'skip' transform hands the decision to the optimizer", () => {
    const parameter = entry('p', [2], [1, 1], [1, 1]).parameter;
    const optimizer = new SGD([parameter], { lr: 1, skipNonFinite: true, gradientTransforms: [clipGradNorm({ maxNorm: 1 })] });
    parameter.grad = new Tensor(Float64Array.from([Number.NaN, 1]), [2]);
    expect(optimizer.step().skipped).toBe(true);
    expect(Array.from(parameter.data)).toEqual([1, 1]);
  });
});

describeGradientTransform(clipGradNormPlugin, { options: { maxNorm: 1 }, idempotent: true });
describeGradientTransform(clipGradNormPlugin, { options: { maxNorm: 0.5, normType: null }, idempotent: true });
describeGradientTransform(clipGradNormPlugin, { options: { maxNorm: 2, normType: 1 }, idempotent: true });
