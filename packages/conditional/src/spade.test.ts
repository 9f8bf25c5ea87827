import { describe, expect, it } from 'vitest';
import { SyncBatchNorm, convertSyncBatchNorm } from '@normkit/batch';
import { expectClose, expectGradcheck } from '@normkit/testkit';
import {
  ContextError, DTypeError, Generator, InProcessGroup, OptionError, ShapeError, ValueError, add, concat, conv2d, div, gradcheck, graphOps, indexSelect, interpolate, mul, randn,
  relu, reshape, sqrt, sub, tensor, zeros, type Conv2d, type Linear, type Tensor,
} from '@normkit/tensor';
import { FiLM } from './film';
import { SPADE } from './spade';
import {
  batchNormReference, bestLossWithoutCondition, expectSameFunction, fitConditional, instanceNormReference, snapshotBuffers,
} from './test-references';

const f64 = { dtype: 'float64' as const };
const [N, C, LABELS, HIDDEN] = [2, 3, 4, 5];

function convs(spade: SPADE): [Conv2d, Conv2d, Conv2d] {
  return [spade.mlpShared.at(0) as Conv2d, spade.mlpGamma, spade.mlpBeta];
}

function parameters(spade: SPADE): Tensor[] {
  return convs(spade).flatMap((conv) => [conv.weight, conv.bias!]);
}

/** norm(x) * (1 + gamma(m)) + beta(m), every step composed from the core's ops. */
function composedSPADE(normalized: Tensor, map: Tensor, kernelSize: number, w0: Tensor, b0: Tensor, wg: Tensor, bg: Tensor, wb: Tensor, bb: Tensor): Tensor {
  const padding = (kernelSize - 1) / 2;
  const resized = interpolate(map, { size: [normalized.shape[2]!, normalized.shape[3]!] }, 'nearest');
  const hidden = relu(conv2d(resized, w0, b0, { padding }));
  const gamma = conv2d(hidden, wg, bg, { padding });
  const beta = conv2d(hidden, wb, bb, { padding });
  return add(mul(normalized, add(gamma, 1)), beta);
}

describe('SPADE', () => {
  for (const paramFreeNorm of ['batch', 'instance'] as const) {
    it(`${paramFreeNorm}: norm(x) * (1 + gamma(m)) + beta(m) with a resized map: forward and every gradient vs a float64 reference, and gradcheck`, () => {
      const generator = new Generator(1);
      const spade = new SPADE({ normChannels: C, labelChannels: LABELS, hiddenChannels: HIDDEN, paramFreeNorm, dtype: 'float64', generator });
      const x = randn([N, C, 5, 4], { ...f64, mean: 1, std: 2, requiresGrad: true, generator });
      const map = randn([N, LABELS, 3, 2], { ...f64, requiresGrad: true, generator }); // resized (nearest) to 5 x 4
      const norm = paramFreeNorm === 'batch' ? batchNormReference : instanceNormReference;
      expectSameFunction(
        (xx, mm) => spade.forward(xx, { condition: mm }),
        (xx, mm, ...weights) => composedSPADE(norm(xx, 1e-5), mm, 3, ...(weights as [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor])),
        [x, map, ...parameters(spade)],
      );
      // Gradients reach every conv of the conditioning network, and the map itself.
      const small = randn([N, C, 3, 3], { ...f64, requiresGrad: true, generator });
      const smallMap = randn([N, LABELS, 2, 2], { ...f64, requiresGrad: true, generator });
      expectGradcheck(gradcheck((xx, mm) => spade.forward(xx, { condition: mm }), [small, smallMap, ...parameters(spade)]));
      spade.eval();
      expectGradcheck(gradcheck((xx, mm) => spade.forward(xx, { condition: mm }), [small, smallMap, ...parameters(spade)]));
    });
  }

  it('batch: the running statistics move in training and normalise in eval', () => {
    const generator = new Generator(2);
    const spade = new SPADE({ normChannels: C, labelChannels: LABELS, hiddenChannels: HIDDEN, dtype: 'float64', generator });
    for (let step = 0; step < 3; step++) spade.forward(randn([N, C, 4, 4], { ...f64, mean: 2, generator }), { condition: randn([N, LABELS, 4, 4], { ...f64, generator }) });
    const bn = spade.normalizer;
    expect(Array.from(bn.runningMean!.data).every((v) => v > 0.3)).toBe(true); // moved towards the input mean 2
    const before = snapshotBuffers(spade);
    spade.eval();
    const x = randn([N, C, 4, 4], { ...f64, requiresGrad: true, generator });
    const map = randn([N, LABELS, 4, 4], { ...f64, requiresGrad: true, generator });
    const shape = [1, C, 1, 1];
    const runningNorm = (xx: Tensor) => div(sub(xx, reshape(bn.runningMean!, shape)), sqrt(add(reshape(bn.runningVar!, shape), 1e-5)));
    expectSameFunction(
      (xx, mm) => spade.forward(xx, { condition: mm }),
      (xx, mm, ...weights) => composedSPADE(runningNorm(xx), mm, 3, ...(weights as [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor])),
      [x, map, ...parameters(spade)],
    );
    expect(snapshotBuffers(spade)).toEqual(before);
  });

  for (const paramFreeNorm of ['batch', 'instance'] as const) {
    it(`${paramFreeNorm}: with kernelSize 1 and a map constant over space, equals FiLM with the same MLP (gamma = 1 + SPADE's gamma)`, () => {
      const generator = new Generator(3);
      const spade = new SPADE({ normChannels: C, labelChannels: LABELS, hiddenChannels: HIDDEN, kernelSize: 1, paramFreeNorm, dtype: 'float64', generator });
      const film = new FiLM({ numFeatures: C, conditionDim: LABELS, hidden: HIDDEN, norm: paramFreeNorm, dtype: 'float64' });
      const [shared, gamma, beta] = convs(spade);
      const [first, , last] = [...film.filmGenerator] as [Linear, unknown, Linear];
      first.weight.data.set(shared.weight.data); // [HIDDEN, LABELS, 1, 1] -> [HIDDEN, LABELS]
      first.bias!.data.set(shared.bias!.data);
      last.weight.data.set(concat([reshape(gamma.weight, [C, HIDDEN]), reshape(beta.weight, [C, HIDDEN])], 0).data);
      last.bias!.data.set(concat([add(gamma.bias!, 1), beta.bias!], 0).data);
      for (const mode of ['train', 'train', 'eval'] as const) {
        spade.train(mode === 'train');
        film.train(mode === 'train');
        // One condition vector per sample, repeated over a 3 x 3 map (resized to x's 4 x 5).
        const vector = randn([N, LABELS], { ...f64, requiresGrad: true, generator });
        const map = mul(reshape(vector, [N, LABELS, 1, 1]), tensor(new Array(9).fill(1), { ...f64, shape: [1, 1, 3, 3] }));
        const x = randn([N, C, 4, 5], { ...f64, mean: -1, requiresGrad: true, generator });
        const xCopy = x.clone().requireGrad();
        const vectorCopy = vector.clone().requireGrad();
        const fromSpade = spade.forward(x, { condition: map });
        const fromFilm = film.forward(xCopy, { condition: vectorCopy });
        expectClose(fromSpade, fromFilm, 1e-12, 1e-12);
        const g = randn([N, C, 4, 5], { ...f64, generator });
        fromSpade.backward(g);
        fromFilm.backward(g);
        expectClose(x.grad!, xCopy.grad!, 1e-12, 1e-12);
        expectClose(vector.grad!, vectorCopy.grad!, 1e-11, 1e-11);
        if (paramFreeNorm === 'batch') expect(snapshotBuffers(spade)).toEqual(snapshotBuffers(film));
      }
    });
  }

  it("GauGAN's syncbatch: convertSyncBatchNorm swaps the parameter-free BatchNorm, and two replicas equal SPADE on the whole batch", () => {
    const build = () => new SPADE({ normChannels: C, labelChannels: LABELS, hiddenChannels: HIDDEN, dtype: 'float64', generator: new Generator(9) });
    const x = randn([4, C, 3, 3], { ...f64, generator: new Generator(10) });
    const map = randn([4, LABELS, 2, 2], { ...f64, generator: new Generator(11) });
    const whole = build();
    const expected = whole.forward(x, { condition: map });
    const shards = InProcessGroup.run(2, (group) => {
      const spade = convertSyncBatchNorm(build(), group);
      expect(spade.normalizer).toBeInstanceOf(SyncBatchNorm);
      expect(spade.getModule('param_free_norm')).toBe(spade.normalizer);
      const rows = [2 * group.rank, 2 * group.rank + 1];
      const y = spade.forward(indexSelect(x, 0, rows), { condition: indexSelect(map, 0, rows) });
      return { y: Array.from(y.data), runningMean: Array.from(spade.normalizer.runningMean!.data) };
    });
    expectClose([...shards[0]!.y, ...shards[1]!.y], expected, 1e-12, 1e-12);
    for (const shard of shards) expectClose(shard.runningMean, whole.normalizer.runningMean!, 1e-12, 1e-12);
  });

  it('different segmentation maps give different outputs for the same x', () => {
    const generator = new Generator(4);
    const spade = new SPADE({ normChannels: C, labelChannels: LABELS, hiddenChannels: HIDDEN, dtype: 'float64', generator }).eval();
    const x = randn([N, C, 4, 4], { ...f64, generator });
    const map = randn([N, LABELS, 4, 4], { ...f64, generator });
    const other = map.clone();
    other.data[0] = other.data[0]! + 1; // one label value of sample 0 at pixel (0, 0)
    const a = spade.forward(x, { condition: map });
    const b = spade.forward(x, { condition: other });
    const differ = (from: number, to: number) => Array.from(a.data.slice(from, to)).some((v, i) => Math.abs(v - b.data[from + i]!) > 1e-6);
    expect(differ(0, C * 16)).toBe(true);
    expect(differ(C * 16, 2 * C * 16)).toBe(false); // sample 1's map did not change
    // Only pixels within the 3 x 3 receptive fields of the two convs (a 5 x 5 window) can change.
    for (let c = 0; c < C; c++) expect(differ(c * 16 + 3 * 4 + 3, c * 16 + 3 * 4 + 4)).toBe(false);
  });

  it('normalises with ONE batchNorm / instanceNorm node and modulates with ONE spadeModulate node; GauGAN state-dict names', () => {
    for (const [paramFreeNorm, kernel] of [['batch', 'batchNorm'], ['instance', 'instanceNorm']] as const) {
      const spade = new SPADE({ normChannels: C, labelChannels: LABELS, hiddenChannels: HIDDEN, paramFreeNorm });
      const ops = graphOps(spade.forward(randn([N, C, 4, 4], { requiresGrad: true }), { condition: randn([N, LABELS, 2, 2]) }));
      expect(ops.filter((op) => op === kernel)).toHaveLength(1);
      expect(ops.filter((op) => op === 'spadeModulate')).toHaveLength(1);
      expect(ops.filter((op) => ![kernel, 'spadeModulate', 'conv2d', 'relu', 'interpolate'].includes(op))).toEqual([]);
    }
    const spade = new SPADE({ normChannels: C, labelChannels: LABELS });
    expect(Object.fromEntries(Object.entries(spade.stateDict()).map(([k, t]) => [k, t.shape]))).toEqual({
      'param_free_norm.running_mean': [C],
      'param_free_norm.running_var': [C],
      'param_free_norm.num_batches_tracked': [],
      'mlp_shared.0.weight': [128, LABELS, 3, 3],
      'mlp_shared.0.bias': [128],
      'mlp_gamma.weight': [C, 128, 3, 3],
      'mlp_gamma.bias': [C],
      'mlp_beta.weight': [C, 128, 3, 3],
      'mlp_beta.bias': [C],
    });
    expect(Object.keys(new SPADE({ normChannels: C, labelChannels: LABELS, paramFreeNorm: 'instance' }).stateDict())).not.toContain('param_free_norm.running_mean');
  });

  it('refuses a missing or malformed segmentation map with typed errors, leaving the running statistics unchanged', () => {
    const generator = new Generator(5);
    const spade = new SPADE({ normChannels: C, labelChannels: LABELS, hiddenChannels: HIDDEN, dtype: 'float64', generator });
    const x = randn([N, C, 4, 4], { ...f64, generator });
    spade.forward(x, { condition: randn([N, LABELS, 4, 4], { ...f64, generator }) });
    const before = snapshotBuffers(spade);
    const map = randn([N, LABELS, 2, 2], { ...f64, generator });
    const cases: [() => unknown, new (...args: never[]) => Error, RegExp][] = [
      [() => spade.forward(x), ContextError, /SPADE\.forward: expected a segmentation map \[N, 4, H', W'\] as the condition in the context: forward\(x, \{ condition \}\), got no condition/],
      [() => spade.forward(x, { labels: [0, 1] }), ContextError, /labels were given: this module needs a condition tensor/],
      [() => spade.forward(x, { condition: randn([N, LABELS, 4], f64) }), ShapeError, /a rank-4 tensor, got shape \[2, 4, 4\] \(rank 3\)/],
      [() => spade.forward(x, { condition: randn([N + 1, LABELS, 2, 2], f64) }), ShapeError, /a segmentation map \[2, 4, H', W'\] \(the input's batch size, labelChannels = 4\), got shape \[3, 4, 2, 2\]/],
      [() => spade.forward(x, { condition: randn([N, LABELS + 1, 2, 2], f64) }), ShapeError, /labelChannels = 4\), got shape \[2, 5, 2, 2\]/],
      [() => spade.forward(x, { condition: randn([N, LABELS, 2, 2]) }), DTypeError, /a float64 segmentation map/],
      [() => spade.forward(randn([N, C, 16], f64), { condition: map }), ShapeError, /an input \[N, 3, H, W\], got shape \[2, 3, 16\] \(rank 3\)/],
      [() => spade.forward(randn([N, C + 1, 4, 4], f64), { condition: map }), ShapeError, /normChannels = 3/],
      [() => spade.forward(randn([N, C, 4, 4]), { condition: map }), DTypeError, /a float64 input/],
      [() => spade.forward(x, { condition: map, mask: zeros([N, 4, 4], f64) }), ContextError, /no mask/],
      [() => spade.forward(randn([1, C, 1, 1], f64), { condition: randn([1, LABELS, 1, 1], f64) }), ValueError, /more than 1 value per channel/],
    ];
    for (const [call, errorClass, message] of cases) {
      expect(call).toThrow(errorClass);
      expect(call).toThrow(message);
      expect(snapshotBuffers(spade)).toEqual(before);
    }
  });

  it('refuses bad options with OptionError', () => {
    expect(() => new SPADE({ normChannels: C, labelChannels: LABELS, kernelSize: 2 })).toThrow(/SPADE: expected an odd kernelSize/);
    expect(() => new SPADE({ normChannels: C, labelChannels: 0 })).toThrow(OptionError);
    expect(() => new SPADE({ normChannels: C, labelChannels: LABELS, hiddenChannels: 0 })).toThrow(/hiddenChannels/);
    expect(() => new SPADE({ normChannels: C, labelChannels: LABELS, paramFreeNorm: 'group' as 'batch' })).toThrow(/paramFreeNorm to be one of 'batch', 'instance'/);
    expect(() => new SPADE({ normChannels: C, labelChannels: LABELS, eps: -1 })).toThrow(OptionError);
  });

  it('learns a segmentation-conditional regression to a loss far below the best loss reachable without the map', () => {
    // Each input x_i appears with J random label maps (2 x 2, resized to 4 x 4); the target at a
    // pixel of class k is a_k * x + b_k. A model ignoring the map gives the J copies of x_i one
    // output, so its best loss is the within-group variance of the targets.
    const generator = new Generator(6);
    const [inputs, maps, classes, channels, size] = [4, 3, 3, 2, 4];
    const samples = inputs * maps;
    const x = randn([samples, channels, size, size], { ...f64, generator });
    const perSample = channels * size * size;
    for (let i = 0; i < inputs; i++) for (let j = 1; j < maps; j++) x.data.copyWithin((i * maps + j) * perSample, i * maps * perSample, (i * maps + 1) * perSample);
    const classOf = Array.from({ length: samples * 4 }, () => generator.integer(classes)); // [sample, 2, 2]
    const map = zeros([samples, classes, 2, 2], f64);
    for (let s = 0; s < samples; s++) for (let p = 0; p < 4; p++) map.data[(s * classes + classOf[s * 4 + p]!) * 4 + p] = 1;
    const a = randn([classes, channels], { ...f64, generator, std: 1.5 });
    const b = randn([classes, channels], { ...f64, generator });
    const targets = x.clone();
    for (let s = 0; s < samples; s++) {
      for (let c = 0; c < channels; c++) {
        for (let h = 0; h < size; h++) {
          for (let w = 0; w < size; w++) {
            const k = classOf[s * 4 + (h >> 1) * 2 + (w >> 1)]!;
            const i = ((s * channels + c) * size + h) * size + w;
            targets.data[i] = a.data[k * channels + c]! * x.data[i]! + b.data[k * channels + c]!;
          }
        }
      }
    }
    const bound = bestLossWithoutCondition(targets, Array.from({ length: samples }, (_, s) => Math.floor(s / maps)));
    const spade = new SPADE({ normChannels: channels, labelChannels: classes, hiddenChannels: 16, dtype: 'float64', generator: new Generator(7) });
    const loss = fitConditional(spade, x, { condition: map }, targets, 300, 0.02);
    expect(bound).toBeGreaterThan(0.5);
    expect(loss).toBeLessThan(0.05 * bound);
  });
});
