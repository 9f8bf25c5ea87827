import { OptionError, RegistryError, ValueError } from '@normkit/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeConfig, encodeConfig, resolveConfig, type ExperimentConfigInput } from './config';
import { registerBlockWrapper, unregisterBlockWrapper } from './models/residual';
import { registerTestPlugins } from './test-support';

beforeAll(() => registerTestPlugins());

const minimal: ExperimentConfigInput = { task: 'classification', dataset: { name: 'two-spirals' }, model: { name: 'mlp' } };

const rich: ExperimentConfigInput = {
  task: 'sequence-classification',
  dataset: { name: 'sequences', options: { maxLength: 12, noise: 0.5 } },
  model: { name: 'residual', options: { depth: 6 }, blockWrapper: { name: 'test-wrapper', options: { alpha: 0.5 } } },
  norms: { block: { name: 'batch-norm', options: { momentum: null, eps: 1e-3 }, mask: false }, final: { name: 'group-norm', options: { numGroups: 4 } } },
  weights: { layers: { name: 'test-scaled-weight', options: { initial: 3 } } },
  gradientTransforms: [{ name: 'test-clip-value', options: { limit: 0.5 } }, { name: 'test-clip-value' }],
  optimizer: { name: 'sgd', options: { momentum: 0.5, nesterov: true } },
  lr: 0.05,
  schedule: { name: 'warmup-cosine', options: { warmupSteps: 20 } },
  batchSize: 8,
  seed: 123456789,
  steps: 777,
  evalEvery: 50,
  evalSamples: 64,
};

describe('resolveConfig', () => {
  it('fills every default through the option schemas', () => {
    const config = resolveConfig(minimal);
    expect(config.dataset.options).toEqual({ trainSize: 1000, testSize: 500, noise: 0.02, turns: 1.5 });
    expect(config.model.options).toEqual({ width: 32, depth: 3, activation: 'relu', conditionFeatures: 0 });
    expect(config.norms).toEqual({ hidden: { name: 'none' } });
    expect(config.optimizer).toEqual({ name: 'adam', options: { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 } });
    expect(config.schedule).toEqual({ name: 'constant', options: {} });
    expect(config).toMatchObject({ lr: 0.01, batchSize: 32, seed: 0, steps: 1000, evalEvery: 100, evalSamples: 500, weights: {}, gradientTransforms: [] });
    const withNorm = resolveConfig({ ...minimal, norms: { hidden: { name: 'batch-norm' } } });
    expect(withNorm.norms.hidden).toMatchObject({ name: 'batch-norm', options: { eps: 1e-5, momentum: 0.1, affine: true, trackRunningStats: true } });
    expect(resolveConfig(withNorm)).toEqual(withNorm);
    // The Transformer's block slot defaults to LayerNorm (it needs a normalizer).
    expect(resolveConfig({ task: 'sequence-classification', dataset: { name: 'sequences' }, model: { name: 'transformer' } }).norms.block!.name).toBe('layer-norm');
  });

  it('names the option, its range and the value when one is out of range (OptionError)', () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ norms: { hidden: { name: 'batch-norm', options: { momentum: 2 } } } }, /norms\.hidden \(batch-norm\): expected option "momentum" to be a number >= 0 <= 1 \(or null\), got momentum = 2/],
      [{ norms: { hidden: { name: 'group-norm', options: { numGroups: 0 } } } }, /norms\.hidden \(group-norm\): expected option "numGroups" to be an integer >= 1/],
      [{ norms: { hidden: { name: 'layer-norm', options: { epsilon: 1 } } } }, /unknown option "epsilon"/],
      [{ dataset: { name: 'two-spirals', options: { noise: -1 } } }, /dataset\.options \(two-spirals\): expected option "noise" to be a number >= 0 <= 1, got noise = -1/],
      [{ model: { name: 'mlp', options: { depth: 2.5 } } }, /model\.options \(mlp\): expected option "depth" to be an integer/],
      [{ optimizer: { name: 'adam', options: { beta1: 1 } } }, /optimizer\.options \(adam\): expected option "beta1" to be a number >= 0 < 1/],
      [{ schedule: { name: 'step', options: { gamma: 2 } } }, /schedule\.options \(step\)/],
      [{ lr: 0 }, /expected lr to be a finite number > 0 <= 100, got lr = 0/],
      [{ batchSize: 0 }, /batchSize to be an integer >= 1/],
      [{ batchSize: 2000 }, /batchSize <= dataset\.options\.trainSize \(1000\)/],
      [{ seed: -1 }, /seed to be an integer >= 0/],
      [{ steps: 1.5 }, /steps to be an integer/],
      [{ norms: { conv: { name: 'batch-norm' } } }, /norms for the roles of model "mlp": hidden, got role "conv"/],
      [{ weights: { discriminator: { name: 'test-scaled-weight' } } }, /weights for the roles of model "mlp": layers/],
      [{ dataset: { name: 'sequences' } }, /a data set for task classification/],
      [{ dataset: { name: 'moons' } }, /dataset\.name among two-spirals, circles/],
      [{ model: { name: 'cnn' } }, /a model for task classification with vector inputs/],
      [{ model: { name: 'mlp', blockWrapper: { name: 'plain' } } }, /blockWrapper only with model "residual"/],
      [{ optimizer: { name: 'lion' } }, /optimizer\.name among sgd, adam, adamw/],
      [{ norms: { hidden: { name: 'record-conditional' } } }, /needs no class labels/],
      [{ extra: 1 }, /unknown field "extra"/],
      [{ task: 'sequence-classification', dataset: { name: 'sequences' }, model: { name: 'transformer' }, norms: { qk: { name: 'rms-norm' } } }, /norms\.qk among 'none', 'qk-norm'/],
      [{ task: 'sequence-classification', dataset: { name: 'sequences' }, model: { name: 'transformer' }, norms: { block: { name: 'none' } } }, /norms\.block: a registered normalizer \(model "transformer" needs one there\)/],
      [{ norms: { hidden: { name: 'group-norm', options: { numGroups: 2, dtype: 'float64' } } } }, /norms\.hidden \(group-norm\): expected dtype 'float32' \(the engine trains in float32\)/],
    ];
    for (const [change, message] of cases) {
      const input = { ...minimal, ...change };
      expect(() => resolveConfig(input), JSON.stringify(change)).toThrow(OptionError);
      expect(() => resolveConfig(input), JSON.stringify(change)).toThrow(message);
    }
  });

  it('unknown plugin names throw the registry error listing the known ones; wrong kinds are refused', () => {
    expect(() => resolveConfig({ ...minimal, norms: { hidden: { name: 'batch-nrom' } } })).toThrow(RegistryError);
    expect(() => resolveConfig({ ...minimal, norms: { hidden: { name: 'batch-nrom' } } })).toThrow(/known: .*batch-norm.*\. Did you mean "batch-norm"\?/);
    expect(() => resolveConfig({ ...minimal, norms: { hidden: { name: 'test-clip-value' } } })).toThrow(/^norms\.hidden: expected a normalizer name, got "test-clip-value", a gradient-transform plugin/);
    expect(() => resolveConfig({ ...minimal, gradientTransforms: [{ name: 'layer-norm' }] })).toThrow(/^gradientTransforms\[0\]: expected a gradient-transform name, got "layer-norm", a normalizer plugin/);
  });

  it('malformed shapes give a ValueError naming the field', () => {
    expect(() => resolveConfig('spirals')).toThrow(ValueError);
    expect(() => resolveConfig({ ...minimal, dataset: 'two-spirals' })).toThrow(/dataset to be an object \{ name, options\? \}/);
    expect(() => resolveConfig({ ...minimal, norms: { hidden: { name: 'batch-norm', mask: 'yes' } } })).toThrow(/norms\.hidden\.mask to be true or false/);
    expect(() => resolveConfig({ ...minimal, gradientTransforms: {} })).toThrow(/gradientTransforms to be a list/);
    expect(() => resolveConfig({ ...minimal, task: 'regression' })).toThrow(/task among classification, sequence-classification, conditional-generation/);
  });
});

describe('encodeConfig / decodeConfig', () => {
  beforeAll(() => {
    registerBlockWrapper({
      name: 'test-wrapper',
      description: 'test',
      options: { alpha: { type: 'number', default: 0, description: 'a' } },
      create: () => {
        throw new Error('not built in these tests');
      },
    });
    return () => unregisterBlockWrapper('test-wrapper');
  });

  it('round-trips to the resolved config, for a minimal and a rich config', () => {
    for (const input of [minimal, rich]) {
      const text = encodeConfig(input);
      expect(text).toMatch(/^v1\.[A-Za-z0-9_-]+$/);
      expect(decodeConfig(text)).toEqual(resolveConfig(input));
      expect(encodeConfig(decodeConfig(text))).toBe(text);
    }
    const decoded = decodeConfig(encodeConfig(rich));
    expect(decoded.norms.block).toMatchObject({ name: 'batch-norm', options: { eps: 1e-3, momentum: null, affine: true, trackRunningStats: true }, mask: false });
    expect(decoded.model.blockWrapper).toEqual({ name: 'test-wrapper', options: { alpha: 0.5 } });
    expect(decoded.seed).toBe(123456789);
  });

  it('is compact: defaults are left out', () => {
    expect(encodeConfig(minimal).length).toBeLessThan(140);
    expect(encodeConfig(resolveConfig(minimal))).toBe(encodeConfig(minimal));
    // Base64 grows text by 4/3, yet the string stays well under the resolved config's JSON.
    expect(encodeConfig(rich).length).toBeLessThan(0.6 * JSON.stringify(resolveConfig(rich)).length);
  });

  it('an invalid string gives a readable ValueError', () => {
    const good = encodeConfig(minimal);
    const cases: Array<[string, RegExp]> = [
      ['', /decodeConfig: expected a config string starting with "v1\." \(made by encodeConfig\), got ""/],
      ['v2.abc', /starting with "v1\."/],
      ['v1.ab$cd', /only letters, digits, "-" and "_" after the version prefix, got the character "\$"/],
      ['v1.' + good.slice(3, 20), /base64url-encoded JSON.*The link may be truncated/],
      ['v1.' + btoa('[1,2]').replace(/=+$/, ''), /a version 1 config of 15 fields, got 2 fields/],
      ['v1.' + btoa('{"a":1}').replace(/=+$/, ''), /a version 1 config of 15 fields, got object/],
    ];
    for (const [text, message] of cases) {
      expect(() => decodeConfig(text), text).toThrow(ValueError);
      expect(() => decodeConfig(text), text).toThrow(message);
    }
  });

  it('a well-formed string with a bad value gives the field error', () => {
    const json = JSON.stringify([1, 'classification', ['two-spirals', { noise: 5 }], ['mlp'], {}, {}, [], ['adam'], 0.01, ['constant'], 32, 0, 100, 10, 100]);
    const text = 'v1.' + btoa(json).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    expect(() => decodeConfig(text)).toThrow(OptionError);
    expect(() => decodeConfig(text)).toThrow(/dataset\.options \(two-spirals\).*noise = 5/);
  });
});
