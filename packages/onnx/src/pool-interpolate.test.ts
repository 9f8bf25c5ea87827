// Pooling and interpolation called from a custom forward: these test modules call the ops and lower
// through the exported helpers, as a model's own lowering would (the tensor modules MaxPool2d, AvgPool2d,
// AdaptiveAvgPool2d and Upsample lower by themselves: layer-modules.test.ts).
import {
  Generator, Module, adaptiveAvgPool2d, avgPool2d, interpolate, maxPool2d, randn, type Tensor,
} from '@normkit/tensor';
import { describe, it } from 'vitest';
import { defineLowering, exportOnnx, lowerAdaptiveAvgPool2d, lowerAvgPool2d, lowerInterpolate, lowerMaxPool2d, type InterpolateTarget } from './index';
import { NORMALIZER_TOLERANCE, checkWithOnnxChecker, expectOnnxMatches, onnxCheckerAvailable } from './test-support';

type Pair = number | readonly [number, number];

class MaxPool extends Module {
  constructor(readonly kernelSize: Pair, readonly options: { stride?: Pair; padding?: Pair; dilation?: Pair } = {}) {
    super();
  }
  override forward(x: Tensor): Tensor {
    return maxPool2d(x, this.kernelSize, this.options);
  }
}

class AvgPool extends Module {
  constructor(readonly kernelSize: Pair, readonly options: { stride?: Pair; padding?: Pair; countIncludePad?: boolean } = {}) {
    super();
  }
  override forward(x: Tensor): Tensor {
    return avgPool2d(x, this.kernelSize, this.options);
  }
}

class AdaptiveAvgPool extends Module {
  constructor(readonly outputSize: Pair) {
    super();
  }
  override forward(x: Tensor): Tensor {
    return adaptiveAvgPool2d(x, this.outputSize);
  }
}

class Interpolate extends Module {
  constructor(readonly target: InterpolateTarget, readonly mode: 'nearest' | 'bilinear' = 'nearest', readonly alignCorners = false) {
    super();
  }
  override forward(x: Tensor): Tensor {
    return interpolate(x, this.target, this.mode, this.alignCorners);
  }
}

const lowerings = [
  defineLowering({ loweringVersion: 'v1', module: MaxPool, lower: (m, [x], ctx) => lowerMaxPool2d(ctx, x!, m.kernelSize, m.options) }),
  defineLowering({ loweringVersion: 'v1', module: AvgPool, lower: (m, [x], ctx) => lowerAvgPool2d(ctx, x!, m.kernelSize, m.options) }),
  defineLowering({ loweringVersion: 'v1', module: AdaptiveAvgPool, lower: (m, [x], ctx) => lowerAdaptiveAvgPool2d(ctx, x!, m.outputSize) }),
  defineLowering({ loweringVersion: 'v1', module: Interpolate, lower: (m, [x], ctx) => lowerInterpolate(ctx, x!, m.target, m.mode, m.alignCorners) }),
];

const cases: Array<{ name: string; shape: number[]; build(): Module }> = [
  { name: 'maxPool2d 2', shape: [2, 3, 6, 5], build: () => new MaxPool(2) },
  { name: 'maxPool2d 3, stride 2, padding 1, dilation [1, 2]', shape: [2, 3, 9, 10], build: () => new MaxPool(3, { stride: 2, padding: 1, dilation: [1, 2] }) },
  { name: 'maxPool2d unbatched [C, H, W]', shape: [3, 6, 6], build: () => new MaxPool([2, 3]) },
  { name: 'avgPool2d 2', shape: [2, 3, 6, 5], build: () => new AvgPool(2) },
  { name: 'avgPool2d 3, stride 2, padding 1 (count_include_pad)', shape: [2, 3, 7, 8], build: () => new AvgPool(3, { stride: 2, padding: 1 }) },
  { name: 'avgPool2d 3, stride 1, padding 1, countIncludePad false', shape: [2, 3, 5, 5], build: () => new AvgPool(3, { stride: 1, padding: 1, countIncludePad: false }) },
  { name: 'adaptiveAvgPool2d 1 (GlobalAveragePool)', shape: [2, 3, 5, 7], build: () => new AdaptiveAvgPool(1) },
  { name: 'adaptiveAvgPool2d [3, 2] of 7x5 (uneven windows)', shape: [2, 3, 7, 5], build: () => new AdaptiveAvgPool([3, 2]) },
  { name: 'adaptiveAvgPool2d [4, 4] of 8x8', shape: [2, 3, 8, 8], build: () => new AdaptiveAvgPool(4) },
  { name: 'nearest, size 6x5 from 4x3 (x1.5, x1.67)', shape: [2, 3, 4, 3], build: () => new Interpolate({ size: [6, 5] }) },
  { name: 'nearest, size 4x3 from 6x5 (down, x0.67, x0.6)', shape: [2, 3, 6, 5], build: () => new Interpolate({ size: [4, 3] }) },
  { name: 'nearest, size 7x11 from 3x4', shape: [2, 2, 3, 4], build: () => new Interpolate({ size: [7, 11] }) },
  { name: 'nearest, scaleFactor 2', shape: [2, 3, 3, 4], build: () => new Interpolate({ scaleFactor: 2 }) },
  { name: 'nearest, scaleFactor 1.5', shape: [2, 3, 4, 6], build: () => new Interpolate({ scaleFactor: 1.5 }) },
  { name: 'nearest, scaleFactor [2.5, 0.7]', shape: [2, 3, 4, 10], build: () => new Interpolate({ scaleFactor: [2.5, 0.7] }) },
  { name: 'bilinear, size 7x5 from 4x3', shape: [2, 3, 4, 3], build: () => new Interpolate({ size: [7, 5] }, 'bilinear') },
  { name: 'bilinear, size 3x2 from 7x5 (down)', shape: [2, 3, 7, 5], build: () => new Interpolate({ size: [3, 2] }, 'bilinear') },
  { name: 'bilinear, alignCorners, size 7x9 from 4x3', shape: [2, 3, 4, 3], build: () => new Interpolate({ size: [7, 9] }, 'bilinear', true) },
  { name: 'bilinear, scaleFactor 1.5', shape: [2, 3, 4, 6], build: () => new Interpolate({ scaleFactor: 1.5 }, 'bilinear') },
  { name: 'bilinear, alignCorners, scaleFactor 2', shape: [2, 3, 3, 4], build: () => new Interpolate({ scaleFactor: 2 }, 'bilinear', true) },
];

describe('pooling and interpolation lowerings match onnxruntime, batch 1 and 7 through one file', () => {
  for (const c of cases) {
    for (const opset of [17, 18, 23]) {
      it(`${c.name}, opset ${opset}`, async () => {
        const g = new Generator(opset + c.name.length);
        const module = c.build();
        const unbatched = c.shape.length === 3;
        const bytes = exportOnnx(module, { inputs: [{ shape: c.shape }], opset, dynamicAxes: unbatched ? {} : { input: { 0: 'batch' } }, lowerings });
        for (const n of unbatched ? [c.shape[0]!] : [1, 7]) {
          const x = randn(unbatched ? c.shape : [n, ...c.shape.slice(1)], { std: 2, generator: g });
          await expectOnnxMatches(module, bytes, x, NORMALIZER_TOLERANCE);
        }
      });
    }
  }

  it('nearest resize agrees with normkit on every size pair from 1..12 to 1..12', async () => {
    for (let inSize = 1; inSize <= 12; inSize++) {
      for (let outSize = 1; outSize <= 12; outSize++) {
        const module = new Interpolate({ size: [outSize, inSize] });
        const bytes = exportOnnx(module, { inputs: [{ shape: [1, 1, inSize, outSize] }], lowerings });
        const x = randn([1, 1, inSize, outSize], { generator: new Generator(inSize * 13 + outSize) });
        await expectOnnxMatches(module, bytes, x, { rtol: 0, atol: 0 });
      }
    }
  });

  it.skipIf(!onnxCheckerAvailable())('opset-17 exports pass onnx.checker (full_check)', () => {
    checkWithOnnxChecker(cases.map((c) => ({
      name: c.name,
      bytes: exportOnnx(c.build(), { inputs: [{ shape: c.shape }], dynamicAxes: c.shape.length === 3 ? {} : { input: { 0: 'batch' } }, lowerings }),
    })));
  });
});
