import { randn } from '@normkit/tensor';
import type * as TensorPackage from '@normkit/tensor';
import { describe, expect, it, vi } from 'vitest';
import { SwitchableNorm, switchableNormalize } from './switchable-norm';

/** @normkit/tensor loaded a second time, as when two packages depend on different versions of it. */
async function otherCopy(): Promise<typeof TensorPackage> {
  vi.resetModules();
  return import('@normkit/tensor');
}

describe('a tensor from another copy of @normkit/tensor (issue 17 item 5)', () => {
  it('SwitchableNorm refuses it naming the two copies, not "expected a Tensor input, got Tensor(...)"', async () => {
    const other = await otherCopy();
    const sn = new SwitchableNorm({ numFeatures: 3 });
    expect(() => sn.forward(other.randn([2, 3, 4]) as never)).toThrow(/^SwitchableNorm\.forward: expected x to be a Tensor of this copy of @normkit\/tensor.*two copies of @normkit\/tensor are loaded/is);
    const logits = other.zeros([3]);
    expect(() => switchableNormalize(randn([2, 3, 4]), { meanWeight: logits, varWeight: logits })).toThrow(/expected meanWeight to be a Tensor of this copy/);
    expect(sn.forward(randn([2, 3, 4])).shape).toEqual([2, 3, 4]);
  });
});
