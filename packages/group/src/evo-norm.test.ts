import { expectClose, expectGradcheck } from '@normkit/testkit';
import {
  ContextError, DTypeError, Generator, OptionError, ShapeError, ValueError, add, div, gradcheck, graphOps, maximum, mul, noGrad, randn, reshape, sigmoid, sqrt, sum,
  tensor, variance, type Tensor,
} from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import torch from './__fixtures__/torch-evo-norm.json';
import { EvoNormB0 } from './evo-norm-b0';
import { EvoNormS0, evoNormS0 } from './evo-norm-s0';
import { f64, gradientsOf, leaf, sampleOf, trainOnOneSample } from './test-support';

const perChannel = (x: Tensor, t: Tensor): Tensor => reshape(t, [1, x.shape[1]!, ...x.shape.slice(2).map(() => 1)]);
const spatialAxes = (x: Tensor): number[] => x.shape.slice(2).map((_, i) => i + 2);

/** timm's EvoNorm2dS0 from primitive ops: x * sigmoid(v x) / group_std(x) * weight + bias, group_std = sqrt(var + eps). */
function referenceS0(x: Tensor, weight: Tensor, bias: Tensor, v: Tensor, groups: number, eps: number): Tensor {
  const n = x.shape[0]!;
  const std = sqrt(add(variance(reshape(x, [n, groups, -1]), [2], { keepdim: true, unbiased: false }), eps));
  const activated = reshape(mul(x, sigmoid(mul(x, perChannel(x, v)))), [n, groups, -1]);
  return add(mul(reshape(div(activated, std), x.shape), perChannel(x, weight)), perChannel(x, bias));
}

/**
 * timm's EvoNorm2dB0 from primitive ops: x / max(sqrt(var + eps), v x + instance_std(x)) * weight + bias,
 * var the biased batch variance over (N, *spatial) in training, running_var in eval.
 */
function referenceB0(x: Tensor, weight: Tensor, bias: Tensor, v: Tensor, eps: number, runningVar: Tensor | null): Tensor {
  const batchVar = runningVar ? perChannel(x, runningVar) : variance(x, [0, ...spatialAxes(x)], { keepdim: true, unbiased: false });
  const left = sqrt(add(batchVar, eps));
  const right = add(mul(x, perChannel(x, v)), sqrt(add(variance(x, spatialAxes(x), { keepdim: true, unbiased: false }), eps)));
  return add(mul(div(x, maximum(left, right)), perChannel(x, weight)), perChannel(x, bias));
}

function randomize(parameters: readonly Tensor[], generator: Generator): void {
  for (const p of parameters) p.data.set(randn([p.size], { dtype: 'float64', generator, mean: 1, std: 0.5 }).data);
}

describe('EvoNormS0', () => {
  it('matches the float64 reference of timm\'s formula from primitive ops: forward and the gradients of x, weight, bias and v; gradcheck', () => {
    const generator = new Generator(51);
    for (const [shape, groups] of [[[2, 6, 3, 2], 3], [[3, 4, 5], 1], [[2, 4, 2, 2], 4], [[2, 6], 2]] as const) {
      const norm = new EvoNormS0({ numFeatures: shape[1], groups, eps: 1e-3, dtype: 'float64' });
      randomize(norm.parameters(), generator);
      const x = randn(shape, { ...f64, generator, std: 2, mean: 0.5 });
      const inputs = [x, norm.weight, norm.bias, norm.v];
      const upstream = randn(shape, { dtype: 'float64', generator });
      const reference = (): Tensor => referenceS0(x, norm.weight, norm.bias, norm.v, groups, 1e-3);
      expectClose(norm.forward(x), reference(), 1e-12, 1e-12);
      const fused = gradientsOf(() => norm.forward(x), inputs, upstream);
      const composed = gradientsOf(reference, inputs, upstream);
      fused.forEach((g, i) => expectClose(g, composed[i]!, 1e-11, 1e-9));
      expectGradcheck(gradcheck((xx) => norm.forward(xx), inputs));
      expect(graphOps(norm.forward(x))).toEqual(['evoNormS0']);
    }
  });

  it("matches timm's EvoNorm2dS0 forward run by PyTorch in float64 (1 group, C groups, 1x1 maps): output and every gradient", () => {
    for (const f of torch.evoNormS0) {
      const c = f.shape[1]!;
      const norm = new EvoNormS0({ numFeatures: c, groups: f.groups, eps: f.eps, dtype: 'float64' });
      norm.loadStateDict({ weight: leaf(f.weight, [c]), bias: leaf(f.bias, [c]), v: leaf(f.v, [c]) });
      const x = leaf(f.x, f.shape);
      const y = norm.forward(x);
      expectClose(y, f.y, 1e-12, 1e-11);
      y.backward(tensor(Float64Array.from(f.upstream), { shape: f.shape, dtype: 'float64' }));
      expectClose(x.grad!, f.gradX, 1e-10, 1e-9);
      expectClose(norm.weight.grad!, f.gradWeight, 1e-10, 1e-9);
      expectClose(norm.bias.grad!, f.gradBias, 1e-10, 1e-9);
      expectClose(norm.v.grad!, f.gradV, 1e-10, 1e-9);
    }
  });

  it('gives the same output with and without gradients recorded, and a backward after a recorded forward (the kept gates)', () => {
    const generator = new Generator(61);
    const x = randn([2, 8, 3, 3], { generator, requiresGrad: true });
    const evo = new EvoNormS0({ numFeatures: 8, groups: 4 });
    for (const p of [evo.weight, evo.bias, evo.v]) p.data.set(randn([8], { generator }).data);
    const recorded = evo.forward(x);
    const unrecorded = noGrad(() => evo.forward(x));
    expect(graphOps(unrecorded)).toEqual([]);
    expect([...unrecorded.data]).toEqual([...recorded.data]);
    sum(mul(recorded, recorded)).backward();
    expect(x.grad!.data.every(Number.isFinite)).toBe(true);
    expect(evo.v.grad!.data.every(Number.isFinite)).toBe(true);
  });

  it("has timm's defaults and names (groups 32, eps 1e-5; weight, bias, v) and is batch-independent", () => {
    const norm = new EvoNormS0({ numFeatures: 64 });
    expect([norm.groups, norm.eps, norm.dtype]).toEqual([32, 1e-5, 'float32']);
    expect(Object.keys(norm.stateDict())).toEqual(['weight', 'bias', 'v']);
    const small = new EvoNormS0({ numFeatures: 4, groups: 2, dtype: 'float64' });
    const generator = new Generator(52);
    const x = randn([3, 4, 5], { dtype: 'float64', generator });
    const changed = x.clone();
    for (let i = 40; i < 60; i++) changed.data[i] = 40 * generator.normal();
    for (const n of [0, 1]) expect(sampleOf(small.forward(changed), n)).toEqual(sampleOf(small.forward(x), n));
  });

  it('trains with batch size 1 (the loss goes down); float32 agrees with float64', () => {
    const norm = new EvoNormS0({ numFeatures: 8, groups: 4, dtype: 'float64' });
    const losses = trainOnOneSample(norm, 8, 60, 0.1);
    expect(losses.at(-1)!).toBeLessThan(0.5 * losses[0]!);
    const generator = new Generator(53);
    const x = randn([2, 4, 3], { generator });
    const w = randn([4], { generator });
    const y = evoNormS0(x, { weight: w, bias: randn([4], { generator }), v: randn([4], { generator }), groups: 2, eps: 1e-5 });
    expect(y.dtype).toBe('float32');
    expect(Array.from(y.data).every(Number.isFinite)).toBe(true);
  });

  it('refuses bad options and inputs with typed errors', () => {
    expect(() => new EvoNormS0({ numFeatures: 6, groups: 4 })).toThrow(/groups dividing numFeatures = 6/);
    expect(() => new EvoNormS0({ numFeatures: 4, groups: 2, eps: 0 })).toThrow(OptionError);
    const norm = new EvoNormS0({ numFeatures: 4, groups: 2 });
    expect(() => norm.forward(randn([2, 3, 5]))).toThrow(ShapeError);
    expect(() => norm.forward(randn([2, 4, 5], { dtype: 'float64' }))).toThrow(DTypeError);
    expect(() => norm.forward(randn([2, 4, 5]), { mask: tensor([[1, 1, 1, 1, 0], [1, 1, 1, 1, 1]]) })).toThrow(ContextError);
  });
});

describe('EvoNormB0', () => {
  it("matches the float64 reference of timm's formula from primitive ops, in training (gradients through the batch variance) and eval; gradcheck", () => {
    const generator = new Generator(54);
    for (const shape of [[3, 4, 3, 2], [4, 3, 5], [2, 2, 1, 3]] as const) {
      const norm = new EvoNormB0({ numFeatures: shape[1], eps: 1e-3, dtype: 'float64' });
      randomize(norm.parameters(), generator);
      // A slope spread around 0 so both sides of the max win somewhere.
      norm.v.data.set(randn([shape[1]], { dtype: 'float64', generator, std: 1 }).data);
      for (let c = 0; c < shape[1]; c++) norm.runningVar.data[c] = 0.5 + generator.uniform();
      const x = randn(shape, { ...f64, generator, std: 1.5, mean: 0.3 });
      const inputs = [x, norm.weight, norm.bias, norm.v];
      // Both sides of the max win somewhere (training statistics).
      const left = sqrt(add(variance(x, [0, ...spatialAxes(x)], { keepdim: true, unbiased: false }), 1e-3));
      const right = add(mul(x, perChannel(x, norm.v)), sqrt(add(variance(x, spatialAxes(x), { keepdim: true, unbiased: false }), 1e-3)));
      const rightWins = Array.from(maximum(left, right).data).filter((m, i) => m === right.data[i]).length;
      expect(rightWins).toBeGreaterThan(0);
      expect(rightWins).toBeLessThan(x.size);
      const upstream = randn(shape, { dtype: 'float64', generator });
      for (const training of [true, false]) {
        norm.train(training);
        const saved = Float64Array.from(norm.runningVar.data);
        const reference = (): Tensor => referenceB0(x, norm.weight, norm.bias, norm.v, 1e-3, training ? null : tensor(saved, { shape: [shape[1]], dtype: 'float64' }));
        const run = (): Tensor => {
          const y = norm.forward(x);
          norm.runningVar.data.set(saved);
          return y;
        };
        expectClose(run(), reference(), 1e-12, 1e-12);
        const fused = gradientsOf(run, inputs, upstream);
        const composed = gradientsOf(reference, inputs, upstream);
        fused.forEach((g, i) => expectClose(g, composed[i]!, 1e-11, 1e-9));
        expectGradcheck(gradcheck((xx) => norm.forward(xx), inputs));
        norm.runningVar.data.set(saved);
        expect(graphOps(run())).toEqual(['evoNormB0']);
      }
    }
  });

  it("matches timm's EvoNorm2dB0 forward run by PyTorch in float64: two training steps then eval; outputs, gradients, running_var", () => {
    for (const f of torch.evoNormB0) {
      const c = f.shape[1]!;
      const norm = new EvoNormB0({ numFeatures: c, momentum: f.momentum, eps: f.eps, dtype: 'float64' });
      norm.loadStateDict({ weight: leaf(f.weight, [c]), bias: leaf(f.bias, [c]), v: leaf(f.v, [c]), running_var: leaf([...Array<number>(c).fill(1)], [c]) });
      for (const step of f.steps) {
        norm.train(step.training);
        norm.zeroGrad();
        const x = leaf(step.x, f.shape);
        const y = norm.forward(x);
        expectClose(y, step.y, 1e-12, 1e-11);
        expectClose(norm.runningVar, step.runningVar, 1e-13, 1e-12);
        y.backward(tensor(Float64Array.from(step.upstream), { shape: f.shape, dtype: 'float64' }));
        expectClose(x.grad!, step.gradX, 1e-10, 1e-9);
        expectClose(norm.weight.grad!, step.gradWeight, 1e-10, 1e-9);
        expectClose(norm.bias.grad!, step.gradBias, 1e-10, 1e-9);
        expectClose(norm.v.grad!, step.gradV, 1e-10, 1e-9);
      }
    }
  });

  it("keeps only running_var (timm's buffer), updated with the unbiased batch variance and momentum; eval changes nothing", () => {
    const generator = new Generator(55);
    const norm = new EvoNormB0({ numFeatures: 3, momentum: 0.3, dtype: 'float64' });
    expect(Object.keys(norm.stateDict())).toEqual(['weight', 'bias', 'v', 'running_var']);
    expect([norm.eps, norm.momentum]).toEqual([1e-3, 0.3]);
    let expected = [1, 1, 1];
    for (let step = 0; step < 3; step++) {
      const x = randn([4, 3, 5], { dtype: 'float64', generator, std: 1 + step });
      const unbiased = variance(x, [0, 2], { unbiased: true });
      expected = expected.map((r, c) => 0.7 * r + 0.3 * unbiased.data[c]!);
      norm.forward(x);
      expectClose(norm.runningVar, expected, 1e-14, 1e-13);
    }
    norm.eval();
    const trained = Array.from(norm.runningVar.data);
    norm.forward(randn([2, 3, 5], { dtype: 'float64', generator }));
    expect(Array.from(norm.runningVar.data)).toEqual(trained);
  });

  it('depends on the batch in training, not in eval; refuses one value per channel in training', () => {
    const generator = new Generator(56);
    const norm = new EvoNormB0({ numFeatures: 2, dtype: 'float64' });
    const x = randn([3, 2, 4], { dtype: 'float64', generator });
    const changed = x.clone();
    for (let i = 16; i < 24; i++) changed.data[i] = 30 * generator.normal();
    expect(sampleOf(norm.forward(changed), 0)).not.toEqual(sampleOf(norm.forward(x), 0));
    norm.eval();
    expect(sampleOf(norm.forward(changed), 0)).toEqual(sampleOf(norm.forward(x), 0));
    norm.train();
    const before = Array.from(norm.runningVar.data);
    expect(() => norm.forward(randn([1, 2, 1], { dtype: 'float64' }))).toThrow(ValueError);
    expect(Array.from(norm.runningVar.data)).toEqual(before);
    expect(norm.eval().forward(randn([1, 2, 1], { dtype: 'float64' })).shape).toEqual([1, 2, 1]);
  });

  it('gives finite outputs and gradients on constant inputs; refuses bad options and inputs', () => {
    const norm = new EvoNormB0({ numFeatures: 2, dtype: 'float64' });
    for (const value of [0, 3]) {
      const x = tensor(new Float64Array(12).fill(value), { shape: [2, 2, 3], requiresGrad: true });
      norm.zeroGrad();
      const y = norm.forward(x);
      sum(mul(y, y)).backward();
      expect([...y.data, ...x.grad!.data, ...norm.v.grad!.data].every(Number.isFinite)).toBe(true);
    }
    expect(() => new EvoNormB0({ numFeatures: 2, momentum: 2 })).toThrow(OptionError);
    expect(() => new EvoNormB0({ numFeatures: 2, momentum: null } as never)).toThrow(OptionError);
    expect(() => new EvoNormB0({ numFeatures: 2, groups: 2 } as never)).toThrow(/unknown option "groups"/);
    expect(() => norm.forward(randn([2, 3, 2], { dtype: 'float64' }))).toThrow(ShapeError);
  });
});
