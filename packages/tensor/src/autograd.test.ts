import { describe, expect, it } from 'vitest';
import { customOp, graphOps } from './autograd';
import { randn, tensor } from './creation';
import { ShapeError } from './errors';
import { add, mul } from './ops/elementwise';
import { sum } from './ops/reduce';
import type { Tensor} from './tensor';
import { noGrad } from './tensor';

describe('autograd', () => {
  it('accumulates gradients through shared inputs and across backward calls', () => {
    const x = tensor([2, 3], { requiresGrad: true });
    const y = sum(add(mul(x, x), x)); // d/dx = 2x + 1
    y.backward();
    expect(Array.from(x.grad!.data)).toEqual([5, 7]);
    sum(x).backward();
    expect(Array.from(x.grad!.data)).toEqual([6, 8]);
  });

  it('the same tensor used twice by one op gets both contributions', () => {
    const x = tensor([3], { requiresGrad: true });
    add(x, x).backward();
    expect(x.grad!.item()).toBe(2);
  });

  it('records nothing under noGrad and keeps non-leaf gradients only on request', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    expect(noGrad(() => mul(x, 2)).requiresGrad).toBe(false);
    const hidden = mul(x, 3).retainGrad();
    sum(mul(hidden, hidden)).backward();
    expect(Array.from(hidden.grad!.data)).toEqual([6, 12]);
  });

  it('handles a deep graph without recursion limits', () => {
    const x = tensor([1], { requiresGrad: true });
    let y: Tensor = x;
    for (let i = 0; i < 20000; i++) y = add(y, 1e-4);
    y.backward();
    expect(x.grad!.item()).toBe(1);
    expect(graphOps(y).length).toBe(20000);
  });

  it('customOp builds one node with the given backward', () => {
    const x = randn([3], { requiresGrad: true });
    const y = customOp({ op: 'double', inputs: [x], data: x.data.map((v) => 2 * v), shape: x.shape, backward: (g) => [g.map((v) => 2 * v)] });
    expect(graphOps(y)).toEqual(['double']);
    y.backward(new Float32Array([1, 1, 1]));
    expect(Array.from(x.grad!.data)).toEqual([2, 2, 2]);
  });

  it('refuses backward without a graph or with a wrongly shaped gradient', () => {
    expect(() => tensor([1, 2]).backward()).toThrow(ShapeError);
    const x = tensor([1, 2], { requiresGrad: true });
    expect(() => mul(x, 2).backward()).toThrow(/one-element tensor/);
    expect(() => mul(x, 2).backward(new Float32Array(3))).toThrow(/2 elements/);
  });
});
