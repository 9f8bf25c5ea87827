import { randn } from '@normkit/tensor';
import { expectScaleInvariant } from '@normkit/testkit';
import { describe, it } from 'vitest';
import { SwitchableNorm } from './switchable-norm';

// float64 inputs around 1e200: the mixed variance (1e400) is beyond float64; it used to overflow
// to Infinity and every output was 0. Issue 17 item 10. The importance logits are random too, so
// every statistic has a different weight.
describe('SwitchableNorm beyond float64 square range', () => {
  const x = randn([4, 3, 2, 3], { dtype: 'float64' });
  for (const mixed of [false, true]) {
    for (const usingBatchStats of [true, false]) {
      const label = `${mixed ? '1e200 and 1e-200 mixed' : 'inputs around 1e200'}${usingBatchStats ? '' : ', without batch statistics'}`;
      it(`${label}: normalises like the input scaled down by 1e200`, () => {
        expectScaleInvariant((eps) => new SwitchableNorm({ numFeatures: 3, eps, usingBatchStats, dtype: 'float64' }), x, { mixed });
      });
    }
  }
});
