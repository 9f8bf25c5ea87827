// A forward that throws changes no state: every buffer and parameter stays bit-identical (issue 17).
import { describe, expect, it } from 'vitest';
import { InProcessGroup, ShapeError, randn, tensor, type Module, type Tensor } from '@normkit/tensor';
import { expectThrowsWithoutStateChange } from '@normkit/testkit';
import { BatchNorm } from './batch-norm';
import { BatchRenorm } from './batch-renorm';
import { GhostBatchNorm } from './ghost-batch-norm';
import { SyncBatchNorm } from './sync-batch-norm';

const f64 = { dtype: 'float64' as const };
type Forward = (x: Tensor, context?: { mask?: Tensor }) => Tensor;

/** Bad inputs every batch-style norm with 3 channels must refuse; the batch is trained once first so the buffers are not at their defaults. */
function badCalls(): Array<[string, Tensor, { mask?: Tensor }?]> {
  return [
    ['wrong channel count', randn([4, 5, 2], f64)],
    ['rank 1', randn([3], f64)],
    ['wrong dtype', randn([4, 3, 2])],
    ['one value per channel', randn([1, 3], f64)],
    ['mask of the wrong shape', randn([4, 3, 2], f64), { mask: tensor([[1, 1, 1], [1, 1, 1], [1, 1, 1], [1, 1, 1]], f64) }],
    ['mask with a value other than 0 and 1', randn([4, 3, 2], f64), { mask: tensor([[1, 0.5], [1, 1], [1, 1], [1, 1]], f64) }],
    ['mask with one real value', randn([4, 3, 2], f64), { mask: tensor([[1, 0], [0, 0], [0, 0], [0, 0]], f64) }],
  ];
}

function sweep(label: string, make: () => Module & { forward: Forward }): void {
  describe(`${label}: a forward that throws changes no buffer or parameter`, () => {
    for (const [what, x, context] of badCalls()) {
      for (const mode of ['train', 'eval'] as const) {
        it(`${what} (${mode})`, () => {
          const module = make();
          module.forward(randn([4, 3, 2], f64)); // move the running statistics off their defaults
          module[mode]();
          if (mode === 'eval' && (what === 'one value per channel' || what === 'mask with one real value')) return; // valid in eval
          expectThrowsWithoutStateChange(module, () => module.forward(x, context));
        });
      }
    }
  });
}

sweep('BatchNorm', () => new BatchNorm({ numFeatures: 3, ...f64 }));
sweep('BatchNorm, momentum null', () => new BatchNorm({ numFeatures: 3, momentum: null, ...f64 }));
sweep('GhostBatchNorm', () => new GhostBatchNorm({ numFeatures: 3, virtualBatchSize: 2, ...f64 }));
sweep('SyncBatchNorm without a group', () => new SyncBatchNorm({ numFeatures: 3, ...f64 }));
sweep('BatchRenorm', () => new BatchRenorm({ numFeatures: 3, momentum: 0.5, ...f64 }));

describe('SyncBatchNorm in a group: a forward that throws changes no state on any replica', () => {
  it('replicas that disagree on numFeatures: every replica throws, no buffer moves', () => {
    const unchanged: boolean[] = [];
    const bytes = (bn: SyncBatchNorm): string => [bn.runningMean!, bn.runningVar!, bn.numBatchesTracked!, bn.weight!, bn.bias!]
      .map((t) => Array.from(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength)).join(',')).join('|');
    expect(() => InProcessGroup.run(2, (group) => {
      const bn = new SyncBatchNorm({ numFeatures: 3 + group.rank, ...f64, group });
      const before = bytes(bn);
      try {
        return bn.forward(randn([4, 3 + group.rank, 2], f64));
      } finally {
        unchanged[group.rank] = bytes(bn) === before;
      }
    })).toThrow(ShapeError);
    expect(unchanged).toEqual([true, true]);
  });
});
