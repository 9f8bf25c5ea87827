import { describe, expect, it, vi } from 'vitest';
import type * as Creation from './creation';
import { arange, full, ones, rand, randn, scalar, tensor, zeros } from './creation';
import { DTypeError, ShapeError, ValueError, isNormkitError } from './errors';
import { Linear } from './nn/linear';
import { Sequential } from './nn/sequential';
import { add, mul, neg, where } from './ops/elementwise';
import { matmul } from './ops/matmul';
import { mse } from './ops/loss';
import { softmax } from './ops/activation';
import { mean, sum } from './ops/reduce';
import { reshape } from './ops/shape';
import { Tensor, checkTensor, isTensor } from './tensor';

function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a throw');
}

describe('creation refuses what it cannot represent, naming the op', () => {
  it('refuses an unknown dtype', () => {
    for (const make of [
      () => tensor([1, 2], { dtype: 'int8' as never }),
      () => zeros([2], { dtype: 'int8' as never }),
      () => full([2], 1, { dtype: 'float16' as never }),
      () => rand([2], { dtype: 'int32' as never }),
      () => scalar(1, 'int8' as never),
      () => tensor([1]).to('int8' as never),
    ]) {
      const error = errorOf(make);
      expect(error).toBeInstanceOf(DTypeError);
      expect(error.message).toMatch(/expected dtype 'float32' or 'float64', got dtype 'int8'|got dtype 'float16'|got dtype 'int32'/);
    }
    expect(errorOf(() => tensor([1, 2], { dtype: 'int8' as never })).message).toMatch(/^tensor: /);
  });

  it('refuses negative and fractional dims with a ShapeError naming the op and the shape', () => {
    const cases: Array<[string, () => unknown, RegExp]> = [
      ['zeros', () => zeros([2, -3]), /^zeros: expected a shape of non-negative integers, got \[2, -3\]/],
      ['zeros', () => zeros([2, 1.5]), /^zeros: expected a shape of non-negative integers, got \[2, 1.5\]/],
      ['ones', () => ones([Number.NaN]), /^ones: .*got \[NaN\]/],
      ['full', () => full([-1], 3), /^full: .*got \[-1\]/],
      ['randn', () => randn([2, -1]), /^randn: .*\[2, -1\]/],
      ['tensor', () => tensor([1, 2], { shape: [-1, -2] }), /^tensor: .*\[-1, -2\]/],
    ];
    for (const [, make, message] of cases) {
      const error = errorOf(make);
      expect(error).toBeInstanceOf(ShapeError);
      expect(error.message).toMatch(message);
    }
    expect(errorOf(() => zeros(3 as never))).toBeInstanceOf(ShapeError);
  });

  it('arange refuses a non-finite range instead of allocating garbage', () => {
    expect(errorOf(() => arange(0, Infinity))).toBeInstanceOf(ValueError);
  });
});

describe('backward refuses a gradient of the wrong shape', () => {
  it('checks the shape of a Tensor gradient, not only its element count', () => {
    const x = tensor([[1, 2, 3], [4, 5, 6]], { requiresGrad: true });
    const y = mul(x, 2);
    const error = errorOf(() => y.backward(ones([3, 2])));
    expect(error).toBeInstanceOf(ShapeError);
    expect(error.message).toMatch(/^Tensor\.backward: expected a gradient of shape \[2, 3\].*got shape \[3, 2\]/);
    expect(x.grad).toBe(null);
    y.backward(ones([2, 3]));
    expect(Array.from(x.grad!.data)).toEqual([2, 2, 2, 2, 2, 2]);
    // Like PyTorch, a flat tensor gradient is refused too: only a typed array carries no shape.
    expect(() => mul(x, 2).backward(ones([6]))).toThrow(/^Tensor\.backward: expected a gradient of shape \[2, 3\].*got shape \[6\]/);
    expect(() => mul(x, 2).backward(ones([1, 6]))).toThrow(/got shape \[1, 6\]/);
    expect(Array.from(x.grad!.data)).toEqual([2, 2, 2, 2, 2, 2]);
    mul(x, 2).backward(new Float32Array(6).fill(1));
    expect(Array.from(x.grad!.data)).toEqual([4, 4, 4, 4, 4, 4]);
  });

  it('refuses a one-element tensor gradient of another shape for a scalar output, as PyTorch does', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    expect(() => sum(mul(x, 2)).backward(ones([1]))).toThrow(/expected a gradient of shape \[\].*got shape \[1\]/);
    sum(mul(x, 2)).backward(scalar(1));
    expect(Array.from(x.grad!.data)).toEqual([2, 2]);
  });

  it('refuses a plain array as gradient', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const error = errorOf(() => mul(x, 2).backward([1, 1] as never));
    expect(error).toBeInstanceOf(ValueError);
    expect(error.message).toMatch(/Tensor\.backward: expected .*got a plain array/);
  });
});

describe('plain arrays where a tensor belongs', () => {
  const x = tensor([1, 2]);
  it.each([
    ['mse', () => mse(x, [1, 2] as never), /^mse: expected target to be a Tensor, got a plain array of length 2/],
    ['mse', () => mse([1, 2] as never, x), /^mse: expected prediction to be a Tensor, got a plain array/],
    ['add', () => add(x, [1, 2] as never), /^add: expected b to be a Tensor or a number, got a plain array of length 2/],
    ['mul', () => mul('3' as never, x), /^mul: expected a to be a Tensor or a number, got a string/],
    ['where', () => where([1, 0] as never, x, x), /^where: expected condition to be a Tensor, got a plain array/],
    ['neg', () => neg([1] as never), /^neg: expected x to be a Tensor, got a plain array/],
    ['sum', () => sum([1, 2] as never), /^sum: expected x to be a Tensor, got a plain array/],
    ['mean', () => mean(null as never), /^mean: expected x to be a Tensor, got null/],
    ['softmax', () => softmax(undefined as never), /^softmax: expected x to be a Tensor, got undefined/],
    ['matmul', () => matmul(x, [[1], [2]] as never), /^matmul: expected b to be a Tensor, got a plain array/],
    ['reshape', () => reshape(new Float32Array(2) as never, [2]), /^reshape: expected x to be a Tensor, got a Float32Array/],
  ])('%s gives a typed error naming the op, expected and given', (_op, call, message) => {
    const error = errorOf(call);
    expect(isNormkitError(error)).toBe(true);
    expect(error.message).toMatch(message);
  });

  it('a module forward given a nested array names the module', () => {
    const layer = new Linear({ inFeatures: 2, outFeatures: 1 });
    const error = errorOf(() => layer.forward([[1, 2]] as never));
    expect(error).toBeInstanceOf(ValueError);
    expect(error.message).toMatch(/^Linear\.forward: expected x to be a Tensor, got a plain array of length 1/);
    const error2 = errorOf(() => new Sequential(layer).forward([[1, 2]] as never));
    expect(error2.message).toMatch(/^Sequential\.forward: expected x to be a Tensor/);
  });
});

describe('tensors from another copy of @normkit/tensor', () => {
  async function otherCopy(): Promise<typeof Creation> {
    vi.resetModules();
    return import('./creation');
  }

  it('are recognised by isTensor and refused by ops with an error naming the cause, never NaN', async () => {
    const other = await otherCopy();
    const foreign = other.tensor([1, 2]);
    expect(foreign).not.toBeInstanceOf(Tensor);
    expect(isTensor(foreign)).toBe(true);
    expect(isTensor(tensor([1]))).toBe(true);
    expect(isTensor({ data: new Float32Array(1), shape: [1] })).toBe(false);
    for (const call of [() => add(tensor([1, 2]), foreign), () => mul(foreign, 2), () => sum(foreign), () => mse(tensor([1, 2]), foreign)]) {
      const error = errorOf(call);
      expect(error).toBeInstanceOf(ValueError);
      expect(error.message).toMatch(/from another copy of @normkit\/tensor/);
      expect(error.message).toMatch(/two copies of @normkit\/tensor are loaded/i);
    }
    const layer = new Linear({ inFeatures: 2, outFeatures: 1 });
    expect(errorOf(() => layer.forward(other.tensor([[1, 2]]))).message).toMatch(/another copy of @normkit\/tensor/);
  });

  it('checkTensor returns tensors of this copy and refuses the rest', () => {
    const t = tensor([1]);
    expect(checkTensor('op', t, 'x')).toBe(t);
    expect(errorOf(() => checkTensor('op', 3, 'x')).message).toBe('op: expected x to be a Tensor, got number 3');
  });
});
