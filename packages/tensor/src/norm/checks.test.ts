import { describe, expect, it } from 'vitest';
import { ones, tensor } from '../creation';
import { DTypeError, OptionError, ShapeError, ValueError } from '../errors';
import { resolveOptions } from '../plugin/options';
import type { Tensor } from '../tensor';
import { checkDTypeOption, checkModuleDType, checkPaddingMask, dtypeOptionSpec } from './checks';

describe('checkPaddingMask', () => {
  it('returns the data of a 0/1 mask of the expected shape, in either dtype', () => {
    const mask = tensor([[1, 0, 1], [1, 1, 0]]);
    const data = checkPaddingMask('op', mask, [2, 3]);
    expect(data).toBe(mask.data);
    expect(Array.from(checkPaddingMask('op', tensor([1, 0], { dtype: 'float64' }), [2]))).toEqual([1, 0]);
    // An empty batch has an empty mask.
    expect(checkPaddingMask('op', tensor([], { shape: [0, 3] }), [0, 3]).length).toBe(0);
  });

  it('refuses a mask of another shape, rank or size, naming the op, the expected shape and its meaning', () => {
    const expectShape = (mask: Tensor, given: string) => {
      expect(() => checkPaddingMask('batchNorm', mask, [3, 5], { shapeMeaning: "the input's shape without the channel axis" })).toThrow(ShapeError);
      expect(() => checkPaddingMask('batchNorm', mask, [3, 5], { shapeMeaning: "the input's shape without the channel axis" })).toThrow(
        `batchNorm: expected a mask of shape [3, 5] (the input's shape without the channel axis), got ${given}`,
      );
    };
    expectShape(ones([1, 5]), 'shape [1, 5]');
    expectShape(ones([5, 3]), 'shape [5, 3]');
    expectShape(ones([15]), 'shape [15]');
    expectShape(ones([3, 5, 1]), 'shape [3, 5, 1]');
  });

  it('words the shape error as asked: no meaning by default, the given shape bare on request', () => {
    expect(() => checkPaddingMask('layerNorm', ones([2]), [2, 3])).toThrow('layerNorm: expected a mask of shape [2, 3], got shape [2]');
    expect(() => checkPaddingMask('layerNorm', ones([2]), [2, 3], { givenShape: 'bare', shapeMeaning: 'one value per row' })).toThrow(
      'layerNorm: expected a mask of shape [2, 3] (one value per row), got [2]',
    );
  });

  it('refuses something that is not a Tensor (JavaScript callers), saying what it was', () => {
    const notATensor = [[1, 1]] as unknown as Tensor;
    expect(() => checkPaddingMask('op', notATensor, [1, 2])).toThrow(ShapeError);
    expect(() => checkPaddingMask('op', notATensor, [1, 2])).toThrow('op: expected a mask of shape [1, 2], got 1,1');
  });

  it('refuses values other than 0 and 1, naming the first one and its flat index', () => {
    for (const bad of [0.5, -1, 2, Number.NaN]) {
      const mask = tensor([1, 0, 1, 1, bad, 1, 3], { dtype: 'float64' });
      expect(() => checkPaddingMask('groupNorm', mask, [7])).toThrow(ValueError);
      expect(() => checkPaddingMask('groupNorm', mask, [7])).toThrow(`groupNorm: expected mask values 1 (real) or 0 (padding), got ${bad} at flat index 4`);
    }
  });
});

describe('checkDTypeOption and dtypeOptionSpec', () => {
  it('defaults to float32 and accepts the float dtypes', () => {
    expect(checkDTypeOption('LayerNorm', undefined)).toBe('float32');
    expect(checkDTypeOption('LayerNorm', 'float32')).toBe('float32');
    expect(checkDTypeOption('LayerNorm', 'float64')).toBe('float64');
  });

  it('refuses any other value with an OptionError naming the op and the value', () => {
    for (const bad of ['int8', 'float16', 'Float32', 32]) {
      expect(() => checkDTypeOption('InstanceNorm', bad)).toThrow(OptionError);
      expect(() => checkDTypeOption('InstanceNorm', bad)).toThrow(`InstanceNorm: expected dtype 'float32' or 'float64', got dtype = ${String(bad)}`);
    }
  });

  it('the schema resolves to the same values the check accepts', () => {
    const schema = { dtype: dtypeOptionSpec };
    expect(resolveOptions('norm', schema, {})).toEqual({ dtype: 'float32' });
    expect(resolveOptions('norm', schema, { dtype: 'float64' })).toEqual({ dtype: 'float64' });
    expect(() => resolveOptions('norm', schema, { dtype: 'int8' })).toThrow(OptionError);
    for (const value of dtypeOptionSpec.values) expect(checkDTypeOption('norm', value)).toBe(value);
    expect(checkDTypeOption('norm', dtypeOptionSpec.default)).toBe('float32');
  });
});

describe('checkModuleDType', () => {
  it('passes a tensor of the module dtype and refuses another, naming the tensor', () => {
    expect(() => checkModuleDType('BatchNorm.forward', ones([2, 3]), 'float32')).not.toThrow();
    expect(() => checkModuleDType('BatchNorm.forward', ones([2, 3], { dtype: 'float64' }), 'float32')).toThrow(DTypeError);
    expect(() => checkModuleDType('BatchNorm.forward', ones([2, 3], { dtype: 'float64' }), 'float32')).toThrow(
      "BatchNorm.forward: expected a float32 input (the module's dtype), got a float64 input",
    );
    expect(() => checkModuleDType('FiLM.forward', ones([2, 3]), 'float64', 'condition')).toThrow(
      "FiLM.forward: expected a float64 condition (the module's dtype), got a float32 condition",
    );
  });
});
