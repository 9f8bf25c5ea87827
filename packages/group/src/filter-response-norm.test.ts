import { expectClose, expectGradcheck } from '@normkit/testkit';
import {
  ContextError, DTypeError, Generator, OptionError, ShapeError, Sequential, abs, add, gradcheck, graphOps, maximum, mean, mul, randn,
  reshape, rsqrt, sum, tensor, type Tensor,
} from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import torch from './__fixtures__/torch-group.json';
import { FilterResponseNorm, filterResponseNorm } from './filter-response-norm';
import { FilterResponseNormTLU } from './filter-response-norm-tlu';
import { f64, gradientsOf, leaf, sampleOf, trainOnOneSample } from './test-support';
import { TLU } from './tlu';

/**
 * FRN (+ TLU) composed from primitive ops in float64, as the reference code writes it:
 * nu2 = mean(x^2) over spatial; y = gamma * x * rsqrt(nu2 + eps + |epsLearned|) + beta; z = max(y, tau).
 */
function referenceFRN(x: Tensor, weight: Tensor, bias: Tensor, eps: number, epsLearned: Tensor | null, tau: Tensor | null): Tensor {
  const [n, c] = x.shape as [number, number];
  const flat = reshape(x, [n, c, -1]);
  const nu2 = mean(mul(flat, flat), [2], { keepdim: true });
  const epsTotal = epsLearned ? add(abs(epsLearned), eps) : eps;
  let y = add(mul(mul(flat, rsqrt(add(nu2, epsTotal))), reshape(weight, [1, c, 1])), reshape(bias, [1, c, 1]));
  if (tau) y = maximum(y, reshape(tau, [1, c, 1]));
  return reshape(y, x.shape);
}

/** An FRN+TLU with random gamma, beta, tau and a nonzero learned epsilon. */
function randomFRNTLU(c: number, generator: Generator, epsLearned = 0.05): FilterResponseNormTLU {
  const norm = new FilterResponseNormTLU({ numFeatures: c, learnableEps: true, dtype: 'float64' });
  norm.weight.data.set(randn([c], { dtype: 'float64', generator, mean: 1, std: 0.5 }).data);
  norm.bias.data.set(randn([c], { dtype: 'float64', generator, std: 0.5 }).data);
  norm.tau.data.set(randn([c], { dtype: 'float64', generator, std: 0.5 }).data);
  norm.epsLearned!.data[0] = epsLearned;
  return norm;
}

describe('FilterResponseNormTLU (fused FRN + TLU)', () => {
  it('matches the float64 reference from primitive ops: forward and gradients of x, gamma, beta, tau and the learned eps', () => {
    const generator = new Generator(21);
    for (const [shape, epsLearned] of [[[3, 4, 5, 3], 0.05], [[2, 3, 7], -0.2], [[4, 3, 1, 1], 0.3]] as const) {
      const norm = randomFRNTLU(shape[1], generator, epsLearned);
      const x = randn(shape, { ...f64, generator, std: 2 });
      const upstream = randn(shape, { dtype: 'float64', generator });
      const inputs = [x, norm.weight, norm.bias, norm.tau, norm.epsLearned!];
      const reference = (): Tensor => referenceFRN(x, norm.weight, norm.bias, 1e-6, norm.epsLearned, norm.tau);
      const z = norm.forward(x);
      expectClose(z, reference(), 1e-12, 1e-12);
      // Both TLU branches are exercised: some outputs clipped to tau, some not.
      const clipped = Array.from(z.data).filter((v, i) => v === norm.tau.data[Math.floor(i / (z.size / shape[0] / shape[1])) % shape[1]]).length;
      expect(clipped).toBeGreaterThan(0);
      expect(clipped).toBeLessThan(z.size);
      const fused = gradientsOf(() => norm.forward(x), inputs, upstream);
      const composed = gradientsOf(reference, inputs, upstream);
      fused.forEach((g, i) => expectClose(g, composed[i]!, 1e-10, 1e-9));
      expectGradcheck(gradcheck((xx) => norm.forward(xx), inputs));
    }
  });

  it('matches PyTorch (the reference code in float64), including 1x1 maps: output and every gradient', () => {
    for (const f of torch.filterResponseNormTLU) {
      const c = f.shape[1]!;
      const norm = new FilterResponseNormTLU({ numFeatures: c, eps: f.eps, learnableEps: true, dtype: 'float64' });
      norm.loadStateDict({ weight: leaf(f.weight, [c]), bias: leaf(f.bias, [c]), tau: leaf(f.tau, [c]), eps_learned: leaf(f.epsLearned, [1]) });
      const x = leaf(f.x, f.shape);
      const z = norm.forward(x);
      expectClose(z, f.z, 1e-12, 1e-12);
      z.backward(Float64Array.from(f.upstream));
      expectClose(x.grad!, f.gradX, 1e-10, 1e-9);
      expectClose(norm.weight.grad!, f.gradWeight, 1e-10, 1e-9);
      expectClose(norm.bias.grad!, f.gradBias, 1e-10, 1e-9);
      expectClose(norm.tau.grad!, f.gradTau, 1e-10, 1e-9);
      expectClose(norm.epsLearned!.grad!, f.gradEpsLearned, 1e-10, 1e-9);
    }
  });

  it('equals FilterResponseNorm followed by TLU, as one node instead of two', () => {
    const generator = new Generator(22);
    const fused = randomFRNTLU(3, generator, 0.01);
    const frn = new FilterResponseNorm({ numFeatures: 3, learnableEps: true, dtype: 'float64' });
    const act = new TLU({ numFeatures: 3, dtype: 'float64' });
    frn.loadStateDict({ weight: fused.weight, bias: fused.bias, eps_learned: fused.epsLearned! });
    act.loadStateDict({ tau: fused.tau });
    const pair = new Sequential(frn, act);
    const x = randn([2, 3, 4, 4], { ...f64, generator });
    const upstream = randn([2, 3, 4, 4], { dtype: 'float64', generator });
    expectClose(fused.forward(x), pair.forward(x), 0, 0);
    const fromFused = gradientsOf(() => fused.forward(x), [x, fused.weight, fused.bias, fused.tau, fused.epsLearned!], upstream);
    const fromPair = gradientsOf(() => pair.forward(x), [x, frn.weight, frn.bias, act.tau, frn.epsLearned!], upstream);
    fromFused.forEach((g, i) => expectClose(g, fromPair[i]!, 1e-12, 1e-12));
    expect(graphOps(fused.forward(x))).toEqual(['filterResponseNormTLU']);
    expect(graphOps(pair.forward(x))).toEqual(['tlu', 'filterResponseNorm']);
  });

  it('learned eps: eps_total = eps + |eps_learned| starts at eps, never below it, and at exactly 0 its gradient is 0 (as abs in PyTorch)', () => {
    const generator = new Generator(23);
    const norm = new FilterResponseNormTLU({ numFeatures: 2, learnableEps: true, dtype: 'float64' });
    expect(Array.from(norm.epsLearned!.data)).toEqual([0]);
    // 1x1 maps, where the epsilon matters most: y = x / sqrt(x^2 + eps_total).
    const x = randn([3, 2, 1, 1], { ...f64, generator });
    norm.tau.data.fill(-10);
    const atZero = norm.forward(x);
    for (let i = 0; i < x.size; i++) expect(atZero.data[i]).toBeCloseTo(x.data[i]! / Math.sqrt(x.data[i]! ** 2 + 1e-6), 12);
    sum(atZero).backward();
    expect(norm.epsLearned!.grad!.item()).toBe(0);
    // Negative and positive learned values both give eps + |value|.
    for (const value of [-0.5, 0.5]) {
      norm.epsLearned!.data[0] = value;
      const y = norm.forward(x);
      for (let i = 0; i < x.size; i++) expect(y.data[i]).toBeCloseTo(x.data[i]! / Math.sqrt(x.data[i]! ** 2 + 1e-6 + 0.5), 12);
    }
    // Without learnableEps there is no such parameter.
    expect(Object.keys(new FilterResponseNormTLU({ numFeatures: 2 }).stateDict())).toEqual(['weight', 'bias', 'tau']);
    expect(Object.keys(norm.stateDict())).toEqual(['weight', 'bias', 'tau', 'eps_learned']);
  });

  it('float32 (the default dtype) agrees with the float64 reference', () => {
    const generator = new Generator(27);
    const norm = new FilterResponseNormTLU({ numFeatures: 3, learnableEps: true });
    norm.tau.data.set(randn([3], { generator, std: 0.5 }).data);
    norm.epsLearned!.data[0] = 0.01;
    const x = randn([2, 3, 4, 4], { generator, requiresGrad: true });
    const as64 = (t: Tensor): Tensor => t.to('float64');
    const expected = referenceFRN(as64(x), as64(norm.weight), as64(norm.bias), 1e-6, as64(norm.epsLearned!), as64(norm.tau));
    const z = norm.forward(x);
    expect(z.dtype).toBe('float32');
    expectClose(z, expected, 1e-5, 1e-5);
    z.backward(randn([2, 3, 4, 4], { generator }));
    expect(norm.parameters().map((p) => p.grad!.dtype)).toEqual(['float32', 'float32', 'float32', 'float32']);
  });

  it('trains with batch size 1 (the loss goes down), the learned eps moving when it does not start at exactly 0', () => {
    const norm = new FilterResponseNormTLU({ numFeatures: 8, learnableEps: true, dtype: 'float64' });
    norm.epsLearned!.data[0] = 1e-3;
    const losses = trainOnOneSample(norm, 8, 60, 0.1);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses.at(-1)!).toBeLessThan(0.5 * losses[0]!);
    expect(norm.epsLearned!.data[0]).not.toBe(1e-3);
    expect(norm.tau.data.some((t) => t !== 0)).toBe(true);
  });

  it('is batch-independent: changing sample j leaves sample i bit-identical, output and gradient', () => {
    const generator = new Generator(24);
    const norm = randomFRNTLU(3, generator);
    const x = randn([3, 3, 4], { ...f64, generator });
    const changed = x.clone().requireGrad();
    for (let i = 24; i < 36; i++) changed.data[i] = 30 * generator.normal(); // sample 2 only
    const upstream = randn([3, 3, 4], { dtype: 'float64', generator });
    const [gradX] = gradientsOf(() => norm.forward(x), [x], upstream);
    const [gradChanged] = gradientsOf(() => norm.forward(changed), [changed], upstream);
    const y = norm.forward(x);
    const yChanged = norm.forward(changed);
    for (const i of [0, 1]) {
      expect(sampleOf(yChanged, i)).toEqual(sampleOf(y, i));
      expect(sampleOf(gradChanged!, i)).toEqual(sampleOf(gradX!, i));
    }
  });

  it('gives finite outputs and gradients on constant and all-zero inputs', () => {
    const norm = randomFRNTLU(2, new Generator(25));
    for (const value of [0, 4]) {
      const x = tensor(new Float64Array(2 * 2 * 9).fill(value), { shape: [2, 2, 3, 3], requiresGrad: true });
      norm.zeroGrad();
      const z = norm.forward(x);
      expect(Array.from(z.data).every(Number.isFinite)).toBe(true);
      sum(mul(z, z)).backward();
      for (const t of [x, ...norm.parameters()]) expect(Array.from(t.grad!.data).every(Number.isFinite)).toBe(true);
    }
  });
});

describe('FilterResponseNorm (without TLU)', () => {
  it('matches the float64 reference from primitive ops and gradcheck, with and without the learned eps', () => {
    const generator = new Generator(26);
    for (const learnableEps of [false, true]) {
      const norm = new FilterResponseNorm({ numFeatures: 3, eps: 1e-4, learnableEps, dtype: 'float64' });
      norm.weight.data.set(randn([3], { dtype: 'float64', generator }).data);
      norm.bias.data.set(randn([3], { dtype: 'float64', generator }).data);
      if (norm.epsLearned) norm.epsLearned.data[0] = -0.1;
      const x = randn([2, 3, 3, 2], { ...f64, generator, mean: 1 });
      const inputs = [x, ...norm.parameters()];
      const upstream = randn([2, 3, 3, 2], { dtype: 'float64', generator });
      const reference = (): Tensor => referenceFRN(x, norm.weight, norm.bias, 1e-4, norm.epsLearned, null);
      expectClose(norm.forward(x), reference(), 1e-12, 1e-12);
      const fused = gradientsOf(() => norm.forward(x), inputs, upstream);
      const composed = gradientsOf(reference, inputs, upstream);
      fused.forEach((g, i) => expectClose(g, composed[i]!, 1e-10, 1e-9));
      expectGradcheck(gradcheck((xx) => norm.forward(xx), inputs));
      expect(graphOps(norm.forward(x))).toEqual(['filterResponseNorm']);
    }
  });

  it('trains with batch size 1 (the loss goes down)', () => {
    const norm = new FilterResponseNorm({ numFeatures: 8, dtype: 'float64' });
    const losses = trainOnOneSample(norm, 8, 60, 0.1);
    expect(losses.at(-1)!).toBeLessThan(0.5 * losses[0]!);
  });

  it('refuses bad options and inputs with typed errors', () => {
    expect(() => new FilterResponseNorm({ numFeatures: 4, eps: 0 })).toThrow(/FilterResponseNorm: expected eps to be a finite number > 0, got eps = 0/);
    expect(() => new FilterResponseNormTLU({ numFeatures: 4, eps: -1e-6 })).toThrow(OptionError);
    expect(() => new FilterResponseNorm({ numFeatures: 4, dtype: 'int8' as 'float32' })).toThrow(OptionError);
    expect(() => new FilterResponseNormTLU({ numFeatures: 4, dtype: 'float16' as 'float32' })).toThrow("FilterResponseNormTLU: expected dtype 'float32' or 'float64', got dtype = float16");
    expect(() => new FilterResponseNormTLU({ numFeatures: 0 })).toThrow(/numFeatures to be an integer >= 1/);
    const norm = new FilterResponseNormTLU({ numFeatures: 4 });
    expect(() => norm.forward(randn([2, 3, 5]))).toThrow(ShapeError);
    expect(() => norm.forward(randn([2, 3, 5]))).toThrow(/FilterResponseNormTLU.forward: expected 4 channels on axis 1 \(numFeatures = 4\), \[N, 4, \*\]/);
    expect(() => norm.forward(randn([2, 4, 5], { dtype: 'float64' }))).toThrow(DTypeError);
    expect(() => norm.forward(randn([2, 4, 5]), { mask: tensor([[1, 1, 1, 1, 0], [1, 1, 1, 1, 1]]) })).toThrow(ContextError);
    expect(() => filterResponseNorm(randn([2, 4, 5]), { tau: randn([3]) })).toThrow(/filterResponseNormTLU: expected tau with 4 elements/);
    expect(() => filterResponseNorm(randn([2, 4, 5]), { epsLearned: randn([2]) })).toThrow(/expected a one-element epsLearned/);
    expect(() => filterResponseNorm(randn([2, 4, 5]), { eps: 0 })).toThrow(OptionError);
  });
});
