import { describe, expect, it } from 'vitest';
import { ones, randn } from '../creation';
import { OptionError } from '../errors';
import { Generator } from '../random';
import { Dropout } from './dropout';

describe('Dropout', () => {
  it('zeroes about p of the elements in training and scales survivors by 1 / (1 - p)', () => {
    const drop = new Dropout({ p: 0.25, generator: new Generator(0) });
    const y = drop.forward(ones([40_000], { dtype: 'float64' }));
    const zeros = [...y.data].filter((v) => v === 0).length;
    expect(zeros / y.size).toBeCloseTo(0.25, 2);
    expect([...y.data].every((v) => v === 0 || Math.abs(v - 1 / 0.75) < 1e-12)).toBe(true);
  });

  it('is the identity in eval mode and reproducible from its generator', () => {
    const x = randn([10]);
    expect(new Dropout().eval().forward(x)).toBe(x);
    const a = new Dropout({ p: 0.5, generator: new Generator(3) }).forward(x);
    const b = new Dropout({ p: 0.5, generator: new Generator(3) }).forward(x);
    expect([...a.data]).toEqual([...b.data]);
    expect(new Dropout().p).toBe(0.5);
  });

  it('refuses p outside [0, 1)', () => {
    expect(() => new Dropout({ p: 1 })).toThrow(OptionError);
    expect(() => new Dropout({ p: -0.1 })).toThrow(/p to be a finite number >= 0 < 1/);
  });
});
