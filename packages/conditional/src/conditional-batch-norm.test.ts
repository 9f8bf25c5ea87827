import { describe, expect, it } from 'vitest';
import { BatchNorm } from '@normkit/batch';
import { expectClose, expectGradcheck } from '@normkit/testkit';
import {
  ContextError, DTypeError, Generator, OptionError, ShapeError, ValueError, add, div, gradcheck, graphOps, indexSelect, mul, randn,
  reshape, sqrt, sub, tensor, type Tensor,
} from '@normkit/tensor';
import { ConditionalBatchNorm } from './conditional-batch-norm';
import { batchNormReference, bestLossWithoutCondition, expectSameFunction, fitConditional, snapshotBuffers } from './test-references';

const f64 = { dtype: 'float64' as const };
const [N, C, L, K] = [6, 3, 4, 5];
const labels = [0, 3, 1, 3, 4, 2];

/** A float64 CBN whose gamma and beta rows are random (not their initial 1 and 0). */
function randomCBN(seed: number, options: { numClasses?: number; momentum?: number | null } = {}): ConditionalBatchNorm {
  const cbn = new ConditionalBatchNorm({ numFeatures: C, numClasses: options.numClasses ?? K, momentum: options.momentum, dtype: 'float64' });
  const generator = new Generator(seed);
  cbn.gamma.weight.data.set(randn(cbn.gamma.weight.shape, { ...f64, generator, mean: 1 }).data);
  cbn.beta.weight.data.set(randn(cbn.beta.weight.shape, { ...f64, generator }).data);
  return cbn;
}

/** gamma[label] * BN_noaffine(x) + beta[label], composed from primitive ops. */
function composedCBN(x: Tensor, gammaTable: Tensor, betaTable: Tensor, ids: readonly number[], eps: number): Tensor {
  const rows = (table: Tensor) => reshape(indexSelect(table, 0, ids), [ids.length, C, ...new Array<number>(x.ndim - 2).fill(1)]);
  return add(mul(batchNormReference(x, eps), rows(gammaTable)), rows(betaTable));
}

describe('ConditionalBatchNorm', () => {
  it('is gamma[label] * BatchNorm_noaffine(x) + beta[label]: forward and every gradient against a float64 reference, and gradcheck', () => {
    const cbn = randomCBN(1);
    const x = randn([N, C, L], { ...f64, mean: 2, std: 3, requiresGrad: true, generator: new Generator(2) });
    expectSameFunction(
      (xx) => cbn.forward(xx, { labels }),
      (xx, g, b) => composedCBN(xx, g, b, labels, 1e-5),
      [x, cbn.gamma.weight, cbn.beta.weight],
    );
    // The gradient reaches the embedding tables, only in the rows of classes present in the batch.
    cbn.zeroGrad();
    cbn.forward(x, { labels }).backward(randn([N, C, L], f64));
    for (const row of [0, 1, 2, 3, 4]) {
      const grad = Array.from(cbn.gamma.weight.grad!.data.slice(row * C, (row + 1) * C));
      expect(grad.some((v) => v !== 0)).toBe(labels.includes(row));
    }
    expectGradcheck(gradcheck((xx) => cbn.forward(xx, { labels: tensor(labels, f64) }), [x, cbn.gamma.weight, cbn.beta.weight]));
    cbn.eval();
    expectGradcheck(gradcheck((xx) => cbn.forward(xx, { labels }), [x, cbn.gamma.weight, cbn.beta.weight]));
  });

  it('shares BatchNorm running statistics across classes, and eval normalises with them', () => {
    const cbn = randomCBN(3);
    const x = randn([N, C, L], { ...f64, mean: 1, generator: new Generator(4) });
    cbn.forward(x, { labels });
    // running = 0.9 * initial + 0.1 * batch statistic (unbiased variance), whatever the labels.
    const count = N * L;
    const batchMean = Array.from({ length: C }, (_, c) => {
      let s = 0;
      for (let n = 0; n < N; n++) for (let l = 0; l < L; l++) s += x.data[(n * C + c) * L + l]!;
      return s / count;
    });
    const unbiasedVar = batchMean.map((m, c) => {
      let s = 0;
      for (let n = 0; n < N; n++) for (let l = 0; l < L; l++) s += (x.data[(n * C + c) * L + l]! - m) ** 2;
      return s / (count - 1);
    });
    expectClose(cbn.bn.runningMean!, batchMean.map((m) => 0.1 * m), 1e-12, 1e-12);
    expectClose(cbn.bn.runningVar!, unbiasedVar.map((v) => 0.9 + 0.1 * v), 1e-12, 1e-12);
    expect(cbn.bn.numBatchesTracked!.item()).toBe(1);

    cbn.eval();
    const xEval = randn([2, C, L], { ...f64, requiresGrad: true, generator: new Generator(5) });
    const evalLabels = [4, 0];
    const shape = [1, C, 1];
    const evalReference = (xx: Tensor, g: Tensor, b: Tensor) => {
      const normalized = div(sub(xx, reshape(cbn.bn.runningMean!, shape)), sqrt(add(reshape(cbn.bn.runningVar!, shape), 1e-5)));
      return add(mul(normalized, reshape(indexSelect(g, 0, evalLabels), [2, C, 1])), reshape(indexSelect(b, 0, evalLabels), [2, C, 1]));
    };
    expectSameFunction((xx) => cbn.forward(xx, { labels: evalLabels }), evalReference, [xEval, cbn.gamma.weight, cbn.beta.weight]);
    expect(cbn.bn.numBatchesTracked!.item()).toBe(1);
  });

  it('with one class equals BatchNorm with affine (weights copied): outputs, gradients and running statistics, train and eval', () => {
    const generator = new Generator(6);
    const bn = new BatchNorm({ numFeatures: C, dtype: 'float64' });
    bn.weight!.data.set(randn([C], { ...f64, generator, mean: 1 }).data);
    bn.bias!.data.set(randn([C], { ...f64, generator }).data);
    const cbn = new ConditionalBatchNorm({ numFeatures: C, numClasses: 1, dtype: 'float64' });
    cbn.gamma.weight.data.set(bn.weight!.data);
    cbn.beta.weight.data.set(bn.bias!.data);
    const zeros = new Array<number>(N).fill(0);
    for (const mode of ['train', 'train', 'eval'] as const) {
      bn.train(mode === 'train');
      cbn.train(mode === 'train');
      bn.zeroGrad();
      cbn.zeroGrad();
      const x = randn([N, C, 2, 3], { ...f64, mean: 0.5, std: 2, requiresGrad: true, generator });
      const xCopy = x.clone().requireGrad();
      const expected = bn.forward(x);
      const actual = cbn.forward(xCopy, { labels: zeros });
      expectClose(actual, expected, 1e-12, 1e-12);
      const g = randn([N, C, 2, 3], { ...f64, generator });
      expected.backward(g);
      actual.backward(g);
      expectClose(xCopy.grad!, x.grad!, 1e-12, 1e-12);
      expectClose(cbn.gamma.weight.grad!, bn.weight!.grad!, 1e-12, 1e-12);
      expectClose(cbn.beta.weight.grad!, bn.bias!.grad!, 1e-12, 1e-12);
      expect(Array.from(cbn.bn.runningMean!.data)).toEqual(Array.from(bn.runningMean!.data));
      expect(Array.from(cbn.bn.runningVar!.data)).toEqual(Array.from(bn.runningVar!.data));
    }
  });

  it('starts as plain BatchNorm for every class (gamma 1, beta 0); different labels give different outputs once the rows differ', () => {
    const fresh = new ConditionalBatchNorm({ numFeatures: C, numClasses: K, dtype: 'float64' });
    expect(Array.from(fresh.gamma.weight.data).every((v) => v === 1)).toBe(true);
    expect(Array.from(fresh.beta.weight.data).every((v) => v === 0)).toBe(true);
    const x = randn([N, C, L], { ...f64, generator: new Generator(7) });
    const other = [1, 3, 1, 0, 4, 2]; // samples 0 and 3 change class
    expect(Array.from(fresh.forward(x, { labels }).data)).toEqual(Array.from(fresh.forward(x, { labels: other }).data));

    const cbn = randomCBN(8);
    const a = cbn.forward(x, { labels });
    const b = cbn.forward(x, { labels: other });
    for (let n = 0; n < N; n++) {
      const rowA = Array.from(a.data.slice(n * C * L, (n + 1) * C * L));
      const rowB = Array.from(b.data.slice(n * C * L, (n + 1) * C * L));
      // The statistics are the batch's, not the labels': samples whose class is unchanged are bit-identical.
      if (labels[n] === other[n]) expect(rowB).toEqual(rowA);
      else expect(rowB.some((v, i) => Math.abs(v - rowA[i]!) > 1e-3)).toBe(true);
    }
  });

  it('normalises with ONE batchNorm node and modulates with ONE modulate node', () => {
    const cbn = new ConditionalBatchNorm({ numFeatures: C, numClasses: K });
    const ops = graphOps(cbn.forward(randn([N, C, L], { requiresGrad: true }), { labels }));
    expect(ops.filter((op) => op === 'batchNorm')).toHaveLength(1);
    expect(ops.filter((op) => op === 'conditionalBatchNormModulate')).toHaveLength(1);
    expect(ops.filter((op) => !['batchNorm', 'conditionalBatchNormModulate', 'embedding', 'reshape'].includes(op))).toEqual([]);
  });

  it('passes a padding mask to BatchNorm: padded positions stay out of the statistics and output beta[label]', () => {
    const cbn = randomCBN(9);
    const x = randn([2, C, 4], { ...f64, generator: new Generator(10) });
    const mask = tensor([[1, 1, 1, 0], [1, 1, 0, 0]], f64);
    const y = cbn.forward(x, { labels: [2, 4], mask });
    const real = new BatchNorm({ numFeatures: C, affine: false, dtype: 'float64' });
    const expected = real.forward(x, { mask });
    for (const [n, label] of [[0, 2], [1, 4]] as const) {
      for (let c = 0; c < C; c++) {
        for (let l = 0; l < 4; l++) {
          const i = (n * C + c) * 4 + l;
          const gamma = cbn.gamma.weight.data[label * C + c]!;
          const beta = cbn.beta.weight.data[label * C + c]!;
          expect(y.data[i]).toBeCloseTo(gamma * expected.data[i]! + beta, 12);
        }
      }
    }
    expect(Array.from(cbn.bn.runningMean!.data)).toEqual(Array.from(real.runningMean!.data));
  });

  it('refuses bad labels and inputs with typed errors naming what is wrong, leaving the running statistics unchanged', () => {
    const cbn = randomCBN(11, { momentum: null });
    const x = randn([N, C, L]).to('float64');
    cbn.forward(x, { labels }); // move the running statistics away from their initial values
    const before = snapshotBuffers(cbn);
    const cases: [() => unknown, new (...args: never[]) => Error, RegExp][] = [
      [() => cbn.forward(x), ContextError, /ConditionalBatchNorm\.forward: expected labels: 6 integer class id\(s\) in \[0, 4\].*forward\(x, \{ labels \}\), got no labels/],
      [() => cbn.forward(x, { condition: randn([N, 2], f64) }), ContextError, /labels/],
      [() => cbn.forward(x, { labels: [0, 1, 2, 3, 4, 5] }), ValueError, /class ids in \[0, 4\] \(numClasses = 5\), got 5 at position 5/],
      [() => cbn.forward(x, { labels: [0, 1, 2, 3, 4, -1] }), ValueError, /got -1 at position 5/],
      [() => cbn.forward(x, { labels: [0, 1.5, 2, 3, 4, 0] }), ValueError, /integer class ids.*got 1\.5 at position 1/],
      [() => cbn.forward(x, { labels: tensor([0, 1, 2, 3, 4, 0.25], f64) }), ValueError, /got 0\.25 at position 5/],
      [() => cbn.forward(x, { labels: [0, 1, 2] }), ShapeError, /expected 6 labels \(the input's batch size\), got 3 labels/],
      [() => cbn.forward(x, { labels: tensor([[0, 1, 2], [3, 4, 0]], f64) }), ShapeError, /labels of shape \[6\].*got labels of shape \[2, 3\]/],
      [() => cbn.forward(randn([N * C]).to('float64'), { labels }), ShapeError, /rank 2 or more|\[N, 3, \*\]/],
      [() => cbn.forward(randn([N, C + 1, L]).to('float64'), { labels }), ShapeError, /3 channels on axis 1 \(numFeatures = 3\), \[N, 3, \*\], got shape \[6, 4, 4\] with 4 channels/],
      [() => cbn.forward(randn([N, C, L]), { labels }), DTypeError, /a float64 input/],
      [() => cbn.forward(randn([1, C]).to('float64'), { labels: [0] }), ValueError, /more than 1 value per channel/],
      [() => cbn.forward(x, { labels, mask: tensor([[1, 0]], f64) }), ShapeError, /mask/],
    ];
    for (const [call, errorClass, message] of cases) {
      expect(call).toThrow(errorClass);
      expect(call).toThrow(message);
      expect(snapshotBuffers(cbn)).toEqual(before);
    }
  });

  it('refuses bad options with OptionError', () => {
    expect(() => new ConditionalBatchNorm({ numFeatures: C, numClasses: 0 })).toThrow(/ConditionalBatchNorm: expected numClasses to be an integer >= 1/);
    expect(() => new ConditionalBatchNorm({ numFeatures: C, numClasses: 2.5 })).toThrow(OptionError);
    expect(() => new ConditionalBatchNorm({ numFeatures: 0, numClasses: 2 })).toThrow(/ConditionalBatchNorm: expected numFeatures/);
    expect(() => new ConditionalBatchNorm({ numFeatures: C, numClasses: 2, eps: 0 })).toThrow(OptionError);
    expect(() => new ConditionalBatchNorm({ numFeatures: C, numClasses: 2, momentum: 2 })).toThrow(OptionError);
    expect(Object.keys(new ConditionalBatchNorm({ numFeatures: C, numClasses: 2 }).stateDict())).toEqual([
      'bn.running_mean', 'bn.running_var', 'bn.num_batches_tracked', 'gamma.weight', 'beta.weight',
    ]);
  });

  it('learns a class-conditional regression to a loss far below the best loss reachable without the labels', () => {
    // Every input x_i appears once with each class k; the target is t = a_k * x + b_k per channel.
    // A model ignoring the label must give the K copies of x_i one output: its best loss is the
    // within-group variance of the targets. CBN can represent t exactly (gamma_k = a_k * std, beta_k = b_k + a_k * mean).
    const generator = new Generator(12);
    const inputs = 8;
    const x = randn([inputs * K, C, L], { ...f64, generator });
    const a = randn([K, C], { ...f64, generator, std: 1.5 });
    const b = randn([K, C], { ...f64, generator });
    for (let i = 0; i < inputs; i++) for (let k = 1; k < K; k++) x.data.copyWithin((i * K + k) * C * L, i * K * C * L, (i * K + 1) * C * L);
    const ids = Array.from({ length: inputs * K }, (_, s) => s % K);
    const groupOf = ids.map((_, s) => Math.floor(s / K));
    const targets = x.clone();
    for (let s = 0; s < inputs * K; s++) {
      for (let c = 0; c < C; c++) {
        for (let l = 0; l < L; l++) targets.data[(s * C + c) * L + l] = a.data[ids[s]! * C + c]! * x.data[(s * C + c) * L + l]! + b.data[ids[s]! * C + c]!;
      }
    }
    const bound = bestLossWithoutCondition(targets, groupOf);
    const cbn = new ConditionalBatchNorm({ numFeatures: C, numClasses: K, dtype: 'float64' });
    const loss = fitConditional(cbn, x, { labels: ids }, targets, 300, 0.05);
    expect(bound).toBeGreaterThan(0.5);
    expect(loss).toBeLessThan(0.02 * bound);
  });
});
