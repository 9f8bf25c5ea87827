import { randn } from '@normkit/tensor';
import { expectScaleInvariant } from '@normkit/testkit';
import { describe, it } from 'vitest';
import { LayerNorm } from './layer-norm';
import { RMSNorm } from './rms-norm';

// float64 rows around 1e200: the variance (1e400) is beyond float64; it used to overflow to
// Infinity and every output was 0. Issue 17 item 10.
describe('LayerNorm and RMSNorm beyond float64 square range', () => {
  const x = randn([3, 4, 8], { dtype: 'float64' });
  for (const mixed of [false, true]) {
    const label = mixed ? '1e200 and 1e-200 mixed in a row' : 'rows around 1e200';
    it(`LayerNorm: ${label} normalise like the rows scaled down by 1e200`, () => {
      expectScaleInvariant((eps) => new LayerNorm({ normalizedShape: 8, eps, dtype: 'float64' }), x, { mixed });
    });
    it(`RMSNorm: ${label} normalise like the rows scaled down by 1e200`, () => {
      expectScaleInvariant((eps) => new RMSNorm({ normalizedShape: 8, eps, dtype: 'float64' }), x, { mixed });
    });
  }
});
