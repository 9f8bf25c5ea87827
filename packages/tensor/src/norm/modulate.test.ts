import { describe, expect, it } from 'vitest';
import { graphOps } from '../autograd';
import { randn } from '../creation';
import { ShapeError } from '../errors';
import { gradcheck } from '../gradcheck';
import { add, mul } from '../ops/elementwise';
import type { Tensor } from '../tensor';
import { expectClose, expectGradcheck } from '../test-utils';
import { modulate } from './modulate';

const f64 = { dtype: 'float64' as const, requiresGrad: true };

describe('modulate', () => {
  it("'one-plus' is x * (1 + scale) + shift, 'direct' is gamma * x + beta, with broadcasting", () => {
    const x = randn([2, 3, 4], f64);
    const scale = randn([2, 1, 4], f64);
    const shift = randn([2, 1, 4], f64);
    expectClose(modulate(x, scale, shift), add(mul(x, add(scale, 1)), shift), 1e-12);
    expectClose(modulate(x, scale, shift, { form: 'direct' }), add(mul(x, scale), shift), 1e-12);
    expectClose(modulate(x, scale, null, { form: 'direct' }), mul(x, scale), 1e-12);
  });

  it('is one node and passes gradcheck for per-channel and spatial parameters', () => {
    const x = randn([2, 3, 2, 2], f64);
    const perChannel = randn([2, 3, 1, 1], f64);
    const spatial = randn([2, 3, 2, 2], f64);
    const run = (a: Tensor, s: Tensor, t: Tensor): Tensor => modulate(a, s, t);
    expect(graphOps(run(x, perChannel, spatial))).toEqual(['modulate']);
    expectGradcheck(gradcheck(run, [x, perChannel, spatial]));
    expectGradcheck(gradcheck((a: Tensor, s: Tensor) => modulate(a, s, null, { form: 'direct' }), [x, spatial]));
  });

  it('refuses parameters that would change the shape of x', () => {
    expect(() => modulate(randn([2, 3]), randn([4, 3]), null)).toThrow(ShapeError);
    expect(() => modulate(randn([2, 3]), randn([2, 3]), randn([2, 1, 3]))).toThrow(/modulate: expected scale and shift that broadcast/);
  });
});
