import { expectClose, expectGradcheck } from '@normkit/testkit';
import { ContextError, DTypeError, Generator, OptionError, ShapeError, gradcheck, randn, tensor, type Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { DynamicTanh } from './dynamic-tanh';

/**
 * The paper's formula and its derivatives written out element by element in float64 (t = tanh(alpha x)):
 * y = w t + b; dx = g w alpha (1 - t^2); dalpha = sum g w x (1 - t^2); dw = sum over rows g t; db = sum over rows g.
 */
function referenceDyT(x: ArrayLike<number>, g: ArrayLike<number>, alpha: number, w: ArrayLike<number>, b: ArrayLike<number>) {
  const d = w.length;
  const y = new Float64Array(x.length);
  const dx = new Float64Array(x.length);
  const dw = new Float64Array(d);
  const db = new Float64Array(d);
  let dalpha = 0;
  for (let i = 0; i < x.length; i++) {
    const c = i % d;
    const t = Math.tanh(alpha * x[i]!);
    y[i] = w[c]! * t + b[c]!;
    dx[i] = g[i]! * w[c]! * alpha * (1 - t * t);
    dalpha += g[i]! * w[c]! * x[i]! * (1 - t * t);
    dw[c]! += g[i]! * t;
    db[c]! += g[i]!;
  }
  return { y, dx, dalpha, dw, db };
}

describe('DynamicTanh (first-party DyT)', () => {
  it("equals the paper's formula and its derivatives in float64 (one and two affine dims), and passes gradcheck for x, alpha, weight and bias", () => {
    const generator = new Generator(81);
    for (const [shape, normalizedShape] of [[[3, 5], [5]], [[2, 3, 4], [3, 4]], [[2, 2, 3, 4], [4]]] as const) {
      const dyt = new DynamicTanh({ normalizedShape, alphaInit: 0.8, dtype: 'float64' });
      dyt.weight!.data.set(randn(normalizedShape, { dtype: 'float64', generator, mean: 1 }).data);
      dyt.bias!.data.set(randn(normalizedShape, { dtype: 'float64', generator }).data);
      const x = randn(shape, { dtype: 'float64', generator, std: 2, requiresGrad: true });
      const upstream = randn(shape, { dtype: 'float64', generator });
      const y = dyt.forward(x);
      y.backward(upstream);
      const ref = referenceDyT(x.data, upstream.data, 0.8, dyt.weight!.data, dyt.bias!.data);
      expectClose(y, ref.y, 1e-14, 1e-14);
      expectClose(x.grad!, ref.dx, 1e-13, 1e-13);
      expectClose(dyt.alpha.grad!, [ref.dalpha], 1e-12, 1e-12);
      expectClose(dyt.weight!.grad!, ref.dw, 1e-12, 1e-12);
      expectClose(dyt.bias!.grad!, ref.db, 1e-12, 1e-12);
      expectGradcheck(gradcheck(() => dyt.forward(x), [x, dyt.alpha, dyt.weight!, dyt.bias!]));
    }
  });

  it('without affine is tanh(alpha * x); parameter names are the official code\'s; float32 agrees with float64', () => {
    const dyt = new DynamicTanh({ normalizedShape: 3, alphaInit: 2, elementwiseAffine: false, dtype: 'float64' });
    const x = randn([2, 3], { dtype: 'float64', generator: new Generator(82) });
    expectClose(dyt.forward(x), Array.from(x.data, (v) => Math.tanh(2 * v)), 1e-15, 0);
    expect(Object.keys(dyt.stateDict())).toEqual(['alpha']);
    expect(Object.keys(new DynamicTanh({ normalizedShape: 3 }).stateDict())).toEqual(['alpha', 'weight', 'bias']);
    const wide = randn([4, 6], { dtype: 'float64', generator: new Generator(83), std: 3 });
    const y64 = new DynamicTanh({ normalizedShape: 6, dtype: 'float64' }).forward(wide);
    const y32 = new DynamicTanh({ normalizedShape: 6 }).forward(wide.to('float32'));
    expect(y32.dtype).toBe('float32');
    expectClose(y32, y64, 1e-6, 1e-6);
  });

  it('is independent of the other tokens and samples (no statistics): a row changes only its own output', () => {
    const dyt = new DynamicTanh({ normalizedShape: 4, dtype: 'float64' });
    const x = randn([3, 4], { dtype: 'float64', generator: new Generator(84) });
    const changed = x.clone();
    for (let i = 4; i < 8; i++) changed.data[i] = 100;
    const a = dyt.forward(x).data;
    const b = dyt.forward(changed).data;
    expect(Array.from(b.slice(0, 4))).toEqual(Array.from(a.slice(0, 4)));
    expect(Array.from(b.slice(8))).toEqual(Array.from(a.slice(8)));
  });

  it('resetParameters restores alpha, weight and bias', () => {
    const dyt = new DynamicTanh({ normalizedShape: 2, alphaInit: 0.3 });
    dyt.alpha.data[0] = 5;
    dyt.weight!.data.fill(2);
    dyt.bias!.data.fill(2);
    dyt.resetParameters();
    expect([dyt.alpha.data[0], ...dyt.weight!.data, ...dyt.bias!.data].map((v) => Math.fround(v))).toEqual([Math.fround(0.3), 1, 1, 0, 0]);
  });

  it('refuses bad options and inputs with typed errors naming the op', () => {
    expect(() => new DynamicTanh({ normalizedShape: 4, alphaInit: 0 })).toThrow(OptionError);
    expect(() => new DynamicTanh({ normalizedShape: 4, alphaInit: 0 })).toThrow(/DynamicTanh: expected option "alphaInit" to be a number > 0/);
    expect(() => new DynamicTanh({ normalizedShape: 0 })).toThrow(/normalizedShape/);
    expect(() => new DynamicTanh(null as never)).toThrow(OptionError);
    const dyt = new DynamicTanh({ normalizedShape: 4 });
    expect(() => dyt.forward(randn([2, 5]))).toThrow(ShapeError);
    expect(() => dyt.forward(randn([2, 5]))).toThrow(/DynamicTanh.forward/);
    expect(() => dyt.forward(randn([2, 4], { dtype: 'float64' }))).toThrow(DTypeError);
    expect(() => dyt.forward(randn([2, 4]), { mask: tensor([1, 1]) })).toThrow(ContextError);
    expect(() => dyt.forward([1, 2, 3, 4] as unknown as Tensor)).toThrow(/DynamicTanh.forward|tensor/);
  });
});
