import { randn } from '@normkit/tensor';
import type * as TensorPackage from '@normkit/tensor';
import { describe, expect, it, vi } from 'vitest';
import { BatchNorm } from './batch-norm';

/** @normkit/tensor loaded a second time, as when two packages depend on different versions of it. */
async function otherCopy(): Promise<typeof TensorPackage> {
  vi.resetModules();
  return import('@normkit/tensor');
}

describe('a tensor from another copy of @normkit/tensor (issue 17 item 5)', () => {
  it('BatchNorm refuses it naming the two copies, not "expected a Tensor input, got Tensor(...)"', async () => {
    const other = await otherCopy();
    const bn = new BatchNorm({ numFeatures: 3 });
    expect(() => bn.forward(other.randn([2, 3, 4]) as never)).toThrow(/^BatchNorm\.forward: expected x to be a Tensor of this copy of @normkit\/tensor.*two copies of @normkit\/tensor are loaded/is);
    expect(bn.forward(randn([2, 3, 4])).shape).toEqual([2, 3, 4]);
  });
});
