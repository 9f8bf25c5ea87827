import { NO_NORM, TASKS, datasets, listBlockWrappers, models, resolveConfig } from '@normkit/experiments';
import { normFreeBlockWrappers } from '@normkit/norm-free';
import { OptionError, list } from '@normkit/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  datasetsForTask, defaultDraft, describeDraft, initialDrafts, modelsFor, normalizerOptions, traitBadges, trainingSchema,
  validateDraft, withBlockWrapper, withDataset, withModel, withOptimizer, withSchedule, withTask,
} from './drafts';
import { registerPlugins } from './plugins';

beforeAll(() => registerPlugins());

describe('plugins', () => {
  it('registers every family and the third-party plugin once, through the registry', () => {
    registerPlugins(); // idempotent
    const names = list().map((p) => p.name);
    for (const name of [
      'batch-norm', 'layer-norm', 'rms-norm', 'group-norm', 'instance-norm', 'spectral-norm', 'switchable-norm', 'conditional-batch-norm',
      'adaptive-gradient-clip', 'scaled-weight-standardization', 'dynamic-tanh',
    ]) {
      expect(names).toContain(name);
    }
    expect(list({ family: 'dyt' }).map((p) => p.name)).toEqual(['dynamic-tanh']);
    expect(listBlockWrappers().map((w) => w.name)).toEqual(expect.arrayContaining(['plain', ...normFreeBlockWrappers.map((w) => w.name)]) as unknown);
  });
});

describe('drafts', () => {
  it('starts from valid configs: BatchNorm against no normalization', () => {
    const [a, b] = initialDrafts();
    expect(validateDraft(a!)).toMatchObject({ ok: true });
    expect(validateDraft(b!)).toMatchObject({ ok: true });
    expect(a!.norms.hidden!.name).toBe('batch-norm');
    expect(b!.norms.hidden!.name).toBe(NO_NORM);
    // Drafts hold every option, so the forms show every value.
    expect(Object.keys(a!.norms.hidden!.options!)).toEqual(Object.keys(list({ kind: 'normalizer' }).find((p) => p.name === 'batch-norm')!.options));
  });

  it('gives a valid config for every task, data set and model the pickers offer', () => {
    for (const task of TASKS) {
      const draft = withTask(defaultDraft(), task);
      expect(validateDraft(draft), task).toMatchObject({ ok: true });
      for (const dataset of datasetsForTask(task)) {
        const withData = withDataset(draft, dataset.name);
        expect(validateDraft(withData), dataset.name).toMatchObject({ ok: true });
        for (const model of modelsFor(task, dataset)) {
          expect(validateDraft(withModel(withData, model.name)), `${dataset.name} + ${model.name}`).toMatchObject({ ok: true });
        }
      }
    }
  });

  it('keeps a normalizer across a model change when the new model has that role', () => {
    const draft = withModel(defaultDraft('group-norm'), 'residual');
    expect(draft.norms).toMatchObject({ block: { name: NO_NORM }, final: { name: NO_NORM } });
    const sequences = withTask(defaultDraft('layer-norm'), 'sequence-classification');
    expect(sequences.dataset.name).toBe('sequences');
    expect(sequences.norms.hidden!.name).toBe('layer-norm');
    const transformer = withModel(sequences, 'transformer');
    expect(transformer.norms.block!.name).toBe('layer-norm'); // the role's default: it cannot be 'none'
    expect(validateDraft(transformer)).toMatchObject({ ok: true });
  });

  it('switches optimizer, schedule and block wrapper with their default options', () => {
    expect(withOptimizer(defaultDraft(), 'sgd').optimizer).toEqual({ name: 'sgd', options: { momentum: 0.9, nesterov: false, weightDecay: 0 } });
    expect(withSchedule(defaultDraft(), 'step').schedule).toEqual({ name: 'step', options: { stepSize: 100, gamma: 0.5 } });
    const residual = withModel(defaultDraft(), 'residual');
    expect(withBlockWrapper(residual, 'plain').model.blockWrapper).toBeUndefined();
    for (const wrapper of normFreeBlockWrappers) {
      const wrapped = withBlockWrapper(residual, wrapper.name);
      expect(wrapped.model.blockWrapper!.name).toBe(wrapper.name);
      expect(validateDraft(wrapped), wrapper.name).toMatchObject({ ok: true });
    }
  });

  it('marks the normalizers a role cannot take, with the engine’s reason', () => {
    const transformer = withModel(withTask(defaultDraft(), 'sequence-classification'), 'transformer');
    const qk = models.transformer!.normRoles.find((r) => r.name === 'qk')!;
    const options = normalizerOptions(transformer, qk);
    const available = options.filter((o) => o.unavailable === null).map((o) => o.name);
    expect(available).toEqual([NO_NORM, 'qk-norm']);
    expect(options.find((o) => o.name === 'batch-norm')!.unavailable).toMatch(/norms\.qk/);
    const block = models.transformer!.normRoles.find((r) => r.name === 'block')!;
    expect(normalizerOptions(transformer, block).find((o) => o.name === NO_NORM)!.unavailable).toMatch(/norms\.block/);
    // Conditional normalizers only where the model hands over the class.
    const mlpHidden = models.mlp!.normRoles[0]!;
    const adaLN = normalizerOptions(defaultDraft(), mlpHidden).find((o) => o.name === 'ada-ln')!;
    expect(adaLN.unavailable).toMatch(/needs no condition|condition/);
    const gan = withTask(defaultDraft(), 'conditional-generation');
    const generatorRole = models['conditional-gan']!.normRoles[0]!;
    expect(normalizerOptions(gan, generatorRole).find((o) => o.name === 'ada-ln')!.unavailable).toBeNull();
  });

  it('shows traits as badges', () => {
    const bn = normalizerOptions(defaultDraft(), models.mlp!.normRoles[0]!).find((o) => o.name === 'batch-norm')!;
    expect(traitBadges(bn.traits)).toEqual(['batch-dependent', 'running stats', 'takes the mask', 'channels-first']);
    expect(traitBadges(null)).toEqual([]);
  });

  it('reports the engine’s message for an invalid draft', () => {
    const draft = defaultDraft('batch-norm');
    draft.norms.hidden!.options!.momentum = 2;
    const check = validateDraft(draft);
    expect(check).toEqual({ ok: false, message: expect.stringMatching(/norms\.hidden \(batch-norm\).*momentum.*<= 1.*got momentum = 2/) as unknown });
    expect(describeDraft(defaultDraft('batch-norm'))).toBe('hidden: batch-norm · mlp on two-spirals · batch 32 · lr 0.01');
    const unmasked = withTask(defaultDraft('batch-norm'), 'sequence-classification');
    unmasked.norms.hidden!.mask = false;
    unmasked.seed = 2;
    expect(describeDraft(unmasked)).toBe('hidden: batch-norm (padding counted) · mlp on sequences · batch 32 · lr 0.01 · seed 2');
  });

  it('uses the same ranges as resolveConfig for the training fields', () => {
    const base = defaultDraft();
    const accepts = (field: string, value: number): boolean => {
      try {
        resolveConfig({ ...base, [field]: value, dataset: { name: 'two-spirals', options: { ...base.dataset.options, trainSize: 100_000 } } });
        return true;
      } catch (error) {
        expect(error).toBeInstanceOf(OptionError);
        return false;
      }
    };
    for (const [field, spec] of Object.entries(trainingSchema)) {
      const { min, max } = spec as { min: number; max: number; minExclusive?: boolean; integer?: boolean };
      const minExclusive = (spec as { minExclusive?: boolean }).minExclusive === true;
      const integer = (spec as { integer?: boolean }).integer === true;
      if (field === 'batchSize') continue; // also bounded by the data set's size; checked below
      expect(accepts(field, min), `${field} = min`).toBe(!minExclusive);
      expect(accepts(field, max), `${field} = max`).toBe(true);
      expect(accepts(field, max * 1.5 + 1), `${field} above max`).toBe(false);
      if (integer) expect(accepts(field, min + 0.5), `${field} fractional`).toBe(false);
    }
    expect(accepts('batchSize', 1)).toBe(true);
    expect(accepts('batchSize', 4096)).toBe(true);
    expect(accepts('batchSize', 4097)).toBe(false);
    expect(accepts('batchSize', 0)).toBe(false);
    expect(datasets['two-spirals']!.options.trainSize).toBeDefined();
  });
});
