import { createTrainer, decodeConfig, encodeConfig, models, type DataSpec, type ExperimentConfig } from '@normkit/experiments';
import { isOnnxExportError } from '@normkit/onnx';
import { Generator, Tensor, loadBundle, loadSafetensors, parseSafetensors, randn, readBundle, type Module } from '@normkit/tensor';
import { unzipSync } from 'fflate';
import { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { evalLogits } from './boundary';
import { defaultDraft, validateDraft, withDataset, withModel } from './drafts';
import { exportBundle, exportModelOnnx, exportSafetensors } from './model-export';
import { compareLogits } from './onnx-check';
import { registerPlugins } from './plugins';

beforeAll(() => registerPlugins());

function config(normalizer: string, dataset = 'two-spirals', options: Record<string, unknown> = {}): ExperimentConfig {
  const draft = withDataset(defaultDraft(normalizer), dataset);
  Object.assign(draft.norms.hidden?.options ?? {}, options);
  const check = validateDraft(draft);
  if (!check.ok) throw new Error(check.message);
  return check.config;
}

describe('exportSafetensors', () => {
  it('writes the state dict under its PyTorch-style keys, with the config and step to rebuild the model', () => {
    const trainer = createTrainer(config('batch-norm'), {}, { keepHistory: false });
    trainer.run(15);
    const bytes = exportSafetensors(trainer.model, trainer.config, 15);
    const file = parseSafetensors(bytes);
    expect(file.metadata).toMatchObject({ format: 'pt', step: '15', config: encodeConfig(trainer.config) });
    const loaded = loadSafetensors(bytes);
    const original = trainer.model.stateDict();
    expect(Object.keys(loaded).sort()).toEqual(Object.keys(original).sort());
    expect(Object.keys(loaded)).toContain('layers.0.norm.batch-norm.running_var');
    for (const [key, tensor] of Object.entries(original)) expect(Array.from(loaded[key]!.data)).toEqual(Array.from(tensor.data));
    // A fresh model from the metadata's config, loaded, predicts what the trained one does.
    const rebuilt = createTrainer(decodeConfig(file.metadata!.config!), {}, { keepHistory: false }).model;
    rebuilt.loadStateDict(loaded);
    const inputs = trainer.dataset.train.inputs.slice(0, 64);
    expect(Array.from(evalLogits(rebuilt, inputs, [32, 2]))).toEqual(Array.from(evalLogits(trainer.model, inputs, [32, 2])));
  });
});

describe('exportBundle', () => {
  it('zips a training bundle that continues the run exactly where it stopped', () => {
    const draft = config('batch-norm');
    const trainer = createTrainer(draft, {}, { keepHistory: true });
    trainer.run(15);
    const files = unzipSync(exportBundle(trainer));
    expect(Object.keys(files).sort()).toEqual(['bundle.json', 'model.safetensors', 'optimizer.safetensors']);
    const { manifest } = readBundle(files);
    expect(manifest.architecture).toMatchObject({ model: { name: draft.model.name }, data: { inputKind: 'vector', sampleShape: [2], numClasses: 2 } });
    expect(manifest.optimizer?.type).toBe(draft.optimizer.name === 'sgd' ? 'SGD' : draft.optimizer.name === 'adamw' ? 'AdamW' : 'Adam');
    expect(manifest.scheduler?.last_step).toBe(15);
    // A fresh run of the same config, loaded from the bundle and moved to the same batch, then trained
    // on: its losses are the uninterrupted run's to the bit.
    const resumed = createTrainer(draft, {}, { keepHistory: true });
    resumed.run(15); // the same batches consumed; then its weights and optimizer buffers are wiped
    const parts = resumed.bundleParts()!;
    for (const parameter of resumed.model.parameters()) {
      parameter.data.fill(0);
      for (const value of Object.values((parts.optimizer.stateOf(parameter) ?? {}) as Record<string, unknown>)) {
        if (value instanceof Tensor) value.data.fill(0);
        else if (value instanceof Float32Array || value instanceof Float64Array) value.fill(0);
      }
    }
    loadBundle(files, { model: resumed.model, optimizer: parts.optimizer, scheduler: parts.scheduler });
    trainer.run(10);
    resumed.run(10);
    const losses = (t: typeof trainer) => t.history.steps.slice(-10).map((s) => s.loss);
    expect(losses(resumed)).toEqual(losses(trainer));
  });

  it('refuses the conditional-generation task (two optimizers) with the reason', () => {
    const check = validateDraft(withDataset(defaultDraft('batch-norm'), 'conditional-mixture'));
    if (!check.ok) throw new Error(check.message);
    const trainer = createTrainer(check.config, {}, { keepHistory: false });
    expect(() => exportBundle(trainer)).toThrow(/one optimizer; the conditional-generation task trains two/);
  });
});

/** A run of the draft trained 20 steps: its model, data spec and the first training inputs. */
function trained(draft: ReturnType<typeof defaultDraft>, modelClass: string): { model: Module; data: DataSpec; inputs: Float32Array } {
  const check = validateDraft(draft);
  if (!check.ok) throw new Error(check.message);
  const trainer = createTrainer(check.config, {}, { keepHistory: false });
  expect(trainer.model.constructor.name).toBe(modelClass);
  trainer.run(20);
  return { model: trainer.model, data: trainer.dataset, inputs: trainer.dataset.train.inputs };
}

describe('exportModelOnnx', () => {
  const cases: Array<[string, Record<string, unknown>]> = [['batch-norm', {}], ['layer-norm', {}], ['rms-norm', {}], ['group-norm', { numGroups: 4 }], ['none', {}]];
  for (const [normalizer, options] of cases) {
    it(`exports the playground MLP with ${normalizer}, matching normkit's eval output in onnxruntime at batch 1 and 7`, async () => {
      const trainer = createTrainer(config(normalizer, 'two-spirals', options), {}, { keepHistory: false });
      trainer.run(20);
      const session = await InferenceSession.create(exportModelOnnx(trainer.model, trainer.dataset));
      for (const rows of [1, 7]) {
        const inputs = trainer.dataset.train.inputs.slice(0, 2 * rows);
        const outputs = await session.run({ input: new OrtTensor('float32', inputs, [rows, 2]) });
        const check = compareLogits(outputs.logits!.data as Float32Array, evalLogits(trainer.model, inputs, [rows, 2]), rows);
        expect(check.ok, JSON.stringify(check)).toBe(true);
      }
      await session.release();
    });
  }

  // The CNN needs images (MNIST in the playground, 21 MB): built from its definition on an image spec instead.
  const otherModels: Array<[string, () => { model: Module; data: DataSpec; inputs: Float32Array }]> = [
    ['the residual net', () => trained(withModel(defaultDraft('batch-norm'), 'residual'), 'ResidualNet')],
    ['the Transformer', () => trained(withModel(withDataset(defaultDraft('layer-norm'), 'sequences'), 'transformer'), 'TinyTransformer')],
    ['the CNN', () => {
      const data: DataSpec = { inputKind: 'image', sampleShape: [1, 12, 12], numClasses: 10 };
      const definition = models.cnn!;
      const options = Object.fromEntries(Object.entries(definition.options).map(([k, spec]) => [k, spec.default]));
      const model = definition.build({ options: options as never, data, norms: { conv: { name: 'batch-norm' } }, generator: new Generator(3) });
      return { model, data, inputs: randn([14, 1, 12, 12], { generator: new Generator(4) }).data as Float32Array };
    }],
  ];
  for (const [name, make] of otherModels) {
    it(`exports ${name}, matching normkit's eval output in onnxruntime at batch 1 and 7`, async () => {
      const { model, data, inputs } = make();
      const session = await InferenceSession.create(exportModelOnnx(model, data));
      const sample = data.sampleShape.reduce((a, b) => a * b, 1);
      for (const rows of [1, 7]) {
        const shape = [rows, ...data.sampleShape];
        const batch = inputs.slice(0, rows * sample);
        const outputs = await session.run({ input: new OrtTensor('float32', batch, shape) });
        const check = compareLogits(outputs.logits!.data as Float32Array, evalLogits(model, batch, shape), rows);
        expect(check.ok, JSON.stringify(check)).toBe(true);
      }
      await session.release();
    });
  }

  it('fails with a clear error for the conditional GAN (not a classifier)', () => {
    const check = validateDraft(withDataset(defaultDraft('batch-norm'), 'conditional-mixture'));
    if (!check.ok) throw new Error(check.message);
    const trainer = createTrainer(check.config, {}, { keepHistory: false });
    let error: unknown = null;
    try {
      exportModelOnnx(trainer.model, trainer.dataset);
    } catch (caught) {
      error = caught;
    }
    expect(isOnnxExportError(error), String(error)).toBe(true);
    expect((error as Error).message).toMatch(/expected a classifier .* exportGeneratorOnnx/);
  });
});

describe('compareLogits', () => {
  it('holds onnxruntime to 1e-4·max|worker| + 1e-5 and the same class per row', () => {
    expect(compareLogits([1, 2, 3, 0], [1, 2, 3, 0], 2)).toMatchObject({ ok: true, sameClass: 2, maxDiff: 0 });
    expect(compareLogits([1, 2, 3, 0.01], [1, 2, 3, 0], 2).ok).toBe(false);
    expect(compareLogits([2, 1, 3, 0], [1, 2, 3, 0], 2)).toMatchObject({ ok: false, sameClass: 1 });
  });
});
