import { randn, tensor } from '@normkit/tensor';
import type * as TensorPackage from '@normkit/tensor';
import { describe, expect, it, vi } from 'vitest';
import { ConditionalBatchNorm } from './conditional-batch-norm';

/** @normkit/tensor loaded a second time, as when two packages depend on different versions of it. */
async function otherCopy(): Promise<typeof TensorPackage> {
  vi.resetModules();
  return import('@normkit/tensor');
}

describe('a tensor from another copy of @normkit/tensor (issue 17 item 5)', () => {
  it('ConditionalBatchNorm refuses it (input or labels) naming the two copies', async () => {
    const other = await otherCopy();
    const cbn = new ConditionalBatchNorm({ numFeatures: 3, numClasses: 2 });
    const labels = tensor([0, 1]);
    expect(() => cbn.forward(other.randn([2, 3, 4]) as never, { labels })).toThrow(/^ConditionalBatchNorm\.forward: expected x to be a Tensor of this copy of @normkit\/tensor.*two copies of @normkit\/tensor are loaded/is);
    expect(() => cbn.forward(randn([2, 3, 4]), { labels: other.tensor([0, 1]) as never })).toThrow(/expected labels to be a Tensor of this copy of @normkit\/tensor/);
    expect(cbn.forward(randn([2, 3, 4]), { labels }).shape).toEqual([2, 3, 4]);
  });
});
