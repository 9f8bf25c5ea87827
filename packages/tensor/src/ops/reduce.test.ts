import { describe, expect, it } from 'vitest';
import { randn, tensor } from '../creation';
import { ShapeError, ValueError } from '../errors';
import { gradcheck } from '../gradcheck';
import { expectClose, expectGradcheck } from '../test-utils';
import { argmax, max, mean, min, sum, variance } from './reduce';

const f64 = { dtype: 'float64' as const, requiresGrad: true };

describe('reductions', () => {
  const x = tensor([[1, 2, 3], [4, 5, 6]], { dtype: 'float64' });

  it('sum, mean, max, min over axes with keepdim', () => {
    expect(sum(x).item()).toBe(21);
    expect(sum(x, 0).toArray()).toEqual([5, 7, 9]);
    expect(sum(x, 1, { keepdim: true }).shape).toEqual([2, 1]);
    expect(mean(x, -1).toArray()).toEqual([2, 5]);
    expect(max(x, 0).toArray()).toEqual([4, 5, 6]);
    expect(min(x, 1).toArray()).toEqual([1, 4]);
    expect(argmax(x, 1).toArray()).toEqual([2, 2]);
    expect(sum(randn([2, 3, 4]), [0, 2]).shape).toEqual([3]);
  });

  it('variance is unbiased by default, biased on request', () => {
    expectClose(variance(x, 1), [1, 1]);
    expectClose(variance(x, 1, { unbiased: false }), [2 / 3, 2 / 3]);
  });

  it('variance is accurate with a large mean (two-pass)', () => {
    const shifted = tensor([1e8 + 1, 1e8 + 2, 1e8 + 3], { dtype: 'float64' });
    expectClose(variance(shifted, 0), [1], 1e-9);
  });

  it('pass gradcheck', () => {
    const t = randn([2, 3, 4], f64);
    expectGradcheck(gradcheck((a) => sum(a, [0, 2]), [t]));
    expectGradcheck(gradcheck((a) => mean(a, 1, { keepdim: true }), [t]));
    expectGradcheck(gradcheck((a) => variance(a, [1, 2]), [t]));
    expectGradcheck(gradcheck((a) => variance(a, 0, { unbiased: false }), [t]));
    expectGradcheck(gradcheck((a) => max(a, 2), [t]));
    expectGradcheck(gradcheck((a) => min(a), [t]));
  });

  it('refuse bad axes and too few values', () => {
    expect(() => sum(x, 2)).toThrow(ShapeError);
    expect(() => sum(x, [0, 0])).toThrow(/distinct axes/);
    expect(() => variance(tensor([1]), 0)).toThrow(ValueError);
  });

  it('max and argmax propagate NaN like PyTorch: the first NaN wins and takes the gradient', () => {
    const withNaN = tensor([[NaN, 1, NaN], [3, NaN, 2]], { dtype: 'float64', requiresGrad: true });
    expect(argmax(withNaN, 1).toArray()).toEqual([0, 1]);
    const m = max(withNaN, 1);
    expect(Number.isNaN(m.data[0]!) && Number.isNaN(m.data[1]!)).toBe(true);
    sum(m).backward();
    expect(withNaN.grad!.toArray()).toEqual([[1, 0, 0], [0, 1, 0]]);
  });

  it('argmax refuses an empty axis, naming itself', () => {
    expect(() => argmax(tensor([], { shape: [2, 0] }), 1)).toThrow(/argmax: expected a non-empty axis/);
  });
});
