import { describe, expect, it } from 'vitest';
import { graphOps } from '../autograd';
import { randn } from '../creation';
import { ShapeError } from '../errors';
import { gradcheck } from '../gradcheck';
import { add, mul } from '../ops/elementwise';
import type { Tensor } from '../tensor';
import { expectClose, expectGradcheck } from '../test-utils';
import { getBackend, setBackend } from '../kernels/backend';
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
  it('matches its one-line reference in float32 on both backends: per channel, per feature, scalar, mixed scale and shift broadcasts', () => {
    const before = getBackend();
    try {
      for (const backend of ['js', 'wasm'] as const) {
        setBackend(backend);
        for (const [xShape, scaleShape, shiftShape] of [
          [[8, 16, 24, 24], [8, 16, 1, 1], [8, 16, 1, 1]],
          [[4, 300, 64], [4, 1, 64], [4, 1, 64]],
          [[4, 300, 64], [64], null],
          [[8, 16, 24, 24], [1, 16, 1, 1], [8, 1, 24, 24]],
          [[3, 5000], [1], [3, 1]],
        ] as const) {
          const x = randn([...xShape]);
          const scale = randn([...scaleShape]);
          const shift = shiftShape ? randn([...shiftShape]) : null;
          const got = modulate(x, scale, shift);
          // The reference in float64, rounded once.
          const scaled = mul(x.to('float64'), add(scale.to('float64'), 1));
          const reference = shift ? add(scaled, shift.to('float64')) : scaled;
          const label = `${backend} ${JSON.stringify([xShape, scaleShape, shiftShape])}`;
          // Fused: one rounding to float32 (at most 2^-24 relative); a shift along other dims than the
          // scale is added in a second pass, after x * (1 + scale) was rounded once already.
          const twoPasses = shift !== null && JSON.stringify(shiftShape) !== JSON.stringify(scaleShape);
          for (let i = 0; i < got.size; i++) {
            const r = reference.data[i]!;
            const bound = 2 ** -24 * (Math.abs(r) + (twoPasses ? Math.abs(scaled.data[i]!) : 0));
            if (Math.abs(got.data[i]! - r) > bound) expect.fail(`${label}[${i}]: ${got.data[i]} vs ${r}`);
          }
        }
      }
    } finally {
      setBackend(before);
    }
  });
});
