import { expectClose, expectGradcheck } from '@normkit/testkit';
import {
  ContextError, Generator, OptionError, ShapeError, add, concat, gradcheck, graphOps, mul, pow, randn, slice, sum, tensor, zeros, type Tensor,
} from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import torch from './__fixtures__/torch-local-response-norm.json';
import { LocalResponseNorm, localResponseNorm } from './local-response-norm';
import { f64, gradientsOf, leaf, sampleOf } from './test-support';

/**
 * PyTorch's F.local_response_norm composed from primitive ops in float64: pad the squares with
 * floor(n/2) zero channels before and floor((n-1)/2) after, sum n consecutive channels, divide by n.
 */
function referenceLRN(x: Tensor, size: number, alpha: number, beta: number, k: number): Tensor {
  const c = x.shape[1]!;
  const padShape = (count: number): number[] => [x.shape[0]!, count, ...x.shape.slice(2)];
  const parts = [mul(x, x)];
  if (size >> 1) parts.unshift(zeros(padShape(size >> 1), { dtype: 'float64' }));
  if ((size - 1) >> 1) parts.push(zeros(padShape((size - 1) >> 1), { dtype: 'float64' }));
  const padded = concat(parts, 1);
  let windowSum = slice(padded, 1, 0, c);
  for (let w = 1; w < size; w++) windowSum = add(windowSum, slice(padded, 1, w, w + c));
  return mul(x, pow(add(mul(windowSum, alpha / size), k), -beta));
}

describe('LocalResponseNorm', () => {
  it('matches torch.nn.LocalResponseNorm (float64): odd and even sizes, a window wider than C, size 1, ranks 3 to 5; output and input gradient', () => {
    expect(torch.localResponseNorm.length).toBe(6);
    for (const f of torch.localResponseNorm) {
      const lrn = new LocalResponseNorm({ size: f.size, alpha: f.alpha, beta: f.beta, k: f.k });
      const x = leaf(f.x, f.shape);
      const y = lrn.forward(x);
      expectClose(y, f.y, 1e-13, 1e-12);
      y.backward(tensor(Float64Array.from(f.upstream), { shape: f.shape, dtype: 'float64' }));
      expectClose(x.grad!, f.gradX, 1e-12, 1e-10);
    }
  });

  it('the hand-derived backward equals the float64 reference composed from primitives, and gradcheck passes', () => {
    const generator = new Generator(41);
    for (const [shape, size, alpha, beta, k] of [[[2, 6, 3, 2], 5, 0.7, 0.75, 1], [[3, 4, 5], 2, 1.3, 1.2, 0.4], [[2, 5], 3, 0.9, 0.5, 2], [[1, 3, 2], 8, 2, 0.75, 1]] as const) {
      const x = randn(shape, { ...f64, generator, std: 1.5 });
      const upstream = randn(shape, { dtype: 'float64', generator });
      const run = (): Tensor => localResponseNorm(x, { size, alpha, beta, k });
      const reference = (): Tensor => referenceLRN(x, size, alpha, beta, k);
      expectClose(run(), reference(), 1e-13, 1e-12);
      const [fused] = gradientsOf(run, [x], upstream);
      const [composed] = gradientsOf(reference, [x], upstream);
      expectClose(fused!, composed!, 1e-12, 1e-10);
      expectGradcheck(gradcheck((xx) => localResponseNorm(xx, { size, alpha, beta, k }), [x]));
      expect(graphOps(run())).toEqual(['localResponseNorm']);
    }
  });

  it('d^-beta without Math.pow: within (|beta ln d| + 4) ulp of it for beta 0.75 and 0.5 (square roots) and any other beta (exp and log), d from 1e-300 to 1e300', () => {
    // alpha = 0 makes d = k exactly, so out / x is the power itself.
    // beta = 0: the identity whatever d is, an infinite d (an infinite input) included, as Math.pow(Infinity, 0) = 1.
    const identity = localResponseNorm(tensor([[Infinity], [2]], { dtype: 'float64' }), { size: 3, alpha: 1, beta: 0, k: 1 }).data;
    expect([...identity]).toEqual([Infinity, 2]);
    for (const beta of [0.75, 0.5, 1.2, 2, 0.1, -0.5, 0]) {
      for (const k of [1e-300, 1e-30, 3.7e-5, 0.37, 1, 1 + 2 ** -40, 7.5, 123456.789, 1e30, 1e150]) {
        const expected = Math.pow(k, -beta);
        const got = localResponseNorm(tensor([[1], [1]], { dtype: 'float64' }), { size: 3, alpha: 0, beta, k }).data[0]!;
        if (!Number.isFinite(expected)) {
          expect(got, `beta ${beta}, d ${k}`).toBe(expected);
          continue;
        }
        const ulps = Math.abs(beta * Math.log(k)) + 4;
        expect(Math.abs(got - expected), `beta ${beta}, d ${k}: ${got} against Math.pow's ${expected}`).toBeLessThanOrEqual(ulps * 2 ** -52 * expected);
      }
    }
  });

  it('has PyTorch defaults (alpha 1e-4, beta 0.75, k 1), no parameters or state, and is the identity up to k^-beta when alpha = 0', () => {
    const lrn = new LocalResponseNorm({ size: 3 });
    expect([lrn.size, lrn.alpha, lrn.beta, lrn.k]).toEqual([3, 1e-4, 0.75, 1]);
    expect(Object.keys(lrn.stateDict())).toEqual([]);
    const x = randn([2, 4, 3], { dtype: 'float64', generator: new Generator(42) });
    const y = localResponseNorm(x, { size: 3, alpha: 0, k: 2 });
    expectClose(y, mul(x, 2 ** -0.75), 0, 1e-15);
  });

  it('is batch-independent: changing one sample leaves the others bit-identical; float32 agrees with float64', () => {
    const generator = new Generator(43);
    const x = randn([3, 5, 4], { dtype: 'float64', generator });
    const changed = x.clone();
    for (let i = 0; i < 20; i++) changed.data[i] = 50 * generator.normal();
    const y = localResponseNorm(x, { size: 3, alpha: 1 });
    const yChanged = localResponseNorm(changed, { size: 3, alpha: 1 });
    for (const n of [1, 2]) expect(sampleOf(yChanged, n)).toEqual(sampleOf(y, n));
    const x32 = randn([2, 5, 4], { generator, requiresGrad: true });
    const y32 = localResponseNorm(x32, { size: 4, alpha: 0.5 });
    expect(y32.dtype).toBe('float32');
    expectClose(y32, referenceLRN(x32.to('float64'), 4, 0.5, 0.75, 1), 1e-6, 1e-5);
    sum(y32).backward();
    expect(x32.grad!.dtype).toBe('float32');
  });

  it('gives finite outputs and gradients on all-zero and large inputs', () => {
    for (const value of [0, 1e3]) {
      const x = tensor(new Float64Array(2 * 3 * 4).fill(value), { shape: [2, 3, 4], requiresGrad: true });
      const y = localResponseNorm(x, { size: 2, alpha: 1 });
      sum(mul(y, y)).backward();
      expect([...y.data, ...x.grad!.data].every(Number.isFinite)).toBe(true);
    }
  });

  it('refuses bad options and inputs with typed errors', () => {
    expect(() => new LocalResponseNorm({ size: 0 })).toThrow(/option "size" to be an integer >= 1/);
    expect(() => new LocalResponseNorm({ size: 2.5 })).toThrow(OptionError);
    expect(() => new LocalResponseNorm({ size: 3, k: 0 })).toThrow(/option "k" to be a number > 0/);
    expect(() => new LocalResponseNorm({ size: 3, alpha: -1 })).toThrow(OptionError);
    expect(() => localResponseNorm(randn([2, 3]), { size: 3, gamma: 1 } as never)).toThrow(/unknown option "gamma"/);
    const lrn = new LocalResponseNorm({ size: 3 });
    expect(() => lrn.forward(randn([4]))).toThrow(ShapeError);
    expect(() => lrn.forward(randn([2, 0, 3]))).toThrow(/non-empty channel and spatial dims/);
    expect(() => lrn.forward(randn([2, 3, 4]), { mask: tensor([[1, 1, 1, 0], [1, 1, 1, 1]]) })).toThrow(ContextError);
  });
});
