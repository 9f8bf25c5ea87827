// Element-wise masks (Flax's `mask`) for LayerNorm and RMSNorm, beside the row masks.
import { describe, expect, it } from 'vitest';
import { expectClose, expectGradcheck } from '@normkit/testkit';
import { Generator, ShapeError, ValueError, gradcheck, randn, tensor, type Tensor } from '@normkit/tensor';
import { LayerNorm } from './layer-norm';
import { RMSNorm } from './rms-norm';

/**
 * Each row normalised over its unmasked elements only, element by element in float64:
 * y = (x - mean) / sqrt(var + eps) * w + b there (without the mean for RMSNorm), 0 where masked.
 */
function referenceMasked(x: Tensor, mask: Tensor, d: number, eps: number, center: boolean, w: ArrayLike<number>, b: ArrayLike<number> | null): Float64Array {
  const y = new Float64Array(x.size);
  for (let row = 0; row < x.size / d; row++) {
    const idx = Array.from({ length: d }, (_, i) => row * d + i).filter((i) => mask.data[i] === 1);
    if (idx.length === 0) continue;
    const mean = center ? idx.reduce((a, i) => a + x.data[i]!, 0) / idx.length : 0;
    const variance = idx.reduce((a, i) => a + (x.data[i]! - mean) ** 2, 0) / idx.length;
    for (const i of idx) y[i] = ((x.data[i]! - mean) / Math.sqrt(variance + eps)) * w[i % d]! + (b ? b[i % d]! : 0);
  }
  return y;
}

function randomMask(shape: number[], generator: Generator, keep = 0.6): Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  const values = Array.from({ length: size }, () => (generator.uniform() < keep ? 1 : 0));
  // One row fully masked and one with a single real element: both must stay finite.
  for (let i = 0; i < shape.at(-1)!; i++) values[i] = 0;
  for (let i = shape.at(-1)!; i < 2 * shape.at(-1)!; i++) values[i] = i === shape.at(-1)! ? 1 : 0;
  return tensor(values, { shape, dtype: 'float64' });
}

describe('element-wise masks', () => {
  for (const [name, make, center] of [
    ['LayerNorm', () => new LayerNorm({ normalizedShape: 6, dtype: 'float64' }), true],
    ['RMSNorm', () => new RMSNorm({ normalizedShape: 6, dtype: 'float64', eps: 1e-5 }), false],
  ] as const) {
    it(`${name}: statistics over each row's unmasked elements, 0 and no gradient where masked; gradcheck`, () => {
      const generator = new Generator(91);
      const norm = make();
      norm.weight!.data.set(randn([6], { dtype: 'float64', generator, mean: 1 }).data);
      const bias = 'bias' in norm && norm.bias ? norm.bias : null;
      bias?.data.set(randn([6], { dtype: 'float64', generator }).data);
      const x = randn([3, 4, 6], { dtype: 'float64', generator, std: 3, requiresGrad: true });
      const mask = randomMask([3, 4, 6], generator);
      const y = norm.forward(x, { mask });
      expectClose(y, referenceMasked(x, mask, 6, 1e-5, center, norm.weight!.data, bias?.data ?? null), 1e-12, 1e-12);
      expect(Array.from(y.data).every(Number.isFinite)).toBe(true);
      y.backward(randn([3, 4, 6], { dtype: 'float64', generator }));
      for (let i = 0; i < x.size; i++) if (mask.data[i] === 0) expect(x.grad!.data[i]).toBe(0);
      // Masked elements change nothing: any value there gives the same output elsewhere.
      const garbage = x.detach().clone();
      for (let i = 0; i < x.size; i++) if (mask.data[i] === 0) garbage.data[i] = 1e6;
      expectClose(norm.forward(garbage, { mask }), y.detach(), 1e-12, 1e-12);
      expectGradcheck(gradcheck((xx) => norm.forward(xx, { mask }), [x]));
    });
  }

  it('an all-ones element mask equals no mask; row masks keep working; bad masks are refused', () => {
    const norm = new LayerNorm({ normalizedShape: 4, dtype: 'float64' });
    const x = randn([2, 3, 4], { dtype: 'float64', generator: new Generator(92) });
    expectClose(norm.forward(x, { mask: tensor(new Array(24).fill(1), { shape: [2, 3, 4], dtype: 'float64' }) }), norm.forward(x), 1e-15, 0);
    const rowMasked = norm.forward(x, { mask: tensor([[1, 1, 0], [1, 0, 0]], { dtype: 'float64' }) });
    expect(Array.from(rowMasked.data.slice(8, 12))).toEqual([0, 0, 0, 0]);
    expect(() => norm.forward(x, { mask: tensor(new Array(24).fill(1), { shape: [2, 4, 3], dtype: 'float64' }) })).toThrow(ShapeError);
    expect(() => norm.forward(x, { mask: tensor(new Array(24).fill(1), { shape: [2, 4, 3], dtype: 'float64' }) })).toThrow(/a mask of shape \[2, 3, 4\]/);
    expect(() => norm.forward(x, { mask: tensor(new Array(24).fill(0.5), { shape: [2, 3, 4], dtype: 'float64' }) })).toThrow(ValueError);
  });
});
