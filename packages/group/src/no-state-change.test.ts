// A forward that throws changes no state: every buffer and parameter stays bit-identical (issue 17).
import { describe, it } from 'vitest';
import { randn, tensor, type Tensor } from '@normkit/tensor';
import { expectThrowsWithoutStateChange } from '@normkit/testkit';
import { FilterResponseNorm } from './filter-response-norm';
import { GroupNorm } from './group-norm';
import { InstanceNorm } from './instance-norm';

const f64 = { dtype: 'float64' as const };

describe('InstanceNorm, GroupNorm, FilterResponseNorm: a forward that throws changes no buffer or parameter', () => {
  const cases: Array<[string, Tensor, { mask?: Tensor }?]> = [
    ['wrong channel count', randn([2, 5, 4], f64)],
    ['rank 1', randn([4], f64)],
    ['wrong dtype', randn([2, 4, 4])],
    ['an empty spatial axis', randn([2, 4, 0], f64)],
  ];
  for (const mode of ['train', 'eval'] as const) {
    for (const [what, x, context] of cases) {
      it(`InstanceNorm with running statistics, ${what} (${mode})`, () => {
        const norm = new InstanceNorm({ numFeatures: 4, affine: true, trackRunningStats: true, ...f64 });
        norm.forward(randn([2, 4, 3], f64));
        norm[mode]();
        expectThrowsWithoutStateChange(norm, () => norm.forward(x, context));
      });
      it(`GroupNorm, ${what} (${mode})`, () => {
        const norm = new GroupNorm({ numGroups: 2, numChannels: 4, ...f64 })[mode]();
        expectThrowsWithoutStateChange(norm, () => norm.forward(x, context));
      });
      it(`FilterResponseNorm, ${what} (${mode})`, () => {
        const norm = new FilterResponseNorm({ numFeatures: 4, ...f64 })[mode]();
        expectThrowsWithoutStateChange(norm, () => norm.forward(x, context));
      });
    }
    it(`InstanceNorm: one spatial element, and a mask (refused) (${mode})`, () => {
      const norm = new InstanceNorm({ numFeatures: 4, trackRunningStats: true, ...f64 });
      norm.forward(randn([2, 4, 3], f64));
      norm[mode]();
      if (mode === 'train') expectThrowsWithoutStateChange(norm, () => norm.forward(randn([2, 4, 1], f64)));
      expectThrowsWithoutStateChange(norm, () => norm.forward(randn([2, 4, 3], f64), { mask: tensor([[1, 1, 0], [1, 1, 1]], f64) }));
    });
    it(`GroupNorm: one value per group, and bad masks (${mode})`, () => {
      const norm = new GroupNorm({ numGroups: 4, numChannels: 4, ...f64 })[mode]();
      expectThrowsWithoutStateChange(norm, () => norm.forward(randn([1, 4, 1], f64)));
      expectThrowsWithoutStateChange(norm, () => norm.forward(randn([2, 4, 3], f64), { mask: tensor([[1, 1], [1, 1]], f64) }));
      expectThrowsWithoutStateChange(norm, () => norm.forward(randn([2, 4, 3], f64), { mask: tensor([[1, 3, 1], [1, 1, 1]], f64) }));
    });
  }
});
