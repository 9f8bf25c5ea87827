import { describe, expect, it } from 'vitest';
import {
  Generator, Linear, Module, OptionError, ReLU, SGD, Sequential, ShapeError, Tensor, ValueError, mse, type GradientEntry,
} from '@normkit/tensor';
import { describeGradientTransform, expectClose } from '@normkit/testkit';
import { adaptiveGradientClip, owningLayerPath } from './adaptive-gradient-clip';
import { adaptiveGradientClipPlugin } from './plugins';
import { scaledWeightStandardization } from './scaled-weight-standardization';
import { entry, gaussian, gradientsOf, randomEntry } from './test-support';

/**
 * Float64 reference of the formula, written independently: units are rows of the parameter
 * viewed as [shape[0], rest] (a 0-D or 1-D parameter is one unit).
 */
function reference(entries: readonly GradientEntry[], clipping: number, eps: number): number[][] {
  return entries.map(({ parameter }) => {
    const w = Array.from(parameter.data);
    const g = Array.from(parameter.grad!.data);
    const rows = parameter.ndim <= 1 ? 1 : parameter.shape[0]!;
    const cols = w.length / rows;
    const out: number[] = [];
    for (let r = 0; r < rows; r++) {
      const wr = w.slice(r * cols, (r + 1) * cols);
      const gr = g.slice(r * cols, (r + 1) * cols);
      const wNorm = Math.sqrt(wr.reduce((s, v) => s + v * v, 0));
      const gNorm = Math.sqrt(gr.reduce((s, v) => s + v * v, 0));
      const maxNorm = clipping * Math.max(wNorm, eps);
      out.push(...(gNorm > maxNorm ? gr.map((v) => (v * maxNorm) / Math.max(gNorm, 1e-6)) : gr));
    }
    return out;
  });
}

function handEntries(): GradientEntry[] {
  return [
    // Rows: ||W|| = 5, ||G|| = 0.1 > 0.05: halved. ||W|| = 5e-4 < eps: max norm 1e-5 > ||G|| = 5e-6: kept.
    entry('linear.weight', [2, 3], [3, 0, 4, 0, 0, 5e-4], [0.06, 0.08, 0, 0, 3e-6, 4e-6]),
    // A bias is one unit: ||W|| = 0 -> eps, max norm 1e-5, ||G|| = 1e-4: scaled by 0.1.
    entry('linear.bias', [2], [0, 0], [6e-5, 8e-5]),
    // Output channels: ||W|| = 1, ||G|| = 0.005 < 0.01: kept; ||W|| = 2, ||G|| = 0.05 > 0.02: scaled by 0.4.
    entry('conv.weight', [2, 1, 1, 2], [1, 0, 2, 0], [0, 0.005, 0.03, 0.04]),
    // A 0-D parameter (SkipInit's alpha at 0): clipped to clipping * eps = 1e-5.
    entry('block.alpha', [], [0], [1]),
  ];
}

describe('adaptiveGradientClip', () => {
  it('clips unit-wise on a hand-computed case (rows, a bias as one unit, output channels, a scalar; eps floor)', () => {
    const entries = handEntries();
    const report = adaptiveGradientClip(entries, { clipping: 0.01, eps: 1e-3 });
    expect(report).toEqual({ units: 6, clippedUnits: 4, excludedParameters: 0 });
    expectClose(entries[0]!.parameter.grad!, [0.03, 0.04, 0, 0, 3e-6, 4e-6], 1e-17, 1e-14);
    expectClose(entries[1]!.parameter.grad!, [6e-6, 8e-6], 1e-20, 1e-14);
    expectClose(entries[2]!.parameter.grad!, [0, 0.005, 0.012, 0.016], 1e-17, 1e-14);
    expectClose(entries[3]!.parameter.grad!, [1e-5], 1e-20, 1e-14);
  });

  it('defaults are clipping 0.01, eps 1e-3', () => {
    const a = handEntries();
    const b = handEntries();
    adaptiveGradientClip(a);
    adaptiveGradientClip(b, { clipping: 0.01, eps: 1e-3 });
    expect(gradientsOf(a)).toEqual(gradientsOf(b));
    expect(adaptiveGradientClip().options).toEqual({ clipping: 0.01, eps: 1e-3, exclude: [], excludeFinalLayer: false, nonFinite: 'error' });
  });

  it('unclipped units stay bit-identical, and a gradient below 1e-6 is divided by 1e-6, not by its norm', () => {
    const entries = handEntries();
    const before = gradientsOf(entries);
    adaptiveGradientClip(entries);
    expect(gradientsOf(entries)[0]!.slice(3)).toEqual(before[0]!.slice(3));
    expect(gradientsOf(entries)[2]!.slice(0, 2)).toEqual(before[2]!.slice(0, 2));
    // max norm 1e-4 * 1e-3 = 1e-7 < ||G|| = 5e-7: G * 1e-7 / max(5e-7, 1e-6) = G / 10.
    const tiny = [entry('w', [2], [0, 0], [3e-7, 4e-7])];
    adaptiveGradientClip(tiny, { clipping: 1e-4 });
    expectClose(tiny[0]!.parameter.grad!, [3e-8, 4e-8], 1e-22, 1e-12);
  });

  it('matches the float64 reference on random parameters for several clippings, float64 and float32', () => {
    for (const dtype of ['float64', 'float32'] as const) {
      for (const [clipping, gradScale] of [[0.01, 0.05], [0.1, 0.05], [0.02, 1]] as const) {
        const entries = [
          randomEntry('w', [6, 5], 1, gradScale, dtype), randomEntry('b', [6], 2, gradScale, dtype),
          randomEntry('conv', [4, 3, 3, 3], 3, gradScale, dtype), randomEntry('alpha', [], 4, gradScale, dtype),
        ];
        const expected = reference(entries, clipping, 1e-3);
        const report = adaptiveGradientClip(entries, { clipping });
        expect(report.units).toBe(6 + 1 + 4 + 1);
        entries.forEach((e, i) => expectClose(e.parameter.grad!, dtype === 'float32' ? Float32Array.from(expected[i]!) : expected[i]!, 0, dtype === 'float32' ? 1e-7 : 1e-14));
      }
    }
  });

  it('exclude: by parameter name, by module path, by Module; excluded gradients are untouched', () => {
    const model = new Sequential(new Linear({ inFeatures: 4, outFeatures: 4, dtype: 'float64', generator: new Generator(1) }), new ReLU(), new Linear({ inFeatures: 4, outFeatures: 2, dtype: 'float64', generator: new Generator(2) }));
    const backward = () => {
      model.zeroGrad();
      mse(model.forward(gaussian([8, 4], 3)), gaussian([8, 2], 4, { scale: 100 })).backward();
    };
    for (const exclude of [['2.weight', '2.bias'], ['2'], [model.at(2)]] as const) {
      backward();
      const before = [...model.namedParameters()].map(([, p]) => Array.from(p.grad!.data));
      const report = adaptiveGradientClip(model, { exclude: exclude as never });
      expect(report.excludedParameters).toBe(2);
      const after = [...model.namedParameters()].map(([, p]) => Array.from(p.grad!.data));
      expect(after[2]).toEqual(before[2]);
      expect(after[3]).toEqual(before[3]);
      expect(after[0]).not.toEqual(before[0]);
    }
    backward();
    expect(adaptiveGradientClip(model, { exclude: ['0.weight'] }).excludedParameters).toBe(1);
  });

  it('exclude naming an unknown parameter is a ValueError listing the parameters', () => {
    const entries = handEntries();
    const before = gradientsOf(entries);
    expect(() => adaptiveGradientClip(entries, { exclude: ['head'] })).toThrow(ValueError);
    expect(() => adaptiveGradientClip(entries, { exclude: ['head'] })).toThrow(
      /adaptiveGradientClip: expected exclude entries that name a parameter or a module path .* got "head" \(parameters: "linear.weight", "linear.bias", "conv.weight", "block.alpha"\)/,
    );
    // A prefix must end at a dot: "linear.w" is not "linear.weight".
    expect(() => adaptiveGradientClip(entries, { exclude: ['linear.w'] })).toThrow(ValueError);
    expect(gradientsOf(entries)).toEqual(before);
  });

  it('excludeFinalLayer leaves the layer owning the last parameter alone, parametrized or not', () => {
    expect(owningLayerPath('head.bias')).toBe('head');
    expect(owningLayerPath('blocks.3.branch.1.weight')).toBe('blocks.3.branch.1');
    expect(owningLayerPath('head.parametrizations.weight.0.gain')).toBe('head');
    expect(owningLayerPath('parametrizations.weight.original')).toBe('');
    expect(owningLayerPath('3')).toBe('');

    const model = new Sequential(new Linear({ inFeatures: 3, outFeatures: 3, dtype: 'float64' }), new Linear({ inFeatures: 3, outFeatures: 2, dtype: 'float64' }));
    scaledWeightStandardization(model.at(1), { nonlinearity: 'relu' });
    mse(model.forward(gaussian([4, 3], 1)), gaussian([4, 2], 2, { scale: 100 })).backward();
    const names = [...model.namedParameters()].map(([name]) => name);
    expect(names).toEqual(['0.weight', '0.bias', '1.bias', '1.parametrizations.weight.original', '1.parametrizations.weight.0.gain']);
    const before = [...model.parameters()].map((p) => Array.from(p.grad!.data));
    expect(adaptiveGradientClip(model, { excludeFinalLayer: true, clipping: 1e-3 }).excludedParameters).toBe(3);
    const after = [...model.parameters()].map((p) => Array.from(p.grad!.data));
    expect(after.slice(2)).toEqual(before.slice(2));
    expect(after[0]).not.toEqual(before[0]);
    // A plain list: the last parameter alone.
    const list = handEntries();
    expect(adaptiveGradientClip(list, { excludeFinalLayer: true }).excludedParameters).toBe(1);
    expect(list[3]!.parameter.grad!.item()).toBe(1);
  });

  it('as an optimizer transform: no step moves a unit by more than lr * clipping * max(||W||, eps)', () => {
    const model = new Sequential(new Linear({ inFeatures: 6, outFeatures: 8, dtype: 'float64', generator: new Generator(5) }), new ReLU(), new Linear({ inFeatures: 8, outFeatures: 3, dtype: 'float64', generator: new Generator(6) }));
    const lr = 10;
    const optimizer = new SGD(model, { lr, gradientTransforms: [adaptiveGradientClip({ clipping: 0.02 })] });
    for (let step = 0; step < 3; step++) {
      const before = model.parameters().map((p) => Float64Array.from(p.data));
      model.zeroGrad();
      mse(model.forward(gaussian([16, 6], 10 + step)), gaussian([16, 3], 20 + step, { scale: 50 })).backward();
      const report = optimizer.step();
      expect(report.transforms[0]!.name).toBe('adaptive-gradient-clip');
      expect(report.transforms[0]!.report!.clippedUnits).toBeGreaterThan(0);
      model.parameters().forEach((p, i) => {
        const rows = p.ndim <= 1 ? 1 : p.shape[0]!;
        const cols = p.size / rows;
        for (let r = 0; r < rows; r++) {
          let moved = 0;
          let norm = 0;
          for (let c = r * cols; c < (r + 1) * cols; c++) {
            moved += (p.data[c]! - before[i]![c]!) ** 2;
            norm += before[i]![c]! ** 2;
          }
          expect(Math.sqrt(moved)).toBeLessThanOrEqual(lr * 0.02 * Math.max(Math.sqrt(norm), 1e-3) * (1 + 1e-12));
        }
      });
    }
  });

  it('refuses clipping <= 0, eps <= 0, a bad exclude, a gradient of the wrong size, and non-finite gradients', () => {
    expect(() => adaptiveGradientClip({ clipping: 0 })).toThrow(OptionError);
    expect(() => adaptiveGradientClip({ clipping: -0.01 })).toThrow(/adaptiveGradientClip: expected clipping to be a finite number > 0, got clipping = -0.01/);
    expect(() => adaptiveGradientClip(handEntries(), { clipping: 0 })).toThrow(OptionError);
    expect(() => adaptiveGradientClip({ eps: 0 })).toThrow(/eps to be a finite number > 0/);
    expect(() => adaptiveGradientClip({ exclude: 'head' as never })).toThrow(/exclude to be a list of parameter names, module paths or Modules/);
    expect(() => adaptiveGradientClip({ exclude: [42 as never] })).toThrow(/exclude\[0\] = 42/);
    expect(() => adaptiveGradientClip({ clip: 0.1 } as never)).toThrow(/unknown option "clip"/);
    expect(() => adaptiveGradientClip({ clipping: 0.1 } as never, {})).toThrow(ValueError);
    const wrong = entry('w', [2], [1, 1], [1, 1]);
    wrong.parameter.grad = new Tensor(Float64Array.from([1, 1, 1]), [3]);
    expect(() => adaptiveGradientClip([wrong])).toThrow(ShapeError);

    const entries = [...handEntries(), entry('bad', [2], [0, 0], [Number.NaN, 0])];
    const before = gradientsOf(entries);
    expect(() => adaptiveGradientClip(entries)).toThrow(/NaN or infinity in the gradient of "bad". No gradient was changed/);
    expect(gradientsOf(entries)).toEqual(before);
    expect(adaptiveGradientClip({ nonFinite: 'skip' }).apply(entries)).toEqual({ skipped: true, nonFinite: 'bad' });
    expect(adaptiveGradientClip(entries, { nonFinite: 'skip' })).toMatchObject({ skipped: true, nonFinite: 'bad', clippedUnits: 0 });
    expect(gradientsOf(entries)).toEqual(before);
  });

  it('a Module exclusion that holds no parameter with a gradient is not an error (a frozen head)', () => {
    class Frozen extends Module {
      forward(): void {}
    }
    expect(adaptiveGradientClip(handEntries(), { exclude: [new Frozen()] }).excludedParameters).toBe(0);
  });
});

describeGradientTransform(adaptiveGradientClipPlugin, { idempotent: true });
describeGradientTransform(adaptiveGradientClipPlugin, { options: { clipping: 0.1, eps: 1e-2, excludeFinalLayer: true }, idempotent: true });
