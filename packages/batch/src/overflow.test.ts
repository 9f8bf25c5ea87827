import { randn } from '@normkit/tensor';
import { expectScaleInvariant } from '@normkit/testkit';
import { describe, it } from 'vitest';
import { BatchNorm } from './batch-norm';
import { GhostBatchNorm } from './ghost-batch-norm';

// float64 batches around 1e200: the variance (1e400) is beyond float64; it used to overflow to
// Infinity and every output was the bias. Issue 17 item 10.
describe('BatchNorm beyond float64 square range', () => {
  const x = randn([6, 3, 2, 2], { dtype: 'float64' });
  for (const mixed of [false, true]) {
    const label = mixed ? '1e200 and 1e-200 mixed in a channel' : 'a batch around 1e200';
    it(`BatchNorm: ${label} normalises like the batch scaled down by 1e200`, () => {
      expectScaleInvariant((eps) => new BatchNorm({ numFeatures: 3, eps, dtype: 'float64' }), x, { mixed });
    });
    it(`GhostBatchNorm: ${label} normalises like the batch scaled down by 1e200`, () => {
      expectScaleInvariant((eps) => new GhostBatchNorm({ numFeatures: 3, virtualBatchSize: 2, eps, dtype: 'float64' }), x, { mixed });
    });
  }
});
