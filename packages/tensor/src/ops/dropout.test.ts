import { describe, expect, it } from 'vitest';
import { graphOps } from '../autograd';
import { ones, randn, tensor } from '../creation';
import { OptionError } from '../errors';
import { gradcheck } from '../gradcheck';
import { Generator, manualSeed } from '../random';
import { expectGradcheck } from '../test-utils';
import { dropout } from './dropout';

describe('dropout', () => {
  it('returns the input itself in eval mode and for p = 0', () => {
    const x = randn([4, 5], { requiresGrad: true });
    expect(dropout(x, 0.5, { training: false })).toBe(x);
    expect(dropout(x, 0)).toBe(x);
  });

  it('zeroes about a fraction p and scales survivors by 1 / (1 - p)', () => {
    const p = 0.3;
    const y = dropout(ones([100_000], { dtype: 'float64' }), p, { generator: new Generator(1) });
    let zeros = 0;
    for (const v of y.data) {
      if (v === 0) zeros++;
      else expect(v).toBe(1 / (1 - p));
    }
    // Binomial(100000, 0.3): standard deviation about 145, so 5 sigma is about 725.
    expect(Math.abs(zeros - p * 100_000)).toBeLessThan(725);
  });

  it('keeps the expectation: the mean of many draws stays near the input', () => {
    const y = dropout(ones([200_000]), 0.5, { generator: new Generator(2) });
    let total = 0;
    for (const v of y.data) total += v;
    const mean = total / y.size;
    expect(Math.abs(mean - 1)).toBeLessThan(0.02);
  });

  it('is reproducible from a generator and from manualSeed', () => {
    const x = randn([50]);
    expect([...dropout(x, 0.4, { generator: new Generator(7) }).data]).toEqual([...dropout(x, 0.4, { generator: new Generator(7) }).data]);
    manualSeed(3);
    const first = [...dropout(x, 0.4).data];
    manualSeed(3);
    expect([...dropout(x, 0.4).data]).toEqual(first);
    expect([...dropout(x, 0.4, { generator: new Generator(8) }).data]).not.toEqual([...dropout(x, 0.4, { generator: new Generator(7) }).data]);
  });

  it('applies the same mask and scale in the backward, in one node', () => {
    const x = tensor(new Float64Array(40).fill(2), { shape: [4, 10], requiresGrad: true });
    const y = dropout(x, 0.25, { generator: new Generator(4) });
    expect(graphOps(y)).toEqual(['dropout']);
    y.backward(1);
    for (let i = 0; i < 40; i++) expect(x.grad!.data[i]).toBe(y.data[i] === 0 ? 0 : 1 / 0.75);
  });

  it('passes gradcheck in float64 with a fixed mask', () => {
    const x = randn([3, 7], { dtype: 'float64', requiresGrad: true, generator: new Generator(5) });
    expectGradcheck(gradcheck((t) => dropout(t, 0.4, { generator: new Generator(6) }), [x]));
  });

  it('propagates NaN through dropped elements like PyTorch (x * 0)', () => {
    const y = dropout(tensor(new Float64Array(64).fill(NaN)), 0.5, { generator: new Generator(9) });
    expect([...y.data].every(Number.isNaN)).toBe(true);
  });

  it('refuses p outside [0, 1)', () => {
    const x = randn([3]);
    expect(() => dropout(x, 1)).toThrow(OptionError);
    expect(() => dropout(x, 1)).toThrow(/dropout: expected p to be a finite number >= 0 < 1, got p = 1/);
    expect(() => dropout(x, -0.1)).toThrow(/got p = -0.1/);
    expect(() => dropout(x, NaN)).toThrow(/got p = NaN/);
  });
});
