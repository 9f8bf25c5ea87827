import { randn } from '@normkit/tensor';
import { expectScaleInvariant } from '@normkit/testkit';
import { describe, it } from 'vitest';
import { GroupNorm } from './group-norm';
import { InstanceNorm } from './instance-norm';

// float64 inputs around 1e200: the variance (1e400) is beyond float64; it used to overflow to
// Infinity and every output was 0. Issue 17 item 10.
describe('GroupNorm and InstanceNorm beyond float64 square range', () => {
  const x = randn([2, 4, 3, 3], { dtype: 'float64' });
  for (const mixed of [false, true]) {
    const label = mixed ? '1e200 and 1e-200 mixed in a group' : 'inputs around 1e200';
    it(`GroupNorm: ${label} normalise like the input scaled down by 1e200`, () => {
      expectScaleInvariant((eps) => new GroupNorm({ numGroups: 2, numChannels: 4, eps, dtype: 'float64' }), x, { mixed });
    });
    it(`InstanceNorm: ${label} normalise like the input scaled down by 1e200`, () => {
      expectScaleInvariant((eps) => new InstanceNorm({ numFeatures: 4, eps, affine: true, dtype: 'float64' }), x, { mixed });
    });
  }
});
