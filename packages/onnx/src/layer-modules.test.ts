// @normkit/tensor's pooling, Sigmoid, Softmax and Upsample modules, lowered by the built-in lowerings
// (no `lowerings` option needed), against onnxruntime-node; Upsample at non-integer scales.
import {
  AdaptiveAvgPool2d, AvgPool2d, Conv2d, Flatten, Generator, Linear, MaxPool2d, ReLU, Sequential, Sigmoid, Softmax, Upsample, randn, type Module,
} from '@normkit/tensor';
import { describe, it } from 'vitest';
import { exportOnnx } from './index';
import { MODEL_TOLERANCE, NORMALIZER_TOLERANCE, checkWithOnnxChecker, expectOnnxMatches, onnxCheckerAvailable } from './test-support';

const cases: Array<{ name: string; shape: number[]; build(): Module }> = [
  { name: 'MaxPool2d 2', shape: [2, 3, 6, 5], build: () => new MaxPool2d({ kernelSize: 2 }) },
  { name: 'MaxPool2d 3, stride 2, padding 1, dilation [1, 2]', shape: [2, 3, 9, 10], build: () => new MaxPool2d({ kernelSize: 3, stride: 2, padding: 1, dilation: [1, 2] }) },
  { name: 'MaxPool2d [2, 3] unbatched', shape: [3, 6, 7], build: () => new MaxPool2d({ kernelSize: [2, 3] }) },
  { name: 'AvgPool2d 2', shape: [2, 3, 6, 5], build: () => new AvgPool2d({ kernelSize: 2 }) },
  { name: 'AvgPool2d 3, stride 2, padding 1', shape: [2, 3, 7, 8], build: () => new AvgPool2d({ kernelSize: 3, stride: 2, padding: 1 }) },
  { name: 'AvgPool2d 3, stride 1, padding 1, countIncludePad false', shape: [2, 3, 5, 5], build: () => new AvgPool2d({ kernelSize: 3, stride: 1, padding: 1, countIncludePad: false }) },
  { name: 'AdaptiveAvgPool2d 1', shape: [2, 3, 5, 7], build: () => new AdaptiveAvgPool2d({ outputSize: 1 }) },
  { name: 'AdaptiveAvgPool2d [3, 2] of 7x5', shape: [2, 3, 7, 5], build: () => new AdaptiveAvgPool2d({ outputSize: [3, 2] }) },
  { name: 'Sigmoid', shape: [2, 5], build: () => new Sigmoid() },
  { name: 'Softmax dim 1 of [N, 4, 3]', shape: [2, 4, 3], build: () => new Softmax({ dim: 1 }) },
  { name: 'Softmax dim -1', shape: [2, 6], build: () => new Softmax({ dim: -1 }) },
  { name: 'Upsample nearest x2', shape: [2, 3, 3, 4], build: () => new Upsample({ scaleFactor: 2 }) },
  { name: 'Upsample nearest x1.5', shape: [2, 3, 4, 6], build: () => new Upsample({ scaleFactor: 1.5 }) },
  { name: 'Upsample nearest [2.5, 0.7]', shape: [2, 3, 4, 10], build: () => new Upsample({ scaleFactor: [2.5, 0.7] }) },
  { name: 'Upsample nearest x0.6 (down)', shape: [2, 2, 10, 7], build: () => new Upsample({ scaleFactor: 0.6 }) },
  { name: 'Upsample nearest size [7, 5] from 4x3', shape: [2, 3, 4, 3], build: () => new Upsample({ size: [7, 5] }) },
  { name: 'Upsample bilinear x1.5', shape: [2, 3, 4, 6], build: () => new Upsample({ scaleFactor: 1.5, mode: 'bilinear' }) },
  { name: 'Upsample bilinear [1.7, 2.3]', shape: [2, 2, 5, 4], build: () => new Upsample({ scaleFactor: [1.7, 2.3], mode: 'bilinear' }) },
  { name: 'Upsample bilinear x0.6 (down)', shape: [2, 2, 10, 7], build: () => new Upsample({ scaleFactor: 0.6, mode: 'bilinear' }) },
  { name: 'Upsample bilinear alignCorners size [7, 9]', shape: [2, 3, 4, 3], build: () => new Upsample({ size: [7, 9], mode: 'bilinear', alignCorners: true }) },
  { name: 'Upsample bilinear alignCorners x2.5', shape: [2, 3, 4, 3], build: () => new Upsample({ scaleFactor: 2.5, mode: 'bilinear', alignCorners: true }) },
];

describe('tensor layer modules (pooling, Sigmoid, Softmax, Upsample) match onnxruntime, batch 1 and 7 through one file', () => {
  for (const c of cases) {
    for (const opset of [17, 18, 23]) {
      it(`${c.name}, opset ${opset}`, async () => {
        const g = new Generator(opset * 31 + c.name.length);
        const module = c.build();
        const unbatched = c.shape.length === 3 && !c.name.startsWith('Softmax');
        const bytes = exportOnnx(module, { inputs: [{ shape: c.shape }], opset, dynamicAxes: unbatched ? {} : { input: { 0: 'batch' } } });
        for (const n of unbatched ? [c.shape[0]!] : [1, 7]) {
          await expectOnnxMatches(module, bytes, randn(unbatched ? c.shape : [n, ...c.shape.slice(1)], { std: 2, generator: g }), NORMALIZER_TOLERANCE);
        }
      });
    }
  }

  for (const mode of ['nearest', 'bilinear'] as const) {
    it(`Upsample ${mode} x1.5 with dynamic H and W: one file for 4x6, 5x7 and 9x3 inputs`, async () => {
      const module = new Upsample({ scaleFactor: 1.5, mode });
      const bytes = exportOnnx(module, { inputs: [{ shape: [1, 2, 4, 6] }], dynamicAxes: { input: { 0: 'batch', 2: 'height', 3: 'width' } } });
      const g = new Generator(11);
      for (const [n, h, w] of [[1, 4, 6], [3, 5, 7], [2, 9, 3]] as const) await expectOnnxMatches(module, bytes, randn([n, 2, h, w], { generator: g }), NORMALIZER_TOLERANCE);
    });
  }

  it('a small CNN of these modules (Conv2d, ReLU, MaxPool2d, Upsample x1.5, AvgPool2d, AdaptiveAvgPool2d, Linear, Softmax), opsets 17 and 23', async () => {
    const generator = new Generator(5);
    const model = new Sequential(
      new Conv2d({ inChannels: 3, outChannels: 6, kernelSize: 3, padding: 1, generator }),
      new ReLU(),
      new MaxPool2d({ kernelSize: 2 }),
      new Upsample({ scaleFactor: 1.5, mode: 'bilinear' }),
      new AvgPool2d({ kernelSize: 3, stride: 1, padding: 1, countIncludePad: false }),
      new AdaptiveAvgPool2d({ outputSize: [2, 2] }),
      new Flatten(),
      new Linear({ inFeatures: 24, outFeatures: 4, generator }),
      new Sigmoid(),
      new Softmax({ dim: 1 }),
    );
    for (const opset of [17, 23]) {
      const bytes = exportOnnx(model, { inputs: [{ shape: [1, 3, 10, 10] }], opset, dynamicAxes: { input: { 0: 'batch' } } });
      for (const n of [1, 7]) await expectOnnxMatches(model, bytes, randn([n, 3, 10, 10], { std: 2, generator }), MODEL_TOLERANCE);
    }
  });

  it.skipIf(!onnxCheckerAvailable())('opset-17 exports pass onnx.checker (full_check)', () => {
    checkWithOnnxChecker(cases.map((c) => ({ name: c.name, bytes: exportOnnx(c.build(), { inputs: [{ shape: c.shape }], dynamicAxes: { input: { 0: 'batch' } } }) })));
  });
});
