import { describe, expect, it } from 'vitest';
import { expectGradcheck } from '@normkit/testkit';
import {
  ContextError, DTypeError, Generator, OptionError, ShapeError, add, div, gradcheck, graphOps, matmul, mul, randn, relu, reshape, slice, sqrt, sub,
  transpose, zeros, type Linear, type Tensor,
} from '@normkit/tensor';
import { FiLM } from './film';
import type { ParamFreeNormKind } from './modulated-norm';
import {
  batchNormReference, bestLossWithoutCondition, expectSameFunction, fitConditional, instanceNormReference, layerNormReference, snapshotBuffers,
} from './test-references';

const f64 = { dtype: 'float64' as const };
const [N, C, D, HIDDEN] = [4, 3, 5, 6];

const references: Record<ParamFreeNormKind, (x: Tensor, eps: number) => Tensor> = {
  none: (x) => x,
  batch: batchNormReference,
  instance: instanceNormReference,
  layer: layerNormReference,
};

/** gamma(c) * normalized + beta(c), the generator composed from matmul, add and relu. */
function composedFiLM(normalized: Tensor, c: Tensor, weights: readonly Tensor[]): Tensor {
  let h = c;
  for (let i = 0; i < weights.length; i += 2) {
    if (i > 0) h = relu(h);
    h = add(matmul(h, transpose(weights[i]!)), weights[i + 1]!);
  }
  const shape = [c.shape[0]!, C, ...new Array<number>(normalized.ndim - 2).fill(1)];
  return add(mul(normalized, reshape(slice(h, 1, 0, C), shape)), reshape(slice(h, 1, C, 2 * C), shape));
}

function generatorParameters(film: FiLM): Tensor[] {
  return [...film.filmGenerator].flatMap((layer) => ('weight' in layer ? [(layer as Linear).weight, (layer as Linear).bias!] : []));
}

describe('FiLM', () => {
  for (const norm of ['none', 'batch', 'instance', 'layer'] as const) {
    for (const hidden of [null, HIDDEN]) {
      it(`norm '${norm}', ${hidden ? 'MLP' : 'Linear'} generator: gamma(c) * norm(x) + beta(c), forward and every gradient vs a float64 reference, and gradcheck`, () => {
        const generator = new Generator(1);
        const film = new FiLM({ numFeatures: C, conditionDim: D, hidden, norm, dtype: 'float64', generator });
        const x = randn([N, C, 2, 3], { ...f64, mean: 1, std: 2, requiresGrad: true, generator });
        const condition = randn([N, D], { ...f64, requiresGrad: true, generator });
        const weights = generatorParameters(film);
        expect(weights).toHaveLength(hidden ? 4 : 2);
        expectSameFunction(
          (xx, cc) => film.forward(xx, { condition: cc }),
          (xx, cc, ...w) => composedFiLM(references[norm](xx, 1e-5), cc, w),
          [x, condition, ...weights],
        );
        const small = randn([2, C, 3], { ...f64, requiresGrad: true, generator });
        const smallCondition = randn([2, D], { ...f64, requiresGrad: true, generator });
        expectGradcheck(gradcheck((xx, cc) => film.forward(xx, { condition: cc }), [small, smallCondition, ...weights]));
        film.eval();
        expectGradcheck(gradcheck((xx, cc) => film.forward(xx, { condition: cc }), [small, smallCondition, ...weights]));
      });
    }
  }

  it("norm 'batch': running statistics move in training and normalise in eval; [N, C] inputs work", () => {
    const generator = new Generator(2);
    const film = new FiLM({ numFeatures: C, conditionDim: D, norm: 'batch', dtype: 'float64', generator });
    for (let step = 0; step < 3; step++) film.forward(randn([N, C], { ...f64, mean: 3, generator }), { condition: randn([N, D], { ...f64, generator }) });
    const bn = film.normalizer!;
    expect(Array.from(bn.runningMean!.data).every((v) => v > 0.5)).toBe(true);
    film.eval();
    const before = snapshotBuffers(film);
    const x = randn([N, C], { ...f64, requiresGrad: true, generator });
    const condition = randn([N, D], { ...f64, requiresGrad: true, generator });
    const runningNorm = (xx: Tensor) => div(sub(xx, reshape(bn.runningMean!, [1, C])), sqrt(add(reshape(bn.runningVar!, [1, C]), 1e-5)));
    expectSameFunction((xx, cc) => film.forward(xx, { condition: cc }), (xx, cc, ...w) => composedFiLM(runningNorm(xx), cc, w), [x, condition, ...generatorParameters(film)]);
    expect(snapshotBuffers(film)).toEqual(before);
  });

  it('different conditions give different outputs for the same x, only for the samples whose condition changed', () => {
    const generator = new Generator(3);
    const film = new FiLM({ numFeatures: C, conditionDim: D, hidden: HIDDEN, norm: 'instance', dtype: 'float64', generator });
    const x = randn([N, C, 4], { ...f64, generator });
    const condition = randn([N, D], { ...f64, generator });
    const other = condition.clone();
    for (let d = 0; d < D; d++) other.data[2 * D + d] = -other.data[2 * D + d]!;
    const a = film.forward(x, { condition });
    const b = film.forward(x, { condition: other });
    for (let n = 0; n < N; n++) {
      const rowA = Array.from(a.data.slice(n * C * 4, (n + 1) * C * 4));
      const rowB = Array.from(b.data.slice(n * C * 4, (n + 1) * C * 4));
      if (n === 2) expect(rowB.some((v, i) => Math.abs(v - rowA[i]!) > 1e-6)).toBe(true);
      else expect(rowB).toEqual(rowA);
    }
  });

  it('normalises with at most ONE fused node and modulates with ONE filmModulate node; state-dict names', () => {
    for (const [norm, kernel] of [['none', null], ['batch', 'batchNorm'], ['instance', 'instanceNorm'], ['layer', 'layerNorm']] as const) {
      const film = new FiLM({ numFeatures: C, conditionDim: D, hidden: HIDDEN, norm });
      const ops = graphOps(film.forward(randn([N, C, 4], { requiresGrad: true }), { condition: randn([N, D]) }));
      if (kernel) expect(ops.filter((op) => op === kernel)).toHaveLength(1);
      expect(ops.filter((op) => op === 'filmModulate')).toHaveLength(1);
      const generatorOps = ['linear', 'matmul', 'add', 'relu', 'transpose', 'permute', 'reshape', 'slice'];
      expect(ops.filter((op) => op !== kernel && op !== 'filmModulate' && !generatorOps.includes(op))).toEqual([]);
    }
    const shapes = (film: FiLM) => Object.fromEntries(Object.entries(film.stateDict()).map(([k, t]) => [k, t.shape]));
    expect(shapes(new FiLM({ numFeatures: C, conditionDim: D }))).toEqual({ 'film_generator.0.weight': [2 * C, D], 'film_generator.0.bias': [2 * C] });
    expect(shapes(new FiLM({ numFeatures: C, conditionDim: D, hidden: HIDDEN, norm: 'batch' }))).toEqual({
      'param_free_norm.running_mean': [C],
      'param_free_norm.running_var': [C],
      'param_free_norm.num_batches_tracked': [],
      'film_generator.0.weight': [HIDDEN, D],
      'film_generator.0.bias': [HIDDEN],
      'film_generator.2.weight': [2 * C, HIDDEN],
      'film_generator.2.bias': [2 * C],
    });
  });

  it('refuses a missing or malformed condition with typed errors, leaving the running statistics unchanged', () => {
    const generator = new Generator(4);
    const film = new FiLM({ numFeatures: C, conditionDim: D, hidden: HIDDEN, norm: 'batch', dtype: 'float64', generator });
    const x = randn([N, C, 3], { ...f64, generator });
    const condition = randn([N, D], { ...f64, generator });
    film.forward(x, { condition });
    const before = snapshotBuffers(film);
    const cases: [() => unknown, new (...args: never[]) => Error, RegExp][] = [
      [() => film.forward(x), ContextError, /FiLM\.forward: expected a condition vector \[N, 5\] in the context: forward\(x, \{ condition \}\), got no condition/],
      [() => film.forward(x, { labels: [0, 1, 2, 3] }), ContextError, /no condition \(labels were given/],
      [() => film.forward(x, { condition: randn([N, D + 1], f64) }), ShapeError, /a condition of shape \[4, 5\] \(the input's batch size, conditionDim = 5\), got shape \[4, 6\]/],
      [() => film.forward(x, { condition: randn([N - 1, D], f64) }), ShapeError, /got shape \[3, 5\]/],
      [() => film.forward(x, { condition: randn([N, D, 1], f64) }), ShapeError, /got shape \[4, 5, 1\]/],
      [() => film.forward(x, { condition: randn([N, D]) }), DTypeError, /a float64 condition/],
      [() => film.forward(randn([N], f64), { condition }), ShapeError, /an input \[N, 3, \*\], got shape \[4\] \(rank 1\)/],
      [() => film.forward(randn([N, C + 1, 3], f64), { condition }), ShapeError, /3 channels on axis 1 \(numFeatures = 3\)/],
      [() => film.forward(x, { condition, mask: zeros([N, 3], f64) }), ContextError, /no mask/],
    ];
    for (const [call, errorClass, message] of cases) {
      expect(call).toThrow(errorClass);
      expect(call).toThrow(message);
      expect(snapshotBuffers(film)).toEqual(before);
    }
    const instance = new FiLM({ numFeatures: C, conditionDim: D, norm: 'instance', dtype: 'float64' });
    expect(() => instance.forward(randn([N, C], f64), { condition })).toThrow(/at least one spatial dim \(norm 'instance'\)/);
  });

  it('refuses bad options with OptionError', () => {
    expect(() => new FiLM({ numFeatures: C, conditionDim: 0 })).toThrow(/FiLM: expected conditionDim to be an integer >= 1/);
    expect(() => new FiLM({ numFeatures: C, conditionDim: D, hidden: 0 })).toThrow(/hidden/);
    expect(() => new FiLM({ numFeatures: C, conditionDim: D, norm: 'group' as 'batch' })).toThrow(/norm to be one of 'none', 'batch', 'instance', 'layer'/);
    expect(() => new FiLM({ numFeatures: C, conditionDim: D, momentum: 1.5 })).toThrow(OptionError);
    expect(() => new FiLM({ numFeatures: C, conditionDim: D, dtype: 'int32' as 'float32' })).toThrow(/dtype 'float32' or 'float64'/);
  });

  for (const [norm, hidden] of [['none', null], ['batch', 16]] as const) {
    it(`norm '${norm}'${hidden ? ', MLP generator' : ''}: learns a class-conditional regression to a loss far below the best loss reachable without the condition`, () => {
      // Each input x_i appears once with each class k (condition: its one-hot vector); the target is
      // a_k * x + b_k per channel. A model ignoring the condition gives the K copies of x_i one
      // output, so its best loss is the within-group variance of the targets.
      const generator = new Generator(5);
      const [inputs, classes, length] = [8, 4, 5];
      const samples = inputs * classes;
      const x = randn([samples, C, length], { ...f64, generator });
      const perSample = C * length;
      for (let i = 0; i < inputs; i++) for (let k = 1; k < classes; k++) x.data.copyWithin((i * classes + k) * perSample, i * classes * perSample, (i * classes + 1) * perSample);
      const condition = zeros([samples, classes], f64);
      for (let s = 0; s < samples; s++) condition.data[s * classes + (s % classes)] = 1;
      const a = randn([classes, C], { ...f64, generator, std: 1.5 });
      const b = randn([classes, C], { ...f64, generator });
      const targets = x.clone();
      for (let s = 0; s < samples; s++) {
        const k = s % classes;
        for (let c = 0; c < C; c++) {
          for (let l = 0; l < length; l++) targets.data[(s * C + c) * length + l] = a.data[k * C + c]! * x.data[(s * C + c) * length + l]! + b.data[k * C + c]!;
        }
      }
      const bound = bestLossWithoutCondition(targets, Array.from({ length: samples }, (_, s) => Math.floor(s / classes)));
      const film = new FiLM({ numFeatures: C, conditionDim: classes, hidden, norm, dtype: 'float64', generator: new Generator(6) });
      const loss = fitConditional(film, x, { condition }, targets, 300, 0.03);
      expect(bound).toBeGreaterThan(0.5);
      expect(loss).toBeLessThan(0.02 * bound);
    });
  }
});
