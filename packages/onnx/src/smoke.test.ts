import { GELU, Generator, Linear, ReLU, Sequential, randn } from '@normkit/tensor';
import { describe, it } from 'vitest';
import { exportOnnx } from './index';
import { MODEL_TOLERANCE, expectOnnxMatches } from './test-support';

describe('smoke', () => {
  it('MLP', async () => {
    const g = new Generator(0);
    const mlp = new Sequential(new Linear({ inFeatures: 4, outFeatures: 8, generator: g }), new ReLU(), new Linear({ inFeatures: 8, outFeatures: 3, generator: g }), new GELU());
    const bytes = exportOnnx(mlp, { inputs: [{ shape: [2, 4] }], dynamicAxes: { input: { 0: 'batch' } } });
    await expectOnnxMatches(mlp, bytes, randn([7, 4], { generator: g }), MODEL_TOLERANCE);
  });
});
