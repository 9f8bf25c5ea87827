import { ValueError } from '@normkit/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ExperimentConfigInput } from '../config';
import { registerTestPlugins } from '../test-support';
import { createTrainer, type Trainer } from '../train';
import { definePreset, type PresetRun } from './preset';
import { initializeFrom, runPreset } from './run-preset';

beforeAll(() => registerTestPlugins());

function config(norm: string, seed: number): ExperimentConfigInput {
  return {
    task: 'classification',
    dataset: { name: 'gaussians', options: { trainSize: 64, testSize: 32 } },
    model: { name: 'mlp', options: { width: 8, depth: 2 } },
    norms: { hidden: { name: norm } },
    batchSize: 16,
    steps: 6,
    evalEvery: 6,
    evalSamples: 32,
    seed,
  };
}

/** A pre-trained BatchNorm MLP (6 steps, so its running statistics and weights moved from their initial values). */
function pretrained(): Trainer {
  const trainer = createTrainer(config('batch-norm', 1));
  trainer.runToEnd();
  return trainer;
}

function values(trainer: Trainer): Record<string, number[]> {
  return Object.fromEntries(Object.entries(trainer.model.stateDict()).map(([name, t]) => [name, Array.from(t.data)]));
}

describe('PresetRun.initFrom (fine-tuning from an earlier run)', () => {
  it('copies every parameter and buffer by name except the excluded prefixes, in place', () => {
    const source = pretrained();
    const target = createTrainer(config('batch-norm', 2));
    const parameters = target.model.parameters();
    const freshHead = values(target)['head.weight']!;
    initializeFrom(target, { id: 'ft', label: 'ft', role: 'subject', config: config('batch-norm', 2), initFrom: { run: 'pre', except: ['head'] } }, { pre: source });
    const copied = values(target);
    const original = values(source);
    expect(Object.keys(copied).filter((name) => name.startsWith('layers.')).length).toBeGreaterThan(8);
    for (const [name, data] of Object.entries(copied)) {
      if (name.startsWith('head.')) continue;
      expect(data, name).toEqual(original[name]);
    }
    expect(copied['head.weight']).toEqual(freshHead);
    expect(copied['head.weight']).not.toEqual(original['head.weight']);
    // The optimizer was built on these very tensors: they were filled, not replaced.
    expect(target.model.parameters()).toEqual(parameters);
    expect(target.model.parameters().every((p, i) => p === parameters[i])).toBe(true);
  });

  it("loads a BatchNorm's weight, bias and running statistics into FrozenBatchNorm through rename", () => {
    const source = pretrained();
    const target = createTrainer(config('frozen-batch-norm', 2));
    const run: PresetRun = { id: 'ft', label: 'ft', role: 'subject', config: config('frozen-batch-norm', 2), initFrom: { run: 'pre', except: ['head'], rename: { 'frozen-batch-norm': 'batch-norm' } } };
    initializeFrom(target, run, { pre: source });
    const copied = values(target);
    const original = values(source);
    const frozenNames = Object.keys(copied).filter((name) => name.includes('.frozen-batch-norm.'));
    expect(frozenNames.map((n) => n.slice(n.lastIndexOf('.') + 1)).sort()).toEqual(['bias', 'bias', 'running_mean', 'running_mean', 'running_var', 'running_var', 'weight', 'weight']);
    for (const name of frozenNames) expect(copied[name], name).toEqual(original[name.replace('.frozen-batch-norm.', '.batch-norm.')]);
  });

  it('refuses an unknown run or a name the earlier model lacks, and then changes nothing', () => {
    const source = pretrained();
    const target = createTrainer(config('frozen-batch-norm', 2));
    const before = values(target);
    const run = (initFrom: PresetRun['initFrom']): PresetRun => ({ id: 'ft', label: 'ft', role: 'subject', config: config('frozen-batch-norm', 2), ...(initFrom ? { initFrom } : {}) });
    expect(() => initializeFrom(target, run({ run: 'nope' }), { pre: source })).toThrow(ValueError);
    expect(() => initializeFrom(target, run({ run: 'nope' }), { pre: source })).toThrow(/initFrom of run "ft": expected a run planned before it \(pre\), got "nope"/);
    // Without the rename, FrozenBatchNorm's names are not in a BatchNorm model.
    expect(() => initializeFrom(target, run({ run: 'pre', except: ['head'] }), { pre: source })).toThrow(/names it lacks: layers\.0\.norm\.frozen-batch-norm\.weight/);
    expect(values(target)).toEqual(before);
  });

  it('runPreset fine-tunes the run from the named earlier run, and reports a bad reference as an error', () => {
    const plan = (from: string): PresetRun[] => [
      { id: 'pre', label: 'pre', role: 'control', config: config('batch-norm', 1) },
      { id: 'ft', label: 'ft', role: 'subject', config: { ...config('frozen-batch-norm', 2), steps: 1, evalEvery: 1 }, initFrom: { run: from, except: ['head'], rename: { 'frozen-batch-norm': 'batch-norm' } } },
    ];
    const preset = (from: string) => definePreset({
      name: 'tiny-fine-tuning', title: 't', claim: { quote: 'q', section: 's', source: 'test' }, method: 'm', seed: 0,
      requires: { plugins: ['batch-norm', 'frozen-batch-norm'] },
      criteria: [
        { id: 'c', kind: 'control', statement: 'c', metric: 'm', comparison: '>=', threshold: 0 },
        // FrozenBatchNorm never changes its buffers, so after fine-tuning they still hold the pre-trained running mean.
        { id: 'same-mean', kind: 'claim', statement: 's', metric: 'm', comparison: '<=', threshold: 0 },
      ],
      plan: () => ({ runs: plan(from) }),
      analyze: ({ trainers }) => {
        const pre = trainers.pre!.model.stateDict()['layers.1.norm.batch-norm.running_mean']!.data;
        const ft = trainers.ft!.model.stateDict()['layers.1.norm.frozen-batch-norm.running_mean']!.data;
        return { measured: { c: 1, 'same-mean': Math.max(...Array.from(pre, (v, i) => Math.abs(v - ft[i]!))) + (pre.some((v) => v !== 0) ? 0 : 1) }, charts: [] };
      },
    });
    expect(runPreset(preset('pre')).verdict).toBe('reproduced');
    const broken = runPreset(preset('later'));
    expect(broken.verdict).toBe('error');
    expect(broken.reason).toContain('building run "ft" threw ValueError: initFrom of run "ft"');
  });
});
