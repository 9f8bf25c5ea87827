import { FiLM } from '@normkit/conditional';
import { AdaLN, AdaLNZero } from '@normkit/layer';
import { Generator, noGrad, randn, type Module, type Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { exportOnnx } from './index';
import { conditionalLowerings } from './conditional';
import { layerLowerings } from './layer';
import { randomize } from './test-cases';
import { NORMALIZER_TOLERANCE, checkWithOnnxChecker, expectClose, onnxCheckerAvailable, runOnnx } from './test-support';

// `tokens`: the second axis is a dynamic token axis (AdaLN on [N, L, D]); FiLM's is channels.
const cases: Array<{ name: string; shape: number[]; tokens?: boolean; build(g: Generator): Module }> = [
  { name: 'AdaLN', shape: [2, 5, 8], tokens: true, build: (g) => randomize(new AdaLN({ normalizedShape: 8, conditionDim: 6, generator: g }), g) },
  { name: 'AdaLNZero (trained: non-zero predictor)', shape: [2, 5, 8], tokens: true, build: (g) => randomize(new AdaLNZero({ normalizedShape: 8, conditionDim: 6 }), g) },
  { name: "FiLM norm 'batch', hidden layer", shape: [2, 8, 3, 4], build: (g) => randomize(new FiLM({ numFeatures: 8, conditionDim: 6, norm: 'batch', hidden: 5, generator: g }), g) },
  { name: "FiLM norm 'instance'", shape: [2, 8, 5], build: (g) => randomize(new FiLM({ numFeatures: 8, conditionDim: 6, norm: 'instance', generator: g }), g) },
  { name: "FiLM norm 'layer'", shape: [2, 8, 5], build: (g) => randomize(new FiLM({ numFeatures: 8, conditionDim: 6, norm: 'layer', generator: g }), g) },
  { name: "FiLM norm 'none'", shape: [2, 8], build: (g) => randomize(new FiLM({ numFeatures: 8, conditionDim: 6, generator: g }), g) },
];

function evalWithCondition(module: Module, x: Tensor, condition: Tensor): Tensor {
  const training = module.training;
  module.eval();
  try {
    return noGrad(() => (module.forward as (x: Tensor, context: { condition: Tensor }) => Tensor)(x, { condition }));
  } finally {
    module.train(training);
  }
}

describe('conditional normalizers take the condition as a second graph input', () => {
  for (const c of cases) {
    for (const opset of [17, 18, 23]) {
      it(`${c.name}, opset ${opset}, batch 1 and 7`, async () => {
        const g = new Generator(opset);
        const module = c.build(g);
        const bytes = exportOnnx(module, {
          inputs: [{ shape: c.shape }],
          context: { condition: { shape: [2, 6] } },
          opset,
          dynamicAxes: { input: c.tokens ? { 0: 'batch', 1: 'tokens' } : { 0: 'batch' }, condition: { 0: 'batch' } },
          lowerings: [...layerLowerings, ...conditionalLowerings],
        });
        if (opset === 17 && onnxCheckerAvailable()) checkWithOnnxChecker([{ name: c.name, bytes }]);
        for (const [n, l] of [[1, c.shape[1]!], [7, c.tokens ? 3 : c.shape[1]!]] as const) {
          const x = randn([n, l, ...c.shape.slice(2)], { mean: 0.3, std: 1.5, generator: g });
          const condition = randn([n, 6], { generator: g });
          const reference = evalWithCondition(module, x, condition);
          const { data, dims } = await runOnnx(bytes, { input: x, condition });
          expect([...dims]).toEqual(reference.shape);
          expectClose(data, reference.data, NORMALIZER_TOLERANCE.rtol, NORMALIZER_TOLERANCE.atol);
        }
      });
    }
  }

  it('without context.condition the export says how to give it', () => {
    const module = new AdaLN({ normalizedShape: 4, conditionDim: 2 });
    expect(() => exportOnnx(module, { inputs: [{ shape: [1, 4] }], lowerings: layerLowerings })).toThrow(/context: \{ condition: \{ shape: \[N, conditionDim\] \} \}/);
  });
});
