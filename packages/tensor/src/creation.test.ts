import { describe, expect, it } from 'vitest';
import { arange, full, ones, rand, randn, tensor, zeros } from './creation';
import { ShapeError } from './errors';
import { Generator, manualSeed } from './random';

describe('tensor creation', () => {
  it('accepts numbers, nested arrays and typed arrays', () => {
    expect(tensor(3).shape).toEqual([]);
    expect(tensor([[1, 2], [3, 4]]).shape).toEqual([2, 2]);
    expect(tensor(new Float64Array([1, 2, 3, 4]), { shape: [2, 2] }).dtype).toBe('float64');
    expect(tensor([1, 2], { dtype: 'float64' }).data).toBeInstanceOf(Float64Array);
    expect(() => tensor([[1, 2], [3]])).toThrow(ShapeError);
    expect(() => tensor([1, 2, 3], { shape: [2, 2] })).toThrow(/4 values for shape \[2, 2\]/);
  });

  it('factories fill and count', () => {
    expect(Array.from(zeros([2]).data)).toEqual([0, 0]);
    expect(Array.from(ones([2]).data)).toEqual([1, 1]);
    expect(Array.from(full([2], 7).data)).toEqual([7, 7]);
    expect(Array.from(arange(1, 7, 2).data)).toEqual([1, 3, 5]);
    expect(tensor([[1, 2], [3, 4]]).toArray()).toEqual([[1, 2], [3, 4]]);
  });

  it('random factories are reproducible from a seed and have the right moments', () => {
    manualSeed(42);
    const first = randn([1000]);
    manualSeed(42);
    const second = randn([1000]);
    expect(Array.from(first.data)).toEqual(Array.from(second.data));
    const sample = Array.from(randn([100000], { generator: new Generator(1), dtype: 'float64' }).data);
    const mean = sample.reduce((a, b) => a + b, 0) / sample.length;
    const variance = sample.reduce((a, b) => a + (b - mean) ** 2, 0) / sample.length;
    expect(Math.abs(mean)).toBeLessThan(0.02);
    expect(Math.abs(variance - 1)).toBeLessThan(0.02);
    const uniform = rand([10000], { generator: new Generator(2), low: -1, high: 1 }).data;
    expect(Math.min(...uniform)).toBeGreaterThanOrEqual(-1);
    expect(Math.max(...uniform)).toBeLessThan(1);
  });
});
