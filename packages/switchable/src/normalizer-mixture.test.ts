import { BatchNorm, batchPlugins } from '@normkit/batch';
import { GroupNorm, InstanceNorm, groupPlugins } from '@normkit/group';
import { layerPlugins } from '@normkit/layer';
import {
  Adam, ContextError, DTypeError, Generator, Module, OptionError, RegistryError, SPECIFICATION_VERSION, ShapeError, add, createByName,
  defineNormalizer, gradcheck, graphOps, has, mean, mse, mul, noGrad, randn, register, slice, softmax, sub, tensor, unregister,
  type Normalizer, type Tensor,
} from '@normkit/tensor';
import { expectClose, expectGradcheck } from '@normkit/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NormalizerMixture, mixOutputs, type CandidateSpec } from './normalizer-mixture';

const families = [...batchPlugins, ...groupPlugins, ...layerPlugins];

beforeAll(() => {
  for (const plugin of families) if (!has(plugin.name)) register(plugin);
});
afterAll(() => {
  for (const plugin of families) unregister(plugin.name);
});

/** A third-party normalizer, never registered: per-(sample, channel) centring composed from ops. */
class Centre extends Module implements Normalizer {
  forward(x: Tensor): Tensor {
    return sub(x, mean(x, [2], { keepdim: true }));
  }
}
const centrePlugin = defineNormalizer({
  specificationVersion: SPECIFICATION_VERSION,
  kind: 'normalizer',
  name: 'centre',
  family: 'third-party',
  description: 'Subtracts the per-(sample, channel) mean.',
  options: {},
  traits: () => ({ batchDependent: false, needsCondition: false, needsLabels: false, acceptsMask: false, hasRunningStats: false, layout: 'channels-first' }),
  create: () => new Centre(),
});

/** A third-party normalizer whose forward always fails (after the ones before it have run). */
const failingPlugin = defineNormalizer({
  ...centrePlugin,
  name: 'failing',
  create: () =>
    new (class extends Module implements Normalizer {
      forward(): Tensor {
        throw new Error('broken plugin');
      }
    })(),
});

const bnInGn: CandidateSpec[] = ['batch-norm', { candidate: 'instance-norm', options: { affine: true } }, { candidate: 'group-norm', options: { numGroups: 1 } }];

/** Fresh candidates with the same state as the mixture's, built independently by name. */
function cloneCandidates(mixture: NormalizerMixture): Normalizer[] {
  const options = [{}, { affine: true }, { numGroups: 1 }];
  return mixture.candidateNames.map((name, j) => {
    const copy = createByName(name, { numFeatures: mixture.numFeatures }, { ...options[j], dtype: mixture.dtype });
    const state = Object.fromEntries(Object.entries(mixture.candidates.at(j).stateDict()).map(([k, t]) => [k, t.clone()]));
    copy.loadStateDict(state);
    copy.train(mixture.training);
    return copy;
  });
}

function perturb(module: Module, generator: Generator): void {
  for (const p of module.parameters()) for (let i = 0; i < p.size; i++) p.data[i] = p.data[i]! + 0.3 * generator.normal();
}

describe('mixOutputs', () => {
  it('equals softmax(logits / T) * outputs composed from ops, with every gradient, as one node', () => {
    const generator = new Generator(1);
    const outputs = [0, 1, 2].map(() => randn([2, 3, 4], { dtype: 'float64', generator, requiresGrad: true }));
    const logits = tensor([0.3, -0.7, 1.1], { dtype: 'float64', requiresGrad: true });
    const upstream = randn([2, 3, 4], { dtype: 'float64', generator });
    const temperature = 0.7;
    const fused = mixOutputs(outputs, logits, temperature);
    expect(graphOps(fused)).toEqual(['normalizerMixture']);
    fused.backward(upstream);
    const fusedGrads = [logits, ...outputs].map((t) => t.grad!.data.slice());
    for (const t of [logits, ...outputs]) t.grad = null;
    const w = softmax(mul(logits, 1 / temperature));
    const composed = outputs.reduce<Tensor | null>((acc, y, k) => {
      const term = mul(slice(w, 0, k, k + 1), y);
      return acc ? add(acc, term) : term;
    }, null)!;
    composed.backward(upstream);
    expectClose(fused, composed, 1e-14, 1e-12);
    [logits, ...outputs].forEach((t, i) => expectClose(fusedGrads[i]!, t.grad!, 1e-13, 1e-11));
    expectGradcheck(gradcheck((l, a, b, c) => mixOutputs([a, b, c], l, temperature), [logits, ...outputs]));
    for (const k of [1, 2, 4]) {
      const many = Array.from({ length: k }, () => randn([5], { dtype: 'float64', generator, requiresGrad: true }));
      const lk = randn([k], { dtype: 'float64', generator, requiresGrad: true });
      expectGradcheck(gradcheck((l, ...ys) => mixOutputs(ys, l, 1.3), [lk, ...many]));
    }
  });

  it('refuses mismatched logits, outputs and temperature', () => {
    const y = randn([2, 3]);
    expect(() => mixOutputs([y, y], tensor([0, 0, 0]), 1)).toThrow(/one logit per output \(2 outputs\)/);
    expect(() => mixOutputs([y, randn([3, 2])], tensor([0, 0]), 1)).toThrow(ShapeError);
    expect(() => mixOutputs([y, y], tensor([0, 0]), 0)).toThrow(/temperature to be a finite number > 0/);
  });
});

describe('NormalizerMixture', () => {
  it('mixes the outputs of registered candidates built by name: output, gradients and running statistics (train and eval)', () => {
    const generator = new Generator(7);
    const mixture = new NormalizerMixture({ numFeatures: 3, candidates: bnInGn, dtype: 'float64', temperature: 0.8 });
    expect(mixture.candidates.at(0)).toBeInstanceOf(BatchNorm);
    expect(mixture.candidates.at(1)).toBeInstanceOf(InstanceNorm);
    expect(mixture.candidates.at(2)).toBeInstanceOf(GroupNorm);
    perturb(mixture, generator);
    for (const mode of ['train', 'eval'] as const) {
      mixture.train(mode === 'train');
      const clones = cloneCandidates(mixture);
      const x = randn([4, 3, 5], { dtype: 'float64', generator, requiresGrad: true });
      const upstream = randn([4, 3, 5], { dtype: 'float64', generator });
      const y = mixture.forward(x);
      y.backward(upstream);
      const dx = x.grad!.data.slice();
      const dLogits = mixture.logits.grad!.data.slice();
      x.grad = null;
      const logits = mixture.logits.detach().clone().requireGrad();
      const w = softmax(mul(logits, 1 / 0.8));
      const reference = clones.map((m, k) => mul(slice(w, 0, k, k + 1), m.forward(x))).reduce((p, q) => add(p, q));
      reference.backward(upstream);
      expectClose(y, reference, 1e-13, 1e-12);
      expectClose(dx, x.grad!, 1e-12, 1e-10);
      expectClose(dLogits, logits.grad!, 1e-12, 1e-10);
      clones.forEach((clone, k) => {
        const own = mixture.candidates.at(k);
        for (const [name, p] of own.namedParameters()) expectClose(p.grad!, clone.getParameter(name)!.grad!, 1e-12, 1e-10);
        for (const [name, b] of own.namedBuffers()) expectClose(b, clone.getBuffer(name)!, 0, 0);
      });
      mixture.zeroGrad();
    }
  });

  it('adds one mixing node on top of the candidates\' fused nodes', () => {
    const mixture = new NormalizerMixture({ numFeatures: 3, candidates: bnInGn });
    const ops = graphOps(mixture.forward(randn([2, 3, 4], { requiresGrad: true })));
    expect(ops.filter((op) => op === 'normalizerMixture')).toHaveLength(1);
    expect(ops[0]).toBe('normalizerMixture');
    expect(ops).toContain('batchNorm');
  });

  it('passes gradcheck w.r.t. the input, the logits and every candidate parameter (train and eval)', () => {
    const generator = new Generator(8);
    const mixture = new NormalizerMixture({ numFeatures: 2, candidates: bnInGn, dtype: 'float64', temperature: 1.5 });
    perturb(mixture, generator);
    for (let step = 0; step < 2; step++) mixture.forward(randn([3, 2, 4], { dtype: 'float64', generator }));
    for (const mode of ['train', 'eval'] as const) {
      mixture.train(mode === 'train');
      const x = randn([3, 2, 4], { dtype: 'float64', generator, requiresGrad: true });
      expectGradcheck(gradcheck((xx) => mixture.forward(xx), [x, ...mixture.parameters()]));
    }
  });

  it('hard collapse returns the argmax candidate module itself, with identical outputs', () => {
    const generator = new Generator(9);
    const mixture = new NormalizerMixture({ numFeatures: 3, candidates: bnInGn, dtype: 'float64' });
    perturb(mixture, generator);
    mixture.logits.data.set([0.1, 0.9, 0.4]);
    const chosen = mixture.collapse();
    expect(chosen).toBe(mixture.candidates.at(1));
    expect(mixture.argmax()).toBe(1);
    for (const mode of ['train', 'eval'] as const) {
      mixture.train(mode === 'train');
      expect(chosen.training).toBe(mode === 'train');
      const x = randn([4, 3, 5], { dtype: 'float64', generator, requiresGrad: true });
      mixture.hard = true;
      const hard = mixture.forward(x);
      expect(graphOps(hard)).not.toContain('normalizerMixture');
      const alone = chosen.forward(x);
      expect(Array.from(hard.data)).toEqual(Array.from(alone.data));
      hard.backward(randn([4, 3, 5], { dtype: 'float64', generator }));
      expect(mixture.logits.grad).toBeNull();
      mixture.hard = false;
    }
    // With (numerically) one-hot weights the soft mix is the collapsed module's output too.
    mixture.eval();
    mixture.logits.data.set([0, 200, 0]);
    const x = randn([2, 3, 5], { dtype: 'float64', generator });
    expectClose(mixture.forward(x), chosen.forward(x), 1e-15, 0);
    // Ties go to the first candidate, like torch.argmax.
    mixture.logits.data.set([0.5, 0.5, 0.2]);
    expect(mixture.collapse()).toBe(mixture.candidates.at(0));
    expect(new NormalizerMixture({ numFeatures: 3, candidates: bnInGn, hard: true }).forward(randn([2, 3, 4])).shape).toEqual([2, 3, 4]);
  });

  it('reports importance as softmax(logits / temperature), which a lower temperature sharpens', () => {
    const mixture = new NormalizerMixture({ numFeatures: 3, candidates: bnInGn });
    expect(mixture.importance().map((c) => c.weight)).toEqual([1 / 3, 1 / 3, 1 / 3]);
    expect(mixture.importance().map((c) => c.name)).toEqual(['batch-norm', 'instance-norm', 'group-norm']);
    mixture.logits.data.set([0, Math.log(3), 0]);
    expectClose(mixture.importance().map((c) => c.weight), [0.2, 0.6, 0.2], 1e-7, 1e-6);
    mixture.temperature = 0.5;
    expectClose(mixture.importance().map((c) => c.weight), [1 / 11, 9 / 11, 1 / 11], 1e-7, 1e-6);
    expect(() => (mixture.temperature = 0)).toThrow(OptionError);
    expect(mixture.temperature).toBe(0.5);
  });

  it('takes third-party plugin objects, registered or not, next to names', () => {
    const generator = new Generator(10);
    const mixture = new NormalizerMixture({ numFeatures: 2, candidates: [centrePlugin, 'batch-norm'], dtype: 'float64' });
    expect(mixture.candidateNames).toEqual(['centre', 'batch-norm']);
    expect(mixture.candidates.at(0)).toBeInstanceOf(Centre);
    const x = randn([3, 2, 4], { dtype: 'float64', generator, requiresGrad: true });
    expectGradcheck(gradcheck((xx) => mixture.forward(xx), [x, ...mixture.parameters()]));
  });

  it('honours candidate traits: one layout, a condition when a candidate needs one (only to it), masks only if all accept them', () => {
    expect(() => new NormalizerMixture({ numFeatures: 4, candidates: ['batch-norm', 'layer-norm'] })).toThrow(
      /candidates with one layout .*got batch-norm: channels-first, layer-norm: channels-last/,
    );
    const conditioned = new NormalizerMixture({ numFeatures: 4, conditionDim: 3, candidates: ['layer-norm', 'ada-ln'] });
    expect(conditioned.traits).toMatchObject({ needsCondition: true, layout: 'channels-last', batchDependent: false });
    expect(() => conditioned.forward(randn([2, 5, 4]))).toThrow(ContextError);
    expect(() => conditioned.forward(randn([2, 5, 4]))).toThrow(/expected a condition \(context.condition\) for candidate\(s\) ada-ln, got none/);
    expect(conditioned.forward(randn([2, 5, 4]), { condition: randn([2, 3]) }).shape).toEqual([2, 5, 4]);
    // Channels-last: the feature axis is the last one.
    expect(() => conditioned.forward(randn([2, 4, 5]), { condition: randn([2, 3]) })).toThrow(/4 features on the last axis/);

    const masked = new NormalizerMixture({ numFeatures: 2, candidates: ['batch-norm', { candidate: 'group-norm', options: { numGroups: 2 } }] });
    expect(masked.traits.acceptsMask).toBe(true);
    const x = randn([2, 2, 4]);
    const mask = tensor([[1, 1, 1, 0], [1, 1, 0, 0]]);
    const y = masked.forward(x, { mask });
    expect(y.data[3]).toBe(0);
    const noMask = new NormalizerMixture({ numFeatures: 2, candidates: bnInGn });
    expect(() => noMask.forward(x, { mask })).toThrow(/no mask \(candidate\(s\) instance-norm accept none\)/);
  });

  it('refuses unknown candidates (listing the known ones), numFeatures mismatches and bad options with typed errors', () => {
    // A misspelt name does not compile; plain JavaScript (or a cast) gets a RegistryError with the known names and a suggestion.
    const misspelt = 'batchnorm' as unknown as CandidateSpec;
    expect(() => new NormalizerMixture({ numFeatures: 2, candidates: ['batch-norm', misspelt] })).toThrow(RegistryError);
    expect(() => new NormalizerMixture({ numFeatures: 2, candidates: [misspelt] })).toThrow(
      /^NormalizerMixture: candidate 0: expected a registered normalizer name \(known: .*batch-norm.*group-norm.*instance-norm.*\), got "batchnorm"\. Did you mean "batch-norm"\?/,
    );
    expect(() => new NormalizerMixture({ numFeatures: 2, candidates: [] })).toThrow(/a non-empty array of candidates/);
    expect(() => new NormalizerMixture({ numFeatures: 2, candidates: [{ kind: 'nope' } as unknown as CandidateSpec] })).toThrow(OptionError);
    const futurePlugin = { ...centrePlugin, specificationVersion: 'v2' } as unknown as CandidateSpec;
    expect(() => new NormalizerMixture({ numFeatures: 2, candidates: [futurePlugin] })).toThrow(/specificationVersion 'v1', got 'v2' for plugin "centre"/);
    expect(() => new NormalizerMixture({ numFeatures: 2, candidates: [{ candidate: 'group-norm', options: { groups: 2 } } as unknown as CandidateSpec] })).toThrow(/unknown option "groups"/);
    expect(() => new NormalizerMixture({ numFeatures: 2, candidates: [{ candidate: 'batch-norm', options: { dtype: 'float64' } }] })).toThrow(
      /candidate "batch-norm" in the mixture's dtype float32/,
    );
    expect(() => new NormalizerMixture({ numFeatures: 0, candidates: ['batch-norm'] })).toThrow(/numFeatures to be an integer >= 1/);
    expect(() => new NormalizerMixture({ numFeatures: 2, candidates: ['batch-norm'], temperature: -1 })).toThrow(OptionError);
    const mixture = new NormalizerMixture({ numFeatures: 3, candidates: bnInGn });
    expect(() => mixture.forward(randn([2, 4, 5]))).toThrow(/NormalizerMixture.forward: expected 3 channels on axis 1 \(numFeatures = 3\), \[N, 3, \*\], got shape \[2, 4, 5\] with 4 channels/);
    expect(() => mixture.forward(randn([2, 3, 5], { dtype: 'float64' }))).toThrow(DTypeError);
  });

  it('a failing forward changes no state, even when a candidate fails after another moved its running statistics', () => {
    const mixture = new NormalizerMixture({ numFeatures: 2, candidates: ['batch-norm', failingPlugin] });
    const before = Object.fromEntries(Object.entries(mixture.stateDict()).map(([k, t]) => [k, Array.from(t.data)]));
    expect(() => mixture.forward(randn([3, 2, 4]))).toThrow('broken plugin');
    for (const [key, t] of Object.entries(mixture.stateDict())) expect(Array.from(t.data), key).toEqual(before[key]);
    const healthy = new NormalizerMixture({ numFeatures: 2, candidates: bnInGn });
    const state = Object.fromEntries(Object.entries(healthy.stateDict()).map(([k, t]) => [k, Array.from(t.data)]));
    expect(() => healthy.forward(randn([3, 3, 4]))).toThrow(ShapeError);
    for (const [key, t] of Object.entries(healthy.stateDict())) expect(Array.from(t.data), key).toEqual(state[key]);
  });

  it('has PyTorch-style state-dict names: logits and candidates.<index>.<name>', () => {
    const mixture = new NormalizerMixture({ numFeatures: 2, candidates: bnInGn });
    expect(Object.keys(mixture.stateDict()).sort()).toEqual([
      'candidates.0.bias', 'candidates.0.num_batches_tracked', 'candidates.0.running_mean', 'candidates.0.running_var', 'candidates.0.weight',
      'candidates.1.bias', 'candidates.1.weight', 'candidates.2.bias', 'candidates.2.weight', 'logits',
    ]);
  });

  it('with batch size 2, where batch statistics are poor, training moves the weight to InstanceNorm (seeded)', () => {
    // The task of the SwitchableNorm test: per-(sample, channel) gain and offset on a content z,
    // target z standardised per (sample, channel). Starting from 1/3 each, InstanceNorm's weight must
    // exceed 0.65 after 150 Adam steps (about 0.72 with this seed), BatchNorm's and LayerNorm's fall
    // below 0.2. Output mixing moves more slowly than SwitchableNorm's statistics mixing: the losing
    // candidates also shrink their own affine, which weakens the pull on the logits.
    const generator = new Generator(2024);
    const [n, c, s] = [2, 4, 16];
    const mixture = new NormalizerMixture({ numFeatures: c, candidates: bnInGn, dtype: 'float64' });
    const target = new InstanceNorm({ numFeatures: c, dtype: 'float64' });
    const optimizer = new Adam(mixture.parameters(), { lr: 0.05 });
    for (let step = 0; step < 150; step++) {
      const x = randn([n, c, s], { dtype: 'float64', generator });
      for (let slot = 0; slot < n * c; slot++) {
        const gain = Math.exp(generator.normal());
        const offset = 3 * generator.normal();
        for (let i = slot * s; i < slot * s + s; i++) x.data[i] = gain * x.data[i]! + offset;
      }
      optimizer.zeroGrad();
      mse(mixture.forward(x), noGrad(() => target.forward(x))).backward();
      optimizer.step();
    }
    const [batch, instance, layer] = mixture.importance();
    expect(instance!.weight).toBeGreaterThan(0.65);
    expect(batch!.weight).toBeLessThan(0.2);
    expect(layer!.weight).toBeLessThan(0.2);
    expect(mixture.collapse()).toBe(mixture.candidates.at(1));
  });
});
