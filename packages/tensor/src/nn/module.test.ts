import { describe, expect, it, vi } from 'vitest';
import { tensor, zeros } from '../creation';
import { StateDictError } from '../errors';
import type { Tensor } from '../tensor';
import { Linear } from './linear';
import type { StateDict } from './module';
import { Sequential } from './sequential';

function model(): Sequential {
  return new Sequential(new Linear({ inFeatures: 2, outFeatures: 2 }), new Linear({ inFeatures: 2, outFeatures: 1 }));
}

function snapshot(m: Sequential): number[][] {
  return Object.values(m.stateDict()).map((t) => Array.from(t.data));
}

function goodDict(): Record<string, Tensor> {
  return {
    '0.weight': tensor([[1, 2], [3, 4]]),
    '0.bias': tensor([5, 6]),
    '1.weight': tensor([[7, 8]]),
    '1.bias': tensor([9]),
  };
}

function loadError(m: Sequential, dict: unknown, strict = true): StateDictError {
  const before = snapshot(m);
  let error: unknown;
  try {
    m.loadStateDict(dict as StateDict, { strict });
  } catch (caught) {
    error = caught;
  }
  expect(error).toBeInstanceOf(StateDictError);
  expect(snapshot(m)).toEqual(before);
  return error as StateDictError;
}

describe('Module.loadStateDict refuses malformed entries before writing anything', () => {
  it('refuses null and undefined values, strict or not (as PyTorch does)', () => {
    for (const strict of [true, false]) {
      for (const value of [null, undefined]) {
        const dict = { ...goodDict(), '0.bias': value };
        const error = loadError(model(), dict, strict);
        expect(error.problems).toEqual([`"0.bias" is ${String(value)}, expected a Tensor`]);
      }
    }
  });

  it('refuses values that are not tensors with a StateDictError, not an internal TypeError', () => {
    for (const [value, given] of [
      [3, 'number 3'],
      [[5, 6], 'a plain array of length 2'],
      [{ shape: [2], data: [5, 6] }, 'a plain object'],
      [new Float32Array(2), 'a Float32Array'],
    ] as const) {
      const error = loadError(model(), { ...goodDict(), '0.bias': value });
      expect(error.problems).toEqual([`"0.bias" is ${given}, expected a Tensor`]);
    }
  });

  // Assigning `.data` now refuses another length; a tensor-like object (another version, another
  // library) can still carry inconsistent data: simulate it by shadowing the accessor.
  const withData = (t: Tensor, data: unknown): Tensor => Object.defineProperty(t, 'data', { value: data });

  it('refuses a tensor whose data length disagrees with its shape, all or nothing', () => {
    const short = withData(tensor([1, 2]), new Float32Array(1));
    const long = withData(tensor([9]), new Float32Array(3));
    for (const [key, bad] of [['0.bias', short], ['1.bias', long]] as const) {
      const error = loadError(model(), { ...goodDict(), [key]: bad });
      expect(error.problems[0]).toMatch(new RegExp(`"${key.replace('.', '\\.')}" has \\d element\\(s\\) of data for shape \\[\\d\\]`));
    }
  });

  it('refuses data that is not a Float32Array or Float64Array, whatever the dtype field says', () => {
    const odd = withData(tensor([1, 2]), new Int8Array(2));
    expect(loadError(model(), { ...goodDict(), '0.bias': odd }).problems[0]).toMatch(/"0\.bias" holds an Int8Array/);
  });

  it('reports every problem at once, keys, shapes and values together', () => {
    const dict = { ...goodDict(), '0.weight': zeros([3]), '0.bias': null, extra: zeros([1]) };
    const error = loadError(model(), dict);
    expect(error.problems).toHaveLength(3);
  });

  it('still loads a valid dict and accepts a tensor of another copy of @normkit/tensor (only its data is read)', async () => {
    vi.resetModules();
    const other = await import('../creation');
    const m = model();
    m.loadStateDict({ ...goodDict(), '1.bias': other.tensor([42]) });
    expect(snapshot(m)).toEqual([[1, 2, 3, 4], [5, 6], [7, 8], [42]]);
  });

  it('registering a non-tensor parameter or buffer is refused at once, naming the module and name', () => {
    const m = model();
    expect(() => m.registerBuffer('stats', [1, 2] as never)).toThrow(/^Sequential\.registerBuffer: expected buffer "stats" to be a Tensor, got a plain array of length 2/);
    expect(() => m.registerParameter('w', null as never)).toThrow(/^Sequential\.registerParameter: expected parameter "w" to be a Tensor, got null/);
  });
});
