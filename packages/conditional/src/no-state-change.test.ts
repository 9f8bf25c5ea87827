// A forward that throws changes no state: every buffer and parameter stays bit-identical (issue 17).
import { describe, it } from 'vitest';
import { randn, tensor, type Module, type Tensor } from '@normkit/tensor';
import { expectThrowsWithoutStateChange } from '@normkit/testkit';
import { ConditionalBatchNorm } from './conditional-batch-norm';
import { FiLM } from './film';
import { SPADE } from './spade';

const f64 = { dtype: 'float64' as const };

function expectNoChange(make: () => Module & { forward(x: Tensor, context?: object): Tensor }, good: () => [Tensor, object], bad: Array<[string, () => [Tensor, object]]>): void {
  for (const mode of ['train', 'eval'] as const) {
    for (const [what, call] of bad) {
      it(`${what} (${mode})`, () => {
        const module = make();
        const [x, context] = good();
        module.forward(x, context); // move the running statistics off their defaults
        module[mode]();
        const [badX, badContext] = call();
        expectThrowsWithoutStateChange(module, () => module.forward(badX, badContext));
      });
    }
  }
}

describe('ConditionalBatchNorm: a forward that throws changes no buffer or parameter', () => {
  expectNoChange(
    () => new ConditionalBatchNorm({ numFeatures: 3, numClasses: 4, ...f64 }),
    () => [randn([4, 3, 2], f64), { labels: [0, 1, 2, 3] }],
    [
      ['no labels', () => [randn([4, 3, 2], f64), {}]],
      ['a label out of range', () => [randn([4, 3, 2], f64), { labels: [0, 1, 2, 4] }]],
      ['a fractional label', () => [randn([4, 3, 2], f64), { labels: [0, 1, 2, 1.5] }]],
      ['too few labels', () => [randn([4, 3, 2], f64), { labels: [0, 1] }]],
      ['wrong channel count', () => [randn([4, 5, 2], f64), { labels: [0, 1, 2, 3] }]],
      ['wrong dtype', () => [randn([4, 3, 2]), { labels: [0, 1, 2, 3] }]],
      ['a mask of the wrong shape', () => [randn([4, 3, 2], f64), { labels: [0, 1, 2, 3], mask: tensor([[1, 1, 1]], f64) }]],
      ['a mask with a 2', () => [randn([4, 3, 2], f64), { labels: [0, 1, 2, 3], mask: tensor([[1, 2], [1, 1], [1, 1], [1, 1]], f64) }]],
    ],
  );
});

describe('SPADE: a forward that throws changes no buffer or parameter', () => {
  expectNoChange(
    () => new SPADE({ normChannels: 3, labelChannels: 2, hiddenChannels: 4, ...f64 }),
    () => [randn([2, 3, 4, 4], f64), { condition: randn([2, 2, 4, 4], f64) }],
    [
      ['no condition', () => [randn([2, 3, 4, 4], f64), {}]],
      ['a map with the wrong channel count', () => [randn([2, 3, 4, 4], f64), { condition: randn([2, 3, 4, 4], f64) }]],
      ['a map with another batch size', () => [randn([2, 3, 4, 4], f64), { condition: randn([3, 2, 4, 4], f64) }]],
      ['x with the wrong channel count', () => [randn([2, 5, 4, 4], f64), { condition: randn([2, 2, 4, 4], f64) }]],
      ['a float32 map', () => [randn([2, 3, 4, 4], f64), { condition: randn([2, 2, 4, 4]) }]],
    ],
  );
});

describe('FiLM: a forward that throws changes no buffer or parameter', () => {
  expectNoChange(
    () => new FiLM({ numFeatures: 3, conditionDim: 2, norm: 'batch', ...f64 }),
    () => [randn([4, 3, 2], f64), { condition: randn([4, 2], f64) }],
    [
      ['no condition', () => [randn([4, 3, 2], f64), {}]],
      ['a condition of the wrong width', () => [randn([4, 3, 2], f64), { condition: randn([4, 5], f64) }]],
      ['a condition for another batch size', () => [randn([4, 3, 2], f64), { condition: randn([3, 2], f64) }]],
      ['x with the wrong channel count', () => [randn([4, 5, 2], f64), { condition: randn([4, 2], f64) }]],
      ['a float32 condition', () => [randn([4, 3, 2], f64), { condition: randn([4, 2]) }]],
    ],
  );
});
