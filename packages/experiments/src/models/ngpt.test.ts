import { Adam, Generator, OptionError, Tensor, crossEntropy, div, matmul, mul, randn, sqrt, sum, transpose } from '@normkit/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../config';
import { registerTestPlugins } from '../test-support';
import { buildOptimizer, createTrainer } from '../train';
import { models } from './index';
import { maskedMeanPool, modelPostStepHooks, type DataSpec, type ModelDefinition } from './model';
import type { NGPTClassifier } from './ngpt';

beforeAll(() => registerTestPlugins());

const tokens: DataSpec = { inputKind: 'tokens', sampleShape: [6, 4], numClasses: 3 };

function build(options: Record<string, unknown> = {}): NGPTClassifier {
  const definition = models.ngpt as ModelDefinition;
  const defaults = Object.fromEntries(Object.entries(definition.options).map(([k, spec]) => [k, spec.default]));
  return definition.build({ options: { ...defaults, ...options } as never, data: tokens, norms: {}, generator: new Generator(3) }) as NGPTClassifier;
}

/** Each matrix nGPT keeps on the unit sphere, with the axis of the embedding dimension. */
function sphereMatrices(model: NGPTClassifier): Array<[string, Tensor, 0 | 1]> {
  const list: Array<[string, Tensor, 0 | 1]> = [['embed', model.embed.weight, 0], ['position', model.position, 1], ['head', model.head.weight, 1]];
  [...model.blocks].forEach((block, i) => {
    const a = block.selfAttn;
    for (const [name, w] of [['q', a.qProj.weight], ['k', a.kProj.weight], ['v', a.vProj.weight], ['u', block.mlpU.weight], ['gate', block.mlpV.weight]] as const) list.push([`blocks.${i}.${name}`, w, 1]);
    for (const [name, w] of [['out', a.outProj.weight], ['mlp_out', block.mlpOut.weight]] as const) list.push([`blocks.${i}.${name}`, w, 0]);
  });
  return list;
}

/** The largest | ||w_v|| - 1 | over the vectors of `w` along `axis`. */
function sphereError(w: Tensor, axis: 0 | 1): number {
  const [rows, cols] = w.shape as [number, number];
  let worst = 0;
  for (let v = 0; v < (axis === 1 ? rows : cols); v++) {
    let s = 0;
    for (let i = 0; i < (axis === 1 ? cols : rows); i++) s += (axis === 1 ? w.data[v * cols + i]! : w.data[i * cols + v]!) ** 2;
    worst = Math.max(worst, Math.abs(Math.sqrt(s) - 1));
  }
  return worst;
}

const worstSphereError = (model: NGPTClassifier): number => Math.max(...sphereMatrices(model).map(([, w, axis]) => sphereError(w, axis)));

/** x / ||x|| over the last dim from primitive ops. */
const unit = (x: Tensor): Tensor => div(x, sqrt(sum(mul(x, x), -1, { keepdim: true })));

const config = {
  task: 'sequence-classification' as const,
  dataset: { name: 'sequences', options: { trainSize: 64, testSize: 32, maxLength: 6 } },
  model: { name: 'ngpt', options: { depth: 2, dim: 8, numHeads: 2 } },
  optimizer: { name: 'adam' as const },
  lr: 0.05,
  batchSize: 8,
  steps: 5,
  evalEvery: 5,
  evalSamples: 16,
  seed: 4,
};

describe('ngpt model', () => {
  it('starts with every matrix on the unit sphere along the embedding dimension, and logits s_z * W_head Norm(pooled h) (s_z = 1 at init)', () => {
    const model = build({ depth: 2, dim: 8 });
    expect(worstSphereError(model)).toBeLessThan(1e-6);
    const x = randn([5, 6, 4], { generator: new Generator(7) });
    const mask = new Tensor(Float32Array.from({ length: 30 }, (_, i) => (i % 6 < 6 - (Math.floor(i / 6) % 3) ? 1 : 0)), [5, 6]);
    let h = unit(matmul(x, transpose(model.embed.weight)).add(model.position));
    for (const block of model.blocks) h = block.forward(h, { mask });
    const expected = matmul(unit(maskedMeanPool(h, mask)), transpose(model.head.weight));
    const logits = model.forward({ x, mask });
    for (let i = 0; i < logits.size; i++) expect(logits.data[i]).toBeCloseTo(expected.data[i]!, 5);
  });

  it("the engine runs the model's post-step hook after every optimizer step: every matrix is back on the sphere after each step", () => {
    const trainer = createTrainer(config);
    const model = trainer.model as NGPTClassifier;
    expect(trainer.bundleParts()!.optimizer.postStepHooks.map((h) => h.name)).toEqual(['ngpt-weight-normalization']);
    for (let step = 1; step <= config.steps; step++) {
      expect(trainer.step(), `step ${step}`).not.toBeNull();
      expect(worstSphereError(model), `after step ${step}`).toBeLessThan(2e-6);
    }
    expect(trainer.status).toBe('done');
  });

  it('without the hook the same steps move the matrices off the sphere (so the test above can fail)', () => {
    const resolved = resolveConfig(config);
    const trainer = createTrainer(resolved);
    const model = trainer.model as NGPTClassifier;
    const plain = new Adam(model, { lr: resolved.lr });
    const x = randn([8, 6, model.embed.weight.shape[1]!], { generator: new Generator(8) });
    const loss = crossEntropy(model.forward({ x }), new Tensor(Float32Array.from([0, 1, 1, 0, 1, 0, 0, 1]), [8]));
    loss.backward();
    plain.step();
    expect(worstSphereError(model)).toBeGreaterThan(1e-3);
  });

  it('buildOptimizer adds hooks only for models that ask for them', () => {
    const resolved = resolveConfig(config);
    expect(modelPostStepHooks(build()).map((h) => h.name)).toEqual(['ngpt-weight-normalization']);
    const plainModel = models.mlp!.build({ options: { width: 4, depth: 1, activation: 'relu' } as never, data: { inputKind: 'vector', sampleShape: [2], numClasses: 2 }, norms: {}, generator: new Generator(1) });
    expect(modelPostStepHooks(plainModel)).toEqual([]);
    expect(buildOptimizer(resolved, plainModel, []).postStepHooks).toEqual([]);
  });

  it('refuses dim not divisible by numHeads, naming the model', () => {
    expect(() => build({ dim: 10, numHeads: 4 })).toThrow(OptionError);
    expect(() => build({ dim: 10, numHeads: 4 })).toThrow(/model ngpt.*dim divisible by numHeads.*dim = 10, numHeads = 4/);
  });
});
