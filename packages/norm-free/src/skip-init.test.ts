import { describe, expect, it } from 'vitest';
import {
  DTypeError, Generator, Linear, Module, OptionError, ReLU, Sequential, ShapeError, ValueError, add, gradcheck, mul, sum, tanh, type Tensor,
} from '@normkit/tensor';
import { expectClose, expectGradcheck } from '@normkit/testkit';
import { SkipInit } from './skip-init';
import { gaussian } from './test-support';

const branch = (seed: number, dtype: 'float32' | 'float64' = 'float64') =>
  new Sequential(new Linear({ inFeatures: 4, outFeatures: 4, dtype, generator: new Generator(seed) }), new ReLU(), new Linear({ inFeatures: 4, outFeatures: 4, dtype, generator: new Generator(seed + 1) }));

describe('SkipInit', () => {
  it('is the identity at initialisation (bit for bit), with alpha a 0-D parameter at 0', () => {
    const block = new SkipInit(branch(1));
    expect(block.alpha.shape).toEqual([]);
    expect(block.alpha.item()).toBe(0);
    expect(block.alpha.dtype).toBe('float64');
    const x = gaussian([3, 4], 2);
    expect(Array.from(block.forward(x).data)).toEqual(Array.from(x.data));
    expect(Object.keys(block.stateDict())).toEqual(['alpha', 'branch.0.weight', 'branch.0.bias', 'branch.2.weight', 'branch.2.bias']);
  });

  it('alpha gets the gradient sum(G * branch(x)) at initialisation; the branch gets none until alpha moves', () => {
    const block = new SkipInit(branch(3));
    const x = gaussian([5, 4], 4, { requiresGrad: true });
    const upstream = gaussian([5, 4], 5);
    block.forward(x).backward(upstream);
    const f = block.branch.forward(x);
    const expected = Array.from(f.data).reduce((s, v, i) => s + v * upstream.data[i]!, 0);
    expect(block.alpha.grad!.item()).toBeCloseTo(expected, 12);
    expect(expected).not.toBe(0);
    expectClose(x.grad!, upstream, 0, 0);
    const linear = block.branch.at(0) as Linear;
    expect(Array.from(linear.weight.grad!.data).every((g) => g === 0)).toBe(true);
  });

  it('computes x + alpha * branch(x) once alpha moves; gradcheck w.r.t. x, alpha and the branch', () => {
    const block = new SkipInit(branch(6));
    block.alpha.data[0] = 0.7;
    const x = gaussian([3, 4], 7, { requiresGrad: true });
    expectClose(block.forward(x), add(x, mul(0.7, block.branch.forward(x))), 1e-15, 1e-14);
    const linear = block.branch.at(2) as Linear;
    expectGradcheck(gradcheck(() => block.forward(x), [x, block.alpha, linear.weight, linear.bias!]));
  });

  it('trains: alpha moves away from 0 under a loss that wants the branch', () => {
    const block = new SkipInit(branch(8));
    const x = gaussian([16, 4], 9);
    const target = add(x, tanh(x));
    const loss = () => {
      const diff = add(block.forward(x), mul(target, -1));
      return sum(mul(diff, diff));
    };
    const before = loss().item();
    for (let step = 0; step < 20; step++) {
      block.zeroGrad();
      loss().backward();
      for (const p of block.parameters()) for (let i = 0; i < p.size; i++) p.data[i] = p.data[i]! - 0.005 * p.grad!.data[i]!;
    }
    expect(block.alpha.item()).not.toBe(0);
    expect(loss().item()).toBeLessThan(before);
  });

  it('takes the dtype of the branch (or the dtype option) and passes extra forward arguments to the branch', () => {
    expect(new SkipInit(branch(1, 'float32')).alpha.dtype).toBe('float32');
    class Scaled extends Module {
      forward(x: Tensor, factor: number): Tensor {
        return mul(x, factor);
      }
    }
    const block = new SkipInit(new Scaled(), { dtype: 'float64' });
    expect(block.alpha.dtype).toBe('float64');
    block.alpha.data[0] = 0.5;
    const x = gaussian([2, 2], 1);
    expectClose(block.forward(x, 4), mul(x, 3), 0, 0);
  });

  it('refuses a non-module branch, a bad dtype, a branch that changes the shape and an input of another dtype', () => {
    expect(() => new SkipInit({} as never)).toThrow(ValueError);
    expect(() => new SkipInit(null as never)).toThrow(/SkipInit: expected a residual branch/);
    expect(() => new SkipInit(branch(1), { dtype: 'int32' as never })).toThrow(OptionError);
    const narrowing = new SkipInit(new Linear({ inFeatures: 4, outFeatures: 2, dtype: 'float64' }));
    expect(() => narrowing.forward(gaussian([3, 4], 1))).toThrow(ShapeError);
    expect(() => narrowing.forward(gaussian([3, 4], 1))).toThrow(/the branch to return the input's shape \[3, 4\], got \[3, 2\]/);
    expect(() => new SkipInit(branch(1)).forward(gaussian([3, 4], 1, { dtype: 'float32' }))).toThrow(DTypeError);
  });
});
