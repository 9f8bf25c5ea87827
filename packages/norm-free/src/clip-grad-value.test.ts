import { describe, expect, it } from 'vitest';
import { Linear, OptionError, SGD, ValueError, mse } from '@normkit/tensor';
import { describeGradientTransform, expectClose } from '@normkit/testkit';
import { clipGradValue } from './clip-grad-value';
import { clipGradValuePlugin } from './plugins';
import { entry, gaussian, gradientsOf, randomEntry } from './test-support';

describe('clipGradValue', () => {
  it('clamps every element to [-value, value] and returns how many it changed (hand-computed)', () => {
    const entries = [entry('a', [2, 2], [0, 0, 0, 0], [0.2, -0.7, 0.5, 3]), entry('b', [1], [0], [-0.5])];
    expect(clipGradValue(entries, { value: 0.5 })).toBe(2);
    expect(Array.from(entries[0]!.parameter.grad!.data)).toEqual([0.2, -0.5, 0.5, 0.5]);
    expect(Array.from(entries[1]!.parameter.grad!.data)).toEqual([-0.5]);
  });

  it('matches a float64 reference (torch.clamp) on random gradients, float32 and float64', () => {
    for (const dtype of ['float32', 'float64'] as const) {
      const entries = [randomEntry('w', [4, 3], 1, 1, dtype), randomEntry('conv', [2, 3, 3, 3], 2, 1, dtype)];
      const expected = gradientsOf(entries).map((g) => g.map((v) => Math.min(Math.max(v, -0.3), 0.3)));
      clipGradValue(entries, { value: 0.3 });
      // float32: the clamp bound itself rounds to float32, as in torch.
      entries.forEach((e, i) => expectClose(e.parameter.grad!, dtype === 'float32' ? Float32Array.from(expected[i]!) : expected[i]!, 0, 0));
    }
  });

  it('as a transform in an optimizer step, reporting clippedElements', () => {
    const layer = new Linear({ inFeatures: 3, outFeatures: 2, dtype: 'float64' });
    const optimizer = new SGD(layer, { lr: 1, gradientTransforms: [clipGradValue({ value: 1e-3 })] });
    const before = Float64Array.from(layer.bias!.data);
    mse(layer.forward(gaussian([4, 3], 1)), gaussian([4, 2], 2)).backward();
    const signs = Array.from(layer.bias!.grad!.data).map(Math.sign);
    const report = optimizer.step();
    expect(report.transforms[0]).toEqual({ name: 'clip-grad-value', report: { clippedElements: 8 } });
    expectClose(layer.bias!, before.map((b, i) => b - 1e-3 * signs[i]!), 1e-15, 1e-14);
  });

  it('refuses value <= 0, missing options and non-finite gradients (an infinity is not clamped into a finite value)', () => {
    expect(() => clipGradValue({ value: 0 })).toThrow(OptionError);
    expect(() => clipGradValue({ value: -1 })).toThrow(/clipGradValue: expected value to be a finite number > 0, got value = -1/);
    expect(() => clipGradValue([randomEntry('w', [2], 1)] as never)).toThrow(/options \{ value \} after the parameters/);
    const entries = [entry('ok', [1], [0], [5]), entry('inf', [2], [0, 0], [Infinity, 1])];
    const before = gradientsOf(entries);
    expect(() => clipGradValue(entries, { value: 1 })).toThrow(ValueError);
    expect(() => clipGradValue(entries, { value: 1 })).toThrow(/NaN or infinity in the gradient of "inf"/);
    expect(gradientsOf(entries)).toEqual(before);
    expect(clipGradValue({ value: 1, nonFinite: 'skip' }).apply(entries)).toEqual({ skipped: true, nonFinite: 'inf' });
    expect(gradientsOf(entries)).toEqual(before);
  });
});

describeGradientTransform(clipGradValuePlugin, { options: { value: 0.5 }, idempotent: true });
