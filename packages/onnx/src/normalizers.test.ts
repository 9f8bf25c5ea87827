import { describe, expect, it } from 'vitest';
import { exportOnnx } from './index';
import { Generator, familyLowerings, normalizerCases, sampleInput } from './test-cases';
import { NORMALIZER_TOLERANCE, expectOnnxMatches } from './test-support';

// 17 is the baseline; each later opset changes some lowering: 18 ReduceMean's axes input,
// 20 Gelu, 21 GroupNormalization, 23 RMSNormalization.
const OPSETS = [17, 18, 21, 23];

describe('each normalizer alone matches onnxruntime (|a - b| <= 1e-5 max|ref| + 1e-6), batch 1 and 7 through one file', () => {
  for (const testCase of normalizerCases) {
    for (const opset of OPSETS) {
      it(`${testCase.name}, opset ${opset}`, async () => {
        const generator = new Generator(opset * 101 + testCase.name.length);
        const module = testCase.build(generator);
        const bytes = exportOnnx(module, {
          inputs: [{ shape: testCase.shape }],
          opset,
          dynamicAxes: { input: { 0: 'batch' } },
          lowerings: familyLowerings,
        });
        expect(module.training).toBe(true);
        for (const n of [1, 7]) await expectOnnxMatches(module, bytes, sampleInput(testCase.shape, n, generator), NORMALIZER_TOLERANCE);
      });
    }
  }
});
