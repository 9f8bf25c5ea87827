import { describe, expect, it } from 'vitest';
import { customOp, graphOps } from './autograd';
import { randn, tensor } from './creation';
import { AutogradError, DTypeError, ShapeError, ValueError } from './errors';
import { gradcheck } from './gradcheck';
import { add, mul } from './ops/elementwise';
import { sum } from './ops/reduce';
import type { TypedArray } from './dtype';
import type { Tensor } from './tensor';
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

/**
 * y = weight_c * x + bias_c over the last dim, as a named custom op: the rule returns only the
 * gradients it has (bias may be absent), accumulated in float64 for the parameters.
 */
function scaleShift(x: Tensor, weight: Tensor, bias: Tensor | null, fault: 'none' | 'swap' = 'none'): Tensor {
  const channels = weight.size;
  const out = x.data.map((v, i) => weight.data[i % channels]! * v + (bias ? bias.data[i % channels]! : 0));
  return customOp({
    op: 'scaleShift',
    inputs: { x, weight, bias },
    data: out,
    shape: x.shape,
    backward: (g) => {
      const gradX = g.map((v, i) => v * weight.data[i % channels]!);
      const gradWeight = new Float64Array(channels);
      const gradBias = new Float64Array(channels);
      for (let i = 0; i < g.length; i++) {
        gradWeight[i % channels]! += g[i]! * (fault === 'swap' ? 1 : x.data[i]!);
        gradBias[i % channels]! += g[i]!;
      }
      return { x: gradX, weight: gradWeight, bias: gradBias };
    },
  });
}

describe('customOp with named inputs and gradients', () => {
  it('lines gradients up by name; an absent input (null) and a missing name get none', () => {
    const x = tensor([[1, 2], [3, 4]], { requiresGrad: true });
    const weight = tensor([2, -1], { requiresGrad: true });
    sum(scaleShift(x, weight, null)).backward();
    expect(Array.from(x.grad!.data)).toEqual([2, -1, 2, -1]);
    expect(Array.from(weight.grad!.data)).toEqual([4, 6]);
    expect(weight.grad!.dtype).toBe('float32'); // the float64 accumulator is cast by the engine

    const a = tensor([1, 2], { requiresGrad: true });
    const b = tensor([3, 4], { requiresGrad: true });
    const onlyA = customOp({ op: 'onlyA', inputs: { a, b }, data: a.data.slice(), shape: [2], backward: (g) => ({ a: g }) });
    sum(onlyA).backward();
    expect(Array.from(a.grad!.data)).toEqual([1, 1]);
    expect(b.grad).toBeNull();
  });

  it('passes gradcheck in float64, with and without the optional input', () => {
    const x = randn([3, 4], { dtype: 'float64', requiresGrad: true });
    const weight = randn([4], { dtype: 'float64', requiresGrad: true });
    const bias = randn([4], { dtype: 'float64', requiresGrad: true });
    expect(gradcheck((xi, wi, bi) => scaleShift(xi, wi, bi), [x, weight, bias]).ok).toBe(true);
    expect(gradcheck((xi, wi) => scaleShift(xi, wi, null), [x, weight]).ok).toBe(true);
    // The check can fail: a rule with the weight gradient wrong.
    expect(gradcheck((xi, wi, bi) => scaleShift(xi, wi, bi, 'swap'), [x, weight, bias]).ok).toBe(false);
  });

  it('keeps a gradient already in the input dtype without copying it; casts one of another dtype once', () => {
    const returned: TypedArray[] = [];
    const leaf = (dtype: 'float32' | 'float64') => tensor([1, 2, 3], { dtype, requiresGrad: true });
    const x32 = leaf('float32');
    const x64 = leaf('float64');
    const w = leaf('float32');
    const y = customOp({
      op: 'keep',
      inputs: { x32, x64, w },
      data: new Float32Array(3),
      shape: [3],
      backward: () => {
        const g32 = new Float32Array([1, 2, 3]);
        const g64 = new Float64Array([4, 5, 6]);
        const wide = new Float64Array([0.1, 0.2, 0.3]);
        returned.push(g32, g64, wide);
        return { x32: g32, x64: g64, w: wide };
      },
    });
    y.backward(new Float32Array([1, 1, 1]));
    expect(x32.grad!.data).toBe(returned[0]);
    expect(x64.grad!.data).toBe(returned[1]);
    expect(w.grad!.data).toBeInstanceOf(Float32Array);
    expect(Array.from(w.grad!.data)).toEqual(Array.from(Float32Array.from([0.1, 0.2, 0.3])));
  });

  it('a wrong name, size or type is an error naming the op and the input, and changes no .grad', () => {
    const x = tensor([1, 2, 3], { requiresGrad: true });
    const weight = tensor([1, 2, 3], { requiresGrad: true });
    const z = tensor([5, 6, 7], { requiresGrad: true });
    sum(mul(mul(x, weight), z)).backward();
    const grads = () => [x, weight, z].map((t) => Array.from(t.grad!.data));
    const before = grads();
    const run = (rule: (g: TypedArray) => unknown) => () => {
      // The sweep reaches the leaf z (through mul) before the faulty rule runs.
      const y = add(customOp({ op: 'faulty', inputs: { x, weight }, data: x.data.slice(), shape: [3], backward: rule as never }), mul(z, 2));
      sum(y).backward();
    };
    expect(run((g) => ({ x: g, wieght: g }))).toThrow(AutogradError);
    expect(run((g) => ({ x: g, wieght: g }))).toThrow(/faulty \(backward\).*"wieght", which is not an input/);
    expect(run((g) => ({ x: g, weight: new Float32Array(2) }))).toThrow(ShapeError);
    expect(run((g) => ({ x: g, weight: new Float32Array(2) }))).toThrow(/faulty \(backward\).*3 elements for input "weight" of shape \[3\].*got 2 elements/);
    expect(run((g) => ({ x: g, weight: [1, 2, 3] }))).toThrow(DTypeError);
    expect(run((g) => ({ x: g, weight: new Int32Array(3) }))).toThrow(/gradient of input "weight" in a Float32Array or a Float64Array.*Int32Array/);
    expect(run((g) => [g, g])).toThrow(/faulty \(backward\).*by input name.*an array/);
    expect(grads()).toEqual(before);
  });

  it('refuses an input that is not a tensor, naming it', () => {
    const x = tensor([1]);
    const call = () => customOp({ op: 'named', inputs: { x, scale: [2] as unknown as Tensor }, data: new Float32Array(1), shape: [1], backward: () => ({}) });
    expect(call).toThrow(ValueError);
    expect(call).toThrow(/named: expected input "scale" to be a Tensor/);
  });

  it('the positional form still works, and its errors name the input by position', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const w = tensor([3, 4], { requiresGrad: true });
    const y = customOp({ op: 'positional', inputs: [x, w], data: mul(x, w).data, shape: [2], backward: (g) => [g.map((v, i) => v * w.data[i]!), null] });
    sum(y).backward();
    expect(Array.from(x.grad!.data)).toEqual([3, 4]);
    expect(w.grad).toBeNull();
    const bad = customOp({ op: 'positional', inputs: [x, w], data: new Float32Array(2), shape: [2], backward: () => [null, new Float32Array(1)] });
    expect(() => sum(bad).backward()).toThrow(/positional \(backward\).*2 elements for input 1 of shape \[2\]/);
  });
});
