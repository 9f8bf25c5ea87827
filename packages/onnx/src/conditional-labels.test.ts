// ConditionalBatchNorm (labels as an int64 graph input), SPADE (segmentation map as the condition, resized
// by nearest neighbour with normkit's indices) and Embedding (int64 indices) against onnxruntime.
import { ConditionalBatchNorm, SPADE } from '@normkit/conditional';
import { Embedding, Generator, Linear, Sequential, noGrad, randn, tensor, type Module, type Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { conditionalLowerings } from './conditional';
import { exportOnnx } from './index';
import { nearestSourceIndices } from './lowerings/resize';
import { randomize } from './test-cases';
import { NORMALIZER_TOLERANCE, checkWithOnnxChecker, expectClose, onnxCheckerAvailable, runOnnx } from './test-support';

function labelsFor(n: number, numClasses: number, generator: Generator): number[] {
  return Array.from(randn([n], { generator }).data, (v) => Math.abs(Math.floor(v * 7)) % numClasses);
}

function evalWith(module: Module, x: Tensor, context: Record<string, unknown>): Tensor {
  const training = module.training;
  module.eval();
  try {
    return noGrad(() => (module.forward as (x: Tensor, context: unknown) => Tensor)(x, context));
  } finally {
    module.train(training);
  }
}

const cbnCases = [
  { name: 'ConditionalBatchNorm [N, C, H, W]', shape: [2, 4, 3, 5], build: (g: Generator) => randomize(new ConditionalBatchNorm({ numFeatures: 4, numClasses: 5 }), g) },
  { name: 'ConditionalBatchNorm [N, C], eps 1e-3', shape: [2, 6], build: (g: Generator) => randomize(new ConditionalBatchNorm({ numFeatures: 6, numClasses: 3, eps: 1e-3 }), g) },
];

describe('ConditionalBatchNorm takes the labels as an int64 graph input', () => {
  for (const c of cbnCases) {
    for (const opset of [17, 18, 23]) {
      it(`${c.name}, opset ${opset}, batch 1 and 7`, async () => {
        const g = new Generator(opset + 40);
        const module = c.build(g) as ConditionalBatchNorm;
        const bytes = exportOnnx(module, {
          inputs: [{ shape: c.shape }], context: { labels: { shape: [2] } }, opset, dynamicAxes: { input: { 0: 'batch' }, labels: { 0: 'batch' } }, lowerings: conditionalLowerings,
        });
        for (const n of [1, 7]) {
          const x = randn([n, ...c.shape.slice(1)], { mean: 0.3, std: 1.5, generator: g });
          const labels = labelsFor(n, module.numClasses, g);
          const reference = evalWith(module, x, { labels });
          const { data, dims } = await runOnnx(bytes, { input: x, labels: { int64: labels, dims: [n] } });
          expect([...dims]).toEqual(reference.shape);
          expectClose(data, reference.data, NORMALIZER_TOLERANCE.rtol, NORMALIZER_TOLERANCE.atol);
        }
      });
    }
  }

  it('without context.labels the export says how to give them', () => {
    expect(() => exportOnnx(new ConditionalBatchNorm({ numFeatures: 2, numClasses: 2 }), { inputs: [{ shape: [2, 2] }], lowerings: conditionalLowerings }))
      .toThrow(/context: \{ labels: \{ shape: \[N\] \} \}/);
  });
});

// Map sizes: upsampling at non-integer scales (4 -> 6 is 1.5, 3 -> 5 is 5/3), exactly 2x, downsampling, the same size.
const spadeCases = [
  { name: 'SPADE batch, map 4x3 -> 6x5', norm: 'batch' as const, x: [2, 4, 6, 5], map: [2, 3, 4, 3] },
  { name: 'SPADE instance, map 3x5 -> 6x10 (2x)', norm: 'instance' as const, x: [2, 4, 6, 10], map: [2, 3, 3, 5] },
  { name: 'SPADE batch, map 9x7 -> 6x5 (down)', norm: 'batch' as const, x: [2, 4, 6, 5], map: [2, 3, 9, 7] },
  { name: 'SPADE instance, map the same size, kernel 1', norm: 'instance' as const, x: [2, 4, 5, 5], map: [2, 3, 5, 5], kernelSize: 1 },
];

describe('SPADE takes the segmentation map as the condition input', () => {
  for (const c of spadeCases) {
    for (const opset of [17, 23]) {
      it(`${c.name}, opset ${opset}, batch 1 and 7`, async () => {
        const g = new Generator(opset + c.name.length);
        const module = randomize(new SPADE({ normChannels: 4, labelChannels: 3, hiddenChannels: 5, paramFreeNorm: c.norm, kernelSize: c.kernelSize ?? 3, generator: g }), g);
        const bytes = exportOnnx(module, {
          inputs: [{ shape: c.x }], context: { condition: { shape: c.map } }, opset, dynamicAxes: { input: { 0: 'batch' }, condition: { 0: 'batch' } }, lowerings: conditionalLowerings,
        });
        if (opset === 17 && onnxCheckerAvailable()) checkWithOnnxChecker([{ name: c.name, bytes }]);
        for (const n of [1, 7]) {
          const x = randn([n, ...c.x.slice(1)], { mean: 0.3, std: 1.5, generator: g });
          const condition = randn([n, ...c.map.slice(1)], { generator: g });
          const reference = evalWith(module, x, { condition });
          const { data, dims } = await runOnnx(bytes, { input: x, condition });
          expect([...dims]).toEqual(reference.shape);
          expectClose(data, reference.data, NORMALIZER_TOLERANCE.rtol, NORMALIZER_TOLERANCE.atol);
        }
      });
    }
  }

  it("the resize indices are normkit's (PyTorch's floor(dst * in / out) in float32)", () => {
    expect(nearestSourceIndices(6, 4)).toEqual([0, 1, 3, 4]);
    expect(nearestSourceIndices(4, 6)).toEqual([0, 0, 1, 2, 2, 3]);
    expect(nearestSourceIndices(3, 6)).toEqual([0, 0, 1, 1, 2, 2]);
  });
});

describe('Embedding exports with int64 indices (Gather)', () => {
  it('alone and under a Linear head, dynamic batch and tokens, opsets 17 and 23', async () => {
    for (const opset of [17, 23]) {
      const g = new Generator(opset);
      const model = new Sequential(new Embedding({ numEmbeddings: 11, embeddingDim: 6, generator: g }), new Linear({ inFeatures: 6, outFeatures: 3, generator: g }));
      const bytes = exportOnnx(model, { inputs: [{ shape: [2, 4], dtype: 'int64' }], opset, dynamicAxes: { input: { 0: 'batch', 1: 'tokens' } } });
      if (opset === 17 && onnxCheckerAvailable()) checkWithOnnxChecker([{ name: 'embedding', bytes }]);
      for (const [n, l] of [[1, 4], [7, 2]] as const) {
        const ids = labelsFor(n * l, 11, g);
        const reference = noGrad(() => model.forward(tensor(ids).reshape([n, l])));
        const { data, dims } = await runOnnx(bytes, { input: { int64: ids, dims: [n, l] } });
        expect([...dims]).toEqual([n, l, 3]);
        expectClose(data, reference.data, NORMALIZER_TOLERANCE.rtol, NORMALIZER_TOLERANCE.atol);
      }
    }
  });
});
