import { describe, expect, it } from 'vitest';
import { gradcheck, matmul, randn, tensor, softmax, normalize, mean, variance, sub, div, sqrt, add } from './index';

describe('smoke', () => {
  it('matmul gradcheck', () => {
    const a = randn([2, 3, 4], { dtype: 'float64', requiresGrad: true });
    const b = randn([4, 5], { dtype: 'float64', requiresGrad: true });
    expect(gradcheck(matmul, [a, b]).ok).toBe(true);
    expect(gradcheck((x) => softmax(x, 1), [a]).ok).toBe(true);
  });
  it('normalize matches reference', () => {
    const x = randn([4, 3, 5], { dtype: 'float64', requiresGrad: true });
    const w = randn([3], { dtype: 'float64', requiresGrad: true });
    const b = randn([3], { dtype: 'float64', requiresGrad: true });
    const fn = (xx: typeof x, ww: typeof w, bb: typeof b) =>
      normalize(xx, { op: 'bn', layout: { outer: 4, groups: 3, inner: 5 }, acrossOuter: true, center: true, eps: 1e-5, weight: ww, bias: bb, affineBlock: 5 }).output;
    const r = gradcheck(fn, [x, w, b]);
    expect(r.ok).toBe(true);
    const m = mean(x, [0, 2], { keepdim: true });
    const v = variance(x, [0, 2], { keepdim: true, unbiased: false });
    const ref = div(sub(x, m), sqrt(add(v, 1e-5)));
    const y = fn(x, tensor([1, 1, 1], { dtype: 'float64' }), tensor([0, 0, 0], { dtype: 'float64' }));
    for (let i = 0; i < y.size; i++) expect(y.data[i]).toBeCloseTo(ref.data[i]!, 10);
  });
});
