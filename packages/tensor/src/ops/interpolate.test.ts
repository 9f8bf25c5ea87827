import { describe, expect, it } from 'vitest';
import { graphOps } from '../autograd';
import { arange, randn, tensor } from '../creation';
import { OptionError, ShapeError } from '../errors';
import { gradcheck } from '../gradcheck';
import { Generator } from '../random';
import { expectClose, expectGradcheck } from '../test-utils';
import { interpolate, type InterpolateTarget } from './interpolate';

const f64 = { dtype: 'float64' as const };
const square = () => tensor([[[[1, 2], [3, 4]]]], f64);
/** A [1, 1, 1, n] row 0, 1, ..., n - 1, so outputs read directly as source positions. */
const row = (n: number) => tensor(arange(0, n, 1, f64).data, { shape: [1, 1, 1, n] });
const rowOf = (t: ReturnType<typeof row>) => [...t.data];

describe('interpolate (nearest)', () => {
  it('repeats pixels when upsampling 2x', () => {
    expect(interpolate(square(), { scaleFactor: 2 }).toArray()).toEqual([[[[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]]]);
  });

  it('picks floor(dst * in / out) for an explicit size', () => {
    // in 5 -> out 6: floor(dst * 5 / 6) = 0, 0, 1, 2, 3, 4
    expect(rowOf(interpolate(row(5), { size: [1, 6] }))).toEqual([0, 0, 1, 2, 3, 4]);
    // in 5 -> out 3 (downsampling): floor(dst * 5 / 3) = 0, 1, 3
    expect(rowOf(interpolate(row(5), { size: [1, 3] }))).toEqual([0, 1, 3]);
  });

  it('uses 1 / scaleFactor (not in / out) for the source index when a factor is given', () => {
    // in 5, factor 1.3 -> out floor(6.5) = 6; floor(dst / 1.3) = 0, 0, 1, 2, 3, 3 (PyTorch), where in / out would end in 4.
    expect(rowOf(interpolate(row(5), { scaleFactor: 1.3 }))).toEqual([0, 0, 1, 2, 3, 3]);
  });

  it('computes the index in float32 like PyTorch, so dst = 37 with factor 3.7 reads pixel 10', () => {
    // 37 * (1 / 3.7) is 9.999... in float64 but rounds to 10 in float32; PyTorch gives 10.
    const out = rowOf(interpolate(row(11), { scaleFactor: [1, 3.7] }));
    expect(out).toHaveLength(40);
    expect(out[36]).toBe(9);
    expect(out[37]).toBe(10);
  });

  it('keeps the identity when the factor leaves the size unchanged (PyTorch special-cases out == in)', () => {
    expect(rowOf(interpolate(row(4), { scaleFactor: 1.1 }))).toEqual([0, 1, 2, 3]);
  });

  it('sums gradients of repeated pixels and passes gradcheck', () => {
    const x = tensor([[[[1, 2], [3, 4]]]], { dtype: 'float64', requiresGrad: true });
    interpolate(x, { scaleFactor: 2 }).backward(1);
    expect(x.grad!.toArray()).toEqual([[[[4, 4], [4, 4]]]]);
    const y = randn([2, 2, 3, 4], { dtype: 'float64', requiresGrad: true, generator: new Generator(1) });
    expectGradcheck(gradcheck((t) => interpolate(t, { size: [5, 3] }), [y]));
    expectGradcheck(gradcheck((t) => interpolate(t, { scaleFactor: [1.5, 0.75] }), [y]));
  });
});

describe('interpolate (bilinear)', () => {
  it('matches the PyTorch half-pixel result on a 2x2 image, alignCorners false', () => {
    // src = (dst + 0.5) / 2 - 0.5 = -0.25 (clamped to 0), 0.25, 0.75, 1.25 (capped at the last pixel)
    expect(interpolate(square(), { size: [4, 4] }, 'bilinear').toArray()).toEqual([
      [[[1, 1.25, 1.75, 2], [1.5, 1.75, 2.25, 2.5], [2.5, 2.75, 3.25, 3.5], [3, 3.25, 3.75, 4]]],
    ]);
  });

  it('matches the corner-aligned result, alignCorners true', () => {
    // src = dst * (2 - 1) / (3 - 1) = 0, 0.5, 1
    expect(interpolate(square(), { size: [3, 3] }, 'bilinear', true).toArray()).toEqual([[[[1, 1.5, 2], [2, 2.5, 3], [3, 3.5, 4]]]]);
    // out 1 with alignCorners reads the first pixel; in 5 -> out 3 reads 0, 2, 4
    expect(rowOf(interpolate(row(5), { size: [1, 3] }, 'bilinear', true))).toEqual([0, 2, 4]);
    expect(interpolate(square(), { size: [1, 1] }, 'bilinear', true).item()).toBe(1);
  });

  it('uses 1 / scaleFactor for source positions, and sizes for alignCorners', () => {
    // size 6 from 5: src = (dst + 0.5) * 5 / 6 - 0.5 -> 0, 0.75, 1.5833, 2.4167, 3.25, 4
    expectClose(interpolate(row(5), { size: [1, 6] }, 'bilinear'), [0, 0.75, 19 / 12, 29 / 12, 3.25, 4], 1e-14);
    // factor 1.3 gives the same size but src = (dst + 0.5) / 1.3 - 0.5 (PyTorch: 0, 0.6538..., 1.4230..., ...)
    const expected = [0, 1, 2, 3, 4, 5].map((d) => Math.max(0, (d + 0.5) / 1.3 - 0.5));
    expectClose(interpolate(row(5), { scaleFactor: 1.3 }, 'bilinear'), expected, 1e-14);
    expectClose(interpolate(row(5), { scaleFactor: 1.3 }, 'bilinear', true), [0, 0.8, 1.6, 2.4, 3.2, 4], 1e-14);
  });

  it('averages 2x2 blocks when halving (src lands between the two pixels)', () => {
    const x = randn([1, 2, 4, 6], { dtype: 'float64', generator: new Generator(2) });
    const y = interpolate(x, { scaleFactor: 0.5 }, 'bilinear');
    expect(y.shape).toEqual([1, 2, 2, 3]);
    const at = (c: number, h: number, w: number) => x.data[(c * 4 + h) * 6 + w]!;
    const expected: number[] = [];
    for (let c = 0; c < 2; c++) for (let h = 0; h < 2; h++) for (let w = 0; w < 3; w++) {
      expected.push((at(c, 2 * h, 2 * w) + at(c, 2 * h, 2 * w + 1) + at(c, 2 * h + 1, 2 * w) + at(c, 2 * h + 1, 2 * w + 1)) / 4);
    }
    expectClose(y, expected, 1e-14);
  });

  it('keeps float32, is one node, and passes gradcheck in float64', () => {
    const x = randn([1, 1, 3, 3], { requiresGrad: true });
    const y = interpolate(x, { size: [5, 4] }, 'bilinear');
    expect(y.dtype).toBe('float32');
    expect(graphOps(y)).toEqual(['interpolate']);
    const z = randn([2, 2, 3, 4], { dtype: 'float64', requiresGrad: true, generator: new Generator(3) });
    expectGradcheck(gradcheck((t) => interpolate(t, { size: [5, 7] }, 'bilinear'), [z]));
    expectGradcheck(gradcheck((t) => interpolate(t, { size: [2, 3] }, 'bilinear'), [z]));
    expectGradcheck(gradcheck((t) => interpolate(t, { size: [5, 7] }, 'bilinear', true), [z]));
    expectGradcheck(gradcheck((t) => interpolate(t, { scaleFactor: 1.7 }, 'bilinear'), [z]));
  });
});

describe('interpolate (errors)', () => {
  it('refuses wrong ranks, modes, alignCorners with nearest, and bad sizes', () => {
    expect(() => interpolate(randn([3, 4, 4]), { size: [2, 2] })).toThrow(ShapeError);
    expect(() => interpolate(randn([3, 4, 4]), { size: [2, 2] })).toThrow(/interpolate: expected an input of shape \[N, C, H, W\] \(rank 4\), got shape \[3, 4, 4\]/);
    expect(() => interpolate(randn([1, 1, 4, 4]), { size: [2, 2] }, 'bicubic' as 'bilinear')).toThrow(/mode 'nearest' or 'bilinear', got mode = "bicubic"/);
    expect(() => interpolate(randn([1, 1, 4, 4]), { size: [2, 2] }, 'nearest', true)).toThrow(OptionError);
    expect(() => interpolate(randn([1, 1, 4, 4]), { size: [2, 2] }, 'nearest', true)).toThrow(/alignCorners only with mode 'bilinear'/);
    expect(() => interpolate(randn([1, 1, 4, 4]), { size: [0, 2] })).toThrow(/size\[0\] to be an integer >= 1/);
    expect(() => interpolate(randn([1, 1, 4, 4]), { scaleFactor: 0 })).toThrow(/scaleFactor to be a finite number > 0/);
    expect(() => interpolate(randn([1, 1, 4, 4]), { scaleFactor: 0.2 })).toThrow(/non-empty input and output spatial sizes, got input \[1, 1, 4, 4\] resized to \[0, 0\]/);
    expect(() => interpolate(randn([1, 1, 4, 4]), {} as InterpolateTarget)).toThrow(/exactly one of size or scaleFactor, got neither/);
    // Options that belong elsewhere or do not exist are refused, not ignored.
    const withMode = { scaleFactor: 2, mode: 'bilinear' } as InterpolateTarget;
    expect(() => interpolate(randn([1, 1, 4, 4]), withMode)).toThrow(OptionError);
    expect(() => interpolate(randn([1, 1, 4, 4]), withMode)).toThrow(/got mode inside the target.*interpolate's third argument/);
    expect(() => interpolate(randn([1, 1, 4, 4]), { size: [2, 2], alignCorners: true } as InterpolateTarget)).toThrow(/interpolate's fourth argument/);
    expect(() => interpolate(randn([1, 1, 4, 4]), { scale_factor: 2 } as unknown as InterpolateTarget)).toThrow(/unknown option "scale_factor".*Did you mean "scaleFactor"/);
    expect(() => interpolate(randn([1, 1, 4, 4]), { size: [2, 2], scaleFactor: 2 } as unknown as InterpolateTarget)).toThrow(/got both/);
  });
});
