// GroupNorm with an element-wise mask (Flax's `mask`), beside the [N, *spatial] padding mask.
import { describe, expect, it } from 'vitest';
import { expectClose, expectGradcheck } from '@normkit/testkit';
import { Generator, ShapeError, gradcheck, randn, tensor, type Tensor } from '@normkit/tensor';
import { GroupNorm } from './group-norm';

/** Each (sample, group) normalised over its unmasked elements, element by element in float64; 0 where masked. */
function referenceMasked(x: Tensor, mask: Tensor, groups: number, eps: number, w: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  const [n, c] = [x.shape[0]!, x.shape[1]!];
  const spatial = x.size / (n * c);
  const y = new Float64Array(x.size);
  const perGroup = (c / groups) * spatial;
  for (let slot = 0; slot < n * groups; slot++) {
    const idx = Array.from({ length: perGroup }, (_, i) => slot * perGroup + i).filter((i) => mask.data[i] === 1);
    if (idx.length === 0) continue;
    const mean = idx.reduce((a, i) => a + x.data[i]!, 0) / idx.length;
    const variance = idx.reduce((a, i) => a + (x.data[i]! - mean) ** 2, 0) / idx.length;
    for (const i of idx) {
      const channel = Math.floor(i / spatial) % c;
      y[i] = ((x.data[i]! - mean) / Math.sqrt(variance + eps)) * w[channel]! + b[channel]!;
    }
  }
  return y;
}

describe('GroupNorm with an element-wise mask', () => {
  it('takes each group\'s statistics over its unmasked elements; masked outputs 0 with no gradient; gradcheck for x, gamma and beta', () => {
    const generator = new Generator(95);
    for (const shape of [[2, 6, 5], [2, 4, 3, 2]]) {
      const norm = new GroupNorm({ numGroups: 2, numChannels: shape[1]!, dtype: 'float64' });
      norm.weight!.data.set(randn([shape[1]!], { dtype: 'float64', generator, mean: 1 }).data);
      norm.bias!.data.set(randn([shape[1]!], { dtype: 'float64', generator }).data);
      const x = randn(shape, { dtype: 'float64', generator, std: 2, requiresGrad: true });
      const size = x.size;
      const values = Array.from({ length: size }, () => (generator.uniform() < 0.6 ? 1 : 0));
      // The first group of the first sample fully masked: it must stay finite (zeros).
      for (let i = 0; i < size / (shape[0]! * 2); i++) values[i] = 0;
      const mask = tensor(values, { shape, dtype: 'float64' });
      const y = norm.forward(x, { mask });
      expectClose(y, referenceMasked(x, mask, 2, 1e-5, norm.weight!.data, norm.bias!.data), 1e-12, 1e-12);
      y.backward(randn(shape, { dtype: 'float64', generator }));
      for (let i = 0; i < size; i++) if (values[i] === 0) expect(x.grad!.data[i]).toBe(0);
      const garbage = x.detach().clone();
      for (let i = 0; i < size; i++) if (values[i] === 0) garbage.data[i] = -1e6;
      expectClose(norm.forward(garbage, { mask }), y.detach(), 1e-12, 1e-12);
      expectGradcheck(gradcheck((xx) => norm.forward(xx, { mask }), [x, norm.weight!, norm.bias!]));
    }
  });

  it('an all-ones element mask equals no mask; a mask of the wrong shape is refused', () => {
    const norm = new GroupNorm({ numGroups: 2, numChannels: 4, dtype: 'float64' });
    const x = randn([2, 4, 3], { dtype: 'float64', generator: new Generator(96) });
    expectClose(norm.forward(x, { mask: tensor(new Array(24).fill(1), { shape: [2, 4, 3], dtype: 'float64' }) }), norm.forward(x), 1e-14, 1e-14);
    expect(() => norm.forward(x, { mask: tensor(new Array(24).fill(1), { shape: [2, 3, 4], dtype: 'float64' }) })).toThrow(ShapeError);
    expect(() => norm.forward(x, { mask: tensor(new Array(24).fill(1), { shape: [2, 3, 4], dtype: 'float64' }) })).toThrow(/a mask of shape \[2, 4, 3\]/);
  });
});
