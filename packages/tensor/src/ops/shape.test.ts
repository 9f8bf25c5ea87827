import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { arange, randn, tensor } from '../creation';
import { ShapeError, ValueError } from '../errors';
import { gradcheck } from '../gradcheck';
import { expectGradcheck } from '../test-utils';
import { concat, expand, flatten, indexSelect, permute, repeat, reshape, slice, squeeze, stack, transpose, unsqueeze } from './shape';

const f64 = { dtype: 'float64' as const, requiresGrad: true };

describe('shape ops', () => {
  const x = reshape(arange(0, 6), [2, 3]);

  it('reshape, flatten, squeeze, unsqueeze', () => {
    expect(reshape(x, [3, -1]).shape).toEqual([3, 2]);
    expect(flatten(randn([2, 3, 4]), 1).shape).toEqual([2, 12]);
    expect(unsqueeze(x, 0).shape).toEqual([1, 2, 3]);
    expect(squeeze(unsqueeze(x, 2)).shape).toEqual([2, 3]);
    expect(() => reshape(x, [4, 2])).toThrow(/reshape: expected a shape with 6 elements/);
  });

  it('permute and transpose move data', () => {
    expect(transpose(x).toArray()).toEqual([[0, 3], [1, 4], [2, 5]]);
    const t = reshape(arange(0, 24), [2, 3, 4]);
    const p = permute(t, [2, 0, 1]);
    expect(p.shape).toEqual([4, 2, 3]);
    expect(p.data[1 * 6 + 1 * 3 + 2]).toBe(t.data[1 * 12 + 2 * 4 + 1]);
    expect(() => permute(t, [0, 0, 1])).toThrow(ShapeError);
  });

  it('permute: every element where the index formula puts it, for any shape (sizes 0 and 1 included) and order', () => {
    // Reference: output element at multi-index i takes input element sum_k i[k] * inStride[order[k]].
    const shapeAndOrder = fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 0, maxLength: 5 }).chain((shape) =>
      fc.shuffledSubarray(shape.map((_, i) => i), { minLength: shape.length, maxLength: shape.length }).map((order) => ({ shape, order })));
    fc.assert(fc.property(shapeAndOrder, fc.constantFrom('float32' as const, 'float64' as const), ({ shape, order }, dtype) => {
      const t = reshape(arange(0, shape.reduce((p, d) => p * d, 1), 1, { dtype }), shape);
      const p = permute(t, order);
      const inStrides = shape.map((_, i) => shape.slice(i + 1).reduce((q, d) => q * d, 1));
      const outShape = order.map((a) => shape[a]!);
      for (let flat = 0; flat < p.size; flat++) {
        let rest = flat;
        let source = 0;
        for (let k = outShape.length - 1; k >= 0; k--) {
          source += (rest % outShape[k]!) * inStrides[order[k]!]!;
          rest = Math.floor(rest / outShape[k]!);
        }
        if (p.data[flat] !== source) return false;
      }
      return p.dtype === dtype && p.shape.join() === outShape.join();
    }), { numRuns: 300 });
  });

  it('slice, indexSelect, concat, stack', () => {
    expect(slice(x, 1, 1).toArray()).toEqual([[1, 2], [4, 5]]);
    expect(slice(x, 1, -1).toArray()).toEqual([[2], [5]]);
    expect(indexSelect(x, 0, [1, 1, 0]).toArray()).toEqual([[3, 4, 5], [3, 4, 5], [0, 1, 2]]);
    expect(concat([x, x], 1).toArray()).toEqual([[0, 1, 2, 0, 1, 2], [3, 4, 5, 3, 4, 5]]);
    expect(stack([x, x], 1).shape).toEqual([2, 2, 3]);
    expect(() => concat([x, tensor([[1, 2]])], 0)).toThrow(/concat: expected shapes equal/);
    expect(() => indexSelect(x, 0, [2])).toThrow(ValueError);
  });

  it('expand and repeat', () => {
    expect(expand(tensor([[1], [2]]), [2, 3]).toArray()).toEqual([[1, 1, 1], [2, 2, 2]]);
    expect(repeat(tensor([1, 2]), [2, 2]).toArray()).toEqual([[1, 2, 1, 2], [1, 2, 1, 2]]);
    expect(() => expand(tensor([1, 2]), [3])).toThrow(ShapeError);
  });

  it('pass gradcheck', () => {
    const t = randn([2, 3, 4], f64);
    const u = randn([2, 2, 4], f64);
    expectGradcheck(gradcheck((a) => permute(a, [1, 2, 0]), [t]));
    expectGradcheck(gradcheck((a) => slice(a, 2, 1, 3), [t]));
    expectGradcheck(gradcheck((a) => indexSelect(a, 1, [2, 0, 2]), [t]));
    expectGradcheck(gradcheck((a, b) => concat([a, b], 1), [t, u]));
    expectGradcheck(gradcheck((a) => stack([a, a], 0), [t]));
    expectGradcheck(gradcheck((a) => expand(slice(a, 1, 0, 1), [2, 5, 4]), [t]));
    expectGradcheck(gradcheck((a) => repeat(a, [1, 2, 1]), [t]));
    expectGradcheck(gradcheck((a) => reshape(a, [6, 4]), [t]));
  });
});
