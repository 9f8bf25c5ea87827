// A forward that throws changes no state: every buffer and parameter stays bit-identical (issue 17).
import { describe, it } from 'vitest';
import { randn, tensor, type Tensor } from '@normkit/tensor';
import { expectThrowsWithoutStateChange } from '@normkit/testkit';
import { SwitchableNorm } from './switchable-norm';

const f64 = { dtype: 'float64' as const };

describe('SwitchableNorm: a forward that throws changes no buffer or parameter', () => {
  const cases: Array<[string, Tensor, { mask?: Tensor }?]> = [
    ['wrong channel count', randn([4, 5, 3], f64)],
    ['rank 1', randn([3], f64)],
    ['wrong dtype', randn([4, 3, 3])],
    ['one value per channel', randn([1, 3, 1], f64)],
    ['a mask (not supported, or of the wrong shape)', randn([4, 3, 3], f64), { mask: tensor([[1, 1], [1, 1], [1, 1], [1, 1]], f64) }],
  ];
  for (const options of [{}, { usingMovingAverage: false }, { usingBatchStats: false }]) {
    for (const mode of ['train', 'eval'] as const) {
      for (const [what, x, context] of cases) {
        it(`${JSON.stringify(options)}, ${what} (${mode})`, () => {
          const norm = new SwitchableNorm({ numFeatures: 3, ...options, ...f64 });
          norm.forward(randn([4, 3, 3], f64));
          norm[mode]();
          try {
            // Inputs that are valid in this mode (one value per channel in eval, say) are not part of this test.
            const probe = new SwitchableNorm({ numFeatures: 3, ...options, ...f64 })[mode]();
            probe.forward(x, context);
            return;
          } catch {
            expectThrowsWithoutStateChange(norm, () => norm.forward(x, context));
          }
        });
      }
    }
  }
});
