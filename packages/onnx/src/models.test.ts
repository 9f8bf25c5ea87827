import { Generator, randn } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { exportOnnx } from './index';
import { familyLowerings } from './test-cases';
import { smallCnn, smallMlp, poolLowerings, train } from './test-models';
import { MODEL_TOLERANCE, expectOnnxMatches } from './test-support';

const lowerings = [...familyLowerings, ...poolLowerings];

describe('trained models match onnxruntime (|a - b| <= 1e-4 max|ref|), batch 1 and 7 through one file', () => {
  for (const opset of [17, 18, 20, 21, 23]) {
    it(`small CNN (Conv2d + BatchNorm2d + ReLU + pool + Linear), opset ${opset}`, async () => {
      const generator = new Generator(opset);
      const model = smallCnn(generator);
      train(model, [4, 3, 8, 8], generator);
      const bytes = exportOnnx(model, { inputs: [{ shape: [2, 3, 8, 8] }], opset, dynamicAxes: { input: { 0: 'batch' } }, lowerings });
      expect(model.training).toBe(true);
      for (const n of [1, 7]) await expectOnnxMatches(model, bytes, randn([n, 3, 8, 8], { generator }), MODEL_TOLERANCE);
    });

    it(`MLP on tokens (Linear + LayerNorm + GELU + Dropout + Linear), opset ${opset}`, async () => {
      const generator = new Generator(100 + opset);
      const model = smallMlp(generator);
      train(model, [4, 5, 6], generator);
      const bytes = exportOnnx(model, { inputs: [{ shape: [2, 5, 6] }], opset, dynamicAxes: { input: { 0: 'batch', 1: 'tokens' } }, lowerings });
      for (const [n, l] of [[1, 5], [7, 3]] as const) await expectOnnxMatches(model, bytes, randn([n, l, 6], { generator }), MODEL_TOLERANCE);
    });
  }
});
