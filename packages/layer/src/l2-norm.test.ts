import { expectClose, expectGradcheck } from '@normkit/testkit';
import {
  ContextError, Generator, OptionError, ShapeError, abs, div, gradcheck, graphOps, maximum, mul, ones, pow, randn, sum, tensor, type Tensor,
} from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import torch from './__fixtures__/torch-unit-norms.json';
import { L2Norm, l2Norm } from './l2-norm';
import { rmsNorm as layerRmsNorm } from './rms-norm';

const f64 = { dtype: 'float64' as const, requiresGrad: true };
const leaf = (values: readonly number[], shape: readonly number[]): Tensor => tensor(Float64Array.from(values), { shape, dtype: 'float64', requiresGrad: true });

/** F.normalize from primitive ops: x / max((sum |x|^p)^(1/p), eps). */
function referenceLp(x: Tensor, axes: readonly number[], p: number, eps: number): Tensor {
  return div(x, maximum(pow(sum(pow(abs(x), p), axes, { keepdim: true }), 1 / p), eps));
}

function gradientOf(run: () => Tensor, x: Tensor, upstream: Tensor): Tensor {
  x.grad = null;
  run().backward(upstream);
  return x.grad!.clone();
}

describe('l2Norm / L2Norm', () => {
  it('matches torch F.normalize in float64 (p = 2, 1, 3; one axis, two axes, dim 1; zero rows and rows below eps): output and input gradient', () => {
    expect(torch.normalize.length).toBe(6);
    for (const f of torch.normalize) {
      const x = leaf(f.x, f.shape);
      const y = l2Norm(x, { axes: f.axes, p: f.p, eps: f.eps });
      expectClose(y, f.y, 1e-14, 1e-12);
      y.backward(tensor(Float64Array.from(f.upstream), { shape: f.shape, dtype: 'float64' }));
      expectClose(x.grad!, f.gradX, 1e-12, 1e-10);
    }
  });

  it('equals the float64 reference from primitive ops in value and gradient, for any axes and p; gradcheck', () => {
    const generator = new Generator(61);
    for (const [shape, axes, p] of [[[3, 4], [-1], 2], [[2, 3, 4], [0, 2], 2], [[2, 5], [0], 1.5], [[2, 2, 3], [1], 4]] as const) {
      const x = randn(shape, { ...f64, generator });
      const upstream = randn(shape, { dtype: 'float64', generator });
      const resolved = axes.map((a) => (a < 0 ? a + shape.length : a));
      const run = (): Tensor => l2Norm(x, { axes, p });
      const reference = (): Tensor => referenceLp(x, resolved, p, 1e-12);
      expectClose(run(), reference(), 1e-14, 1e-12);
      expectClose(gradientOf(run, x, upstream), gradientOf(reference, x, upstream), 1e-12, 1e-10);
      expectGradcheck(gradcheck((xx) => l2Norm(xx, { axes, p }), [x]));
      expect(graphOps(run())).toEqual(['l2Norm']);
    }
  });

  it('gives unit vectors; RMSNorm without eps is sqrt(d) times it; the zero vector stays 0 with gradient dy / eps', () => {
    const generator = new Generator(62);
    const x = randn([4, 8], { dtype: 'float64', generator });
    const y = new L2Norm().forward(x);
    expectClose(sum(mul(y, y), [-1]), ones([4], { dtype: 'float64' }), 1e-14, 1e-14);
    expectClose(mul(y, Math.sqrt(8)), layerRmsNorm(x, 8, { eps: 1e-300 }), 1e-13, 1e-13);
    const zero = tensor(new Float64Array(6), { shape: [2, 3], requiresGrad: true });
    const z = l2Norm(zero);
    expect(Array.from(z.data)).toEqual([0, 0, 0, 0, 0, 0]);
    z.backward(tensor(Float64Array.from([1, 2, 3, 4, 5, 6]), { shape: [2, 3], dtype: 'float64' }));
    expectClose(zero.grad!, [1e12, 2e12, 3e12, 4e12, 5e12, 6e12], 0, 1e-15);
  });

  it('TensorFlow\'s l2_normalize (eps 1e-12 on the squared norm) is this with eps 1e-6', () => {
    const generator = new Generator(63);
    const x = randn([3, 4], { dtype: 'float64', generator });
    for (let i = 4; i < 8; i++) x.data[i] = 1e-8 * x.data[i]!; // a row whose norm is below 1e-6
    const tf = mul(x, pow(maximum(sum(mul(x, x), [-1], { keepdim: true }), 1e-12), -0.5));
    expectClose(l2Norm(x, { eps: 1e-6 }), tf, 1e-15, 1e-12);
  });

  it('float32 agrees with float64; refuses bad options and inputs with typed errors', () => {
    const x = randn([2, 6], { generator: new Generator(64) });
    const y = l2Norm(x);
    expect(y.dtype).toBe('float32');
    expectClose(y, referenceLp(x.to('float64'), [1], 2, 1e-12), 1e-6, 1e-6);
    expect(() => new L2Norm({ p: 0.5 })).toThrow(/option "p" to be a number >= 1/);
    expect(() => new L2Norm({ eps: 0 })).toThrow(OptionError);
    expect(() => l2Norm(x, { axes: 2 })).toThrow(ShapeError);
    expect(() => l2Norm(x, { axes: [1, -1] })).toThrow(/distinct axes/);
    expect(() => l2Norm(tensor(3))).toThrow(/rank 1 or more/);
    expect(() => l2Norm(x, { scale: randn([2]) })).toThrow(/one-element scale/);
    expect(() => new L2Norm().forward(x, { mask: ones([2]) })).toThrow(ContextError);
  });
});
