import { describe, expect, it } from 'vitest';
import { graphOps } from '../autograd';
import { randn, tensor } from '../creation';
import { ShapeError, ValueError } from '../errors';
import { gradcheck } from '../gradcheck';
import { Generator } from '../random';
import { expectGradcheck } from '../test-utils';
import { embedding } from './embedding';

const table = () => tensor([[0, 1], [10, 11], [20, 21]], { dtype: 'float64', requiresGrad: true });

describe('embedding', () => {
  it('gathers rows for a tensor of indices, keeping its shape', () => {
    const y = embedding(tensor([[2, 0], [1, 1]]), table());
    expect(y.shape).toEqual([2, 2, 2]);
    expect(y.toArray()).toEqual([[[20, 21], [0, 1]], [[10, 11], [10, 11]]]);
  });

  it('accepts number arrays, Int32Arrays and scalar index tensors', () => {
    expect(embedding([1, 2], table()).toArray()).toEqual([[10, 11], [20, 21]]);
    expect(embedding(Int32Array.from([0]), table()).toArray()).toEqual([[0, 1]]);
    expect(embedding(tensor(2), table()).toArray()).toEqual([20, 21]);
    expect(embedding([], table()).shape).toEqual([0, 2]);
  });

  it('keeps the weight dtype and is one node', () => {
    const w = randn([5, 3], { requiresGrad: true });
    const y = embedding([4, 0], w);
    expect(y.dtype).toBe('float32');
    expect(graphOps(y)).toEqual(['embedding']);
  });

  it('adds the gradients of repeated indices into their row and leaves unused rows at zero', () => {
    const w = table();
    const y = embedding([1, 2, 1], w);
    y.backward(tensor([[1, 2], [3, 4], [5, 6]], { dtype: 'float64' }));
    expect(w.grad!.toArray()).toEqual([[0, 0], [6, 8], [3, 4]]);
  });

  it('passes gradcheck in float64', () => {
    const w = randn([6, 4], { dtype: 'float64', requiresGrad: true, generator: new Generator(1) });
    const ids = tensor([[5, 0, 5], [2, 2, 3]]);
    expectGradcheck(gradcheck((t) => embedding(ids, t), [w]));
  });

  it('refuses non-integer and out-of-range indices and a weight that is not a matrix', () => {
    expect(() => embedding([0, 1.5], table())).toThrow(ValueError);
    expect(() => embedding([0, 1.5], table())).toThrow(/embedding: expected integer indices in \[0, 2\] \(weight has 3 rows\), got 1.5 at position 1/);
    expect(() => embedding([3], table())).toThrow(/got 3 at position 0/);
    expect(() => embedding(tensor([0, -1]), table())).toThrow(/got -1 at position 1/);
    expect(() => embedding([NaN], table())).toThrow(/got NaN at position 0/);
    expect(() => embedding([0], randn([3]))).toThrow(ShapeError);
    expect(() => embedding([0], randn([3]))).toThrow(/embedding: expected a weight of shape \[numEmbeddings, dim\], got \[3\]/);
  });
});
