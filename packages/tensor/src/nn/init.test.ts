import { describe, expect, it } from 'vitest';
import { zeros as zerosTensor } from '../creation';
import { OptionError, ShapeError } from '../errors';
import { Generator } from '../random';
import type { Tensor } from '../tensor';
import {
  calculateFanInAndFanOut, calculateGain, constant, defaultLayerInit, kaimingNormal, kaimingUniform, normal, ones, uniform,
  xavierNormal, xavierUniform, zeros,
} from './init';

function moments(t: Tensor): { mean: number; std: number; min: number; max: number } {
  let total = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const v of t.data) {
    total += v;
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  const mean = total / t.size;
  let squares = 0;
  for (const v of t.data) squares += (v - mean) ** 2;
  return { mean, std: Math.sqrt(squares / t.size), min, max };
}

const big = (shape: number[]): Tensor => zerosTensor(shape, { dtype: 'float64' });

describe('calculateFanInAndFanOut', () => {
  it("follows PyTorch: fanIn = size(1) * receptive field, fanOut = size(0) * receptive field", () => {
    expect(calculateFanInAndFanOut(big([3, 4]))).toEqual({ fanIn: 4, fanOut: 3 });
    expect(calculateFanInAndFanOut(big([8, 2, 3, 5]))).toEqual({ fanIn: 30, fanOut: 120 });
  });

  it('refuses tensors with fewer than 2 dims', () => {
    expect(() => calculateFanInAndFanOut(big([5]))).toThrow(ShapeError);
    expect(() => calculateFanInAndFanOut(big([5]))).toThrow(/at least 2 dims.*got shape \[5\]/);
  });
});

describe('calculateGain', () => {
  it("matches torch.nn.init.calculate_gain", () => {
    expect(calculateGain('linear')).toBe(1);
    expect(calculateGain('conv2d')).toBe(1);
    expect(calculateGain('sigmoid')).toBe(1);
    expect(calculateGain('tanh')).toBeCloseTo(5 / 3, 15);
    expect(calculateGain('relu')).toBeCloseTo(Math.SQRT2, 15);
    expect(calculateGain('leakyRelu')).toBeCloseTo(Math.sqrt(2 / (1 + 0.01 ** 2)), 15);
    expect(calculateGain('leakyRelu', Math.sqrt(5))).toBeCloseTo(Math.sqrt(1 / 3), 15);
    expect(calculateGain('selu')).toBe(0.75);
  });

  it('refuses unknown nonlinearities', () => {
    expect(() => calculateGain('swish' as never)).toThrow(OptionError);
    expect(() => calculateGain('swish' as never)).toThrow(/nonlinearity = swish/);
  });
});

describe('random initialisers', () => {
  it('kaimingUniform with a = sqrt(5) is U(-1/sqrt(fanIn), 1/sqrt(fanIn)) (the Linear/Conv default)', () => {
    const w = big([256, 400]);
    kaimingUniform(w, { a: Math.sqrt(5), generator: new Generator(1) });
    const bound = 1 / Math.sqrt(400);
    const m = moments(w);
    expect(m.min).toBeGreaterThanOrEqual(-bound);
    expect(m.max).toBeLessThan(bound);
    expect(m.max).toBeGreaterThan(0.99 * bound);
    expect(m.std).toBeCloseTo(bound / Math.sqrt(3), 4);
  });

  it('kaimingNormal has std gain / sqrt(fan), with fanOut when asked', () => {
    const w = big([300, 200]);
    kaimingNormal(w, { nonlinearity: 'relu', generator: new Generator(2) });
    expect(moments(w).std).toBeCloseTo(Math.SQRT2 / Math.sqrt(200), 3);
    kaimingNormal(w, { nonlinearity: 'relu', mode: 'fanOut', generator: new Generator(2) });
    expect(moments(w).std).toBeCloseTo(Math.SQRT2 / Math.sqrt(300), 3);
  });

  it('xavierUniform bound and xavierNormal std use fanIn + fanOut', () => {
    const w = big([100, 500]);
    xavierUniform(w, { gain: 2, generator: new Generator(3) });
    const bound = 2 * Math.sqrt(6 / 600);
    const m = moments(w);
    expect(m.min).toBeGreaterThanOrEqual(-bound);
    expect(m.max).toBeLessThan(bound);
    expect(m.std).toBeCloseTo(bound / Math.sqrt(3), 3);
    xavierNormal(w, { generator: new Generator(4) });
    expect(moments(w).std).toBeCloseTo(Math.sqrt(2 / 600), 3);
  });

  it('normal and uniform have the requested moments', () => {
    const t = big([200_000]);
    const n = moments(normal(t, 3, 0.5, { generator: new Generator(5) }));
    expect(n.mean).toBeCloseTo(3, 2);
    expect(n.std).toBeCloseTo(0.5, 2);
    const u = moments(uniform(t, -2, 6, { generator: new Generator(6) }));
    expect(u.min).toBeGreaterThanOrEqual(-2);
    expect(u.max).toBeLessThan(6);
    expect(u.mean).toBeCloseTo(2, 1);
  });

  it('is reproducible from a seeded generator and differs across seeds', () => {
    const draw = (seed: number): number[] => [...kaimingUniform(big([4, 5]), { generator: new Generator(seed) }).data];
    expect(draw(7)).toEqual(draw(7));
    expect(draw(7)).not.toEqual(draw(8));
  });

  it('writes in place into float32 tensors and returns the same tensor', () => {
    const w = zerosTensor([3, 3]);
    expect(xavierUniform(w, { generator: new Generator(0) })).toBe(w);
    expect(w.data).toBeInstanceOf(Float32Array);
    expect([...w.data].some((v) => v !== 0)).toBe(true);
  });

  it('validates its options', () => {
    expect(() => uniform(big([2]), 1, 0)).toThrow(OptionError);
    expect(() => normal(big([2]), 0, -1)).toThrow(/std >= 0/);
    expect(() => kaimingUniform(big([2, 2]), { mode: 'fanMiddle' as never })).toThrow(/mode 'fanIn' or 'fanOut'/);
    expect(() => kaimingUniform(big([2, 0]))).toThrow(ShapeError);
  });
});

describe('constant initialisers', () => {
  it('zeros, ones and constant fill every element', () => {
    const t = big([2, 3]);
    expect([...ones(t).data]).toEqual([1, 1, 1, 1, 1, 1]);
    expect([...constant(t, -2.5).data]).toEqual([-2.5, -2.5, -2.5, -2.5, -2.5, -2.5]);
    expect([...zeros(t).data]).toEqual([0, 0, 0, 0, 0, 0]);
  });
});

describe('defaultLayerInit', () => {
  it('draws the bias from U(-1/sqrt(fanIn), 1/sqrt(fanIn)) like reset_parameters', () => {
    const w = big([64, 4, 3, 3]);
    const b = big([20_000]);
    defaultLayerInit(w, b, { generator: new Generator(9) });
    const bound = 1 / Math.sqrt(36);
    const m = moments(b);
    expect(m.min).toBeGreaterThanOrEqual(-bound);
    expect(m.max).toBeLessThan(bound);
    expect(m.max).toBeGreaterThan(0.99 * bound);
    expect(moments(w).max).toBeLessThan(bound);
  });
});
