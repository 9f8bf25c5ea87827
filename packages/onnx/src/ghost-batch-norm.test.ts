// GhostBatchNorm without running statistics: eval normalizes each ghost batch with its own statistics,
// exported as primitive ops that take any batch size (a smaller last chunk included) through one file.
import { BatchNorm, GhostBatchNorm } from '@normkit/batch';
import { Generator, randn } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { batchLowerings } from './batch';
import { exportOnnx } from './index';
import { randomize } from './test-cases';
import { NORMALIZER_TOLERANCE, checkWithOnnxChecker, evalForward, expectOnnxMatches, onnxCheckerAvailable } from './test-support';

const cases = [
  // [N, C] needs at least 2 samples in every chunk (1 value per channel is refused by normkit): 6 and 8 with chunks of 3.
  { name: '[N, C], virtualBatchSize 3', shape: [3, 5], batches: [3, 6, 8], virtualBatchSize: 3 },
  { name: '[N, C, L], virtualBatchSize 3', shape: [3, 4, 5], batches: [1, 6, 7], virtualBatchSize: 3 },
  { name: '[N, C, H, W], virtualBatchSize 2', shape: [2, 4, 3, 5], batches: [1, 4, 7], virtualBatchSize: 2 },
];

describe('GhostBatchNorm with trackRunningStats: false (per-ghost-batch statistics in eval) matches onnxruntime', () => {
  for (const c of cases) {
    for (const opset of [17, 18, 23]) {
      it(`${c.name}, opset ${opset}, batches ${c.batches.join(', ')} through one file`, async () => {
        const g = new Generator(opset + c.shape.length);
        const module = randomize(new GhostBatchNorm({ numFeatures: c.shape[1]!, virtualBatchSize: c.virtualBatchSize, trackRunningStats: false, eps: 1e-3 }), g);
        const bytes = exportOnnx(module, { inputs: [{ shape: c.shape }], opset, dynamicAxes: { input: { 0: 'batch' } }, lowerings: batchLowerings });
        for (const n of c.batches) await expectOnnxMatches(module, bytes, randn([n, ...c.shape.slice(1)], { mean: 1, std: 2, generator: g }), NORMALIZER_TOLERANCE);
      });
    }
  }

  it('a static batch too, and the statistics are per chunk (the output differs from whole-batch BatchNorm)', async () => {
    const g = new Generator(3);
    const module = randomize(new GhostBatchNorm({ numFeatures: 4, virtualBatchSize: 4, trackRunningStats: false }), g);
    const x = randn([10, 4, 3], { std: 3, generator: g });
    const bytes = exportOnnx(module, { inputs: [x], lowerings: batchLowerings });
    await expectOnnxMatches(module, bytes, x, NORMALIZER_TOLERANCE);
    const whole = new BatchNorm({ numFeatures: 4, trackRunningStats: false });
    whole.loadStateDict(module.stateDict());
    const ghost = evalForward(module, x).data;
    const batch = evalForward(whole, x).data;
    expect(Math.max(...ghost.map((v, i) => Math.abs(v - batch[i]!)))).toBeGreaterThan(0.1);
  });

  it.skipIf(!onnxCheckerAvailable())('opset-17 exports pass onnx.checker (full_check)', () => {
    checkWithOnnxChecker(cases.map((c) => ({
      name: c.name,
      bytes: exportOnnx(new GhostBatchNorm({ numFeatures: c.shape[1]!, virtualBatchSize: c.virtualBatchSize, trackRunningStats: false }), {
        inputs: [{ shape: c.shape }], dynamicAxes: { input: { 0: 'batch' } }, lowerings: batchLowerings,
      }),
    })));
  });
});
