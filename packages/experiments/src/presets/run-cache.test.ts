import { beforeAll, describe, expect, it } from 'vitest';
import { registerTestPlugins } from '../test-support';
import { createTrainer } from '../train';
import { definePreset, type ClaimPreset, type PresetRun } from './preset';
import { RunCache, runKey, trainerFingerprint } from './run-cache';
import { combineSeedParts, preparePreset, runPreset, runPresetSeed, type PresetProgress, type PresetResult, type TrainedRun } from './run-preset';

beforeAll(() => registerTestPlugins());

function run(id: string, seed: number, change: Partial<PresetRun['config']> = {}): PresetRun {
  return {
    id, label: id, role: 'control',
    config: {
      task: 'classification', dataset: { name: 'gaussians', options: { trainSize: 32, testSize: 16 } }, model: { name: 'mlp', options: { width: 4, depth: 1 } },
      norms: { hidden: { name: 'batch-norm' } }, batchSize: 8, steps: 3, evalEvery: 3, evalSamples: 16, seed, ...change,
    },
  };
}

function train(r: PresetRun): TrainedRun {
  const trainer = createTrainer(r.config);
  while (trainer.status === 'ready') trainer.step();
  return { trainer, trace: {}, elapsedMs: 1 };
}

/** A preset of a shared run ('base') and its own ('own', `lr`); its analysis reads the shared run's weights and may `mutate` them. */
function sharingPreset(name: string, lr: number, mutate = false): ClaimPreset {
  return definePreset({
    name, title: name, claim: { quote: 'q', section: 's', source: 'test' }, method: 'm', seed: 0, seeds: [0, 1, 2],
    requires: { plugins: ['batch-norm'] },
    criteria: [{ id: 'w', kind: 'claim', statement: 'weights sum', metric: 'sum', comparison: '>=', threshold: -100 }],
    plan: (_mode, seed = 0) => ({ runs: [run('base', seed), run('own', seed, { lr })] }),
    analyze: ({ trainers, runs }) => {
      const weights = Object.values(trainers.base!.model.stateDict())[0]!.data;
      const sum = Array.from(weights).reduce((a, b) => a + b, 0) + (runs.own!.evals.at(-1)?.testLoss ?? 0);
      if (mutate) weights[0] = weights[0]! + 1;
      return { measured: { w: sum }, charts: [] };
    },
  });
}

/** The result without its clock readings. */
function untimed(result: PresetResult): unknown {
  return JSON.parse(JSON.stringify(result, (key, value: unknown) => (/(runtimeMs|elapsedMs)$/i.test(key) ? 0 : value)));
}

describe('runKey', () => {
  it('is the resolved configuration: equal for a default written out, different for any field that changes the run', () => {
    expect(runKey(run('a', 0))).toBe(runKey(run('b', 0, { optimizer: { name: 'adam' } })));
    const base = runKey(run('a', 0));
    for (const change of [{ seed: 1 }, { steps: 4 }, { lr: 0.02 }, { evalSamples: 8 }, { evalEvery: 1 }, { batchSize: 4 }, { schedule: { name: 'cosine' as const } }]) {
      expect(runKey(run('a', change.seed ?? 0, change))).not.toBe(base);
    }
    expect(runKey(run('a', 0, { norms: { hidden: { name: 'batch-norm', options: { momentum: 0.2 } } } }))).not.toBe(base);
  });
});

describe('RunCache', () => {
  it('trains a run once for every request of its key, keeps it only while a request is left, and never keeps a run asked for once', () => {
    const cache = RunCache.forRuns([run('a', 0), run('b', 0), run('c', 0), run('d', 1)]);
    let trained = 0;
    const count = (r: PresetRun) => () => (trained++, train(r));
    const first = cache.obtain(run('a', 0), count(run('a', 0)));
    expect(cache.size).toBe(1);
    expect(cache.obtain(run('b', 0), count(run('b', 0)))).toBe(first);
    expect(cache.size).toBe(1);
    expect(cache.obtain(run('c', 0), count(run('c', 0)))).toBe(first);
    expect(cache.size).toBe(0);
    cache.obtain(run('d', 1), count(run('d', 1)));
    expect(cache.size).toBe(0);
    expect(trained).toBe(2);
    expect(cache.stats).toEqual({ trained: 2, shared: 2 });
  });

  it('refuses to hand out a shared run that changed after training', () => {
    const cache = RunCache.forRuns([run('a', 0), run('b', 0)]);
    const first = cache.obtain(run('a', 0), () => train(run('a', 0)));
    const before = trainerFingerprint(first.trainer);
    const weights = Object.values(first.trainer.model.stateDict())[0]!.data;
    weights[0] = weights[0]! + 1e-7;
    expect(trainerFingerprint(first.trainer)).not.toBe(before);
    expect(() => cache.obtain(run('b', 0), () => train(run('b', 0)))).toThrow(/RunCache: expected shared run "b" \(seed 0\) unchanged since it was trained/);
  });
});

describe('seeds run apart and combined', () => {
  const preset = sharingPreset('one', 0.05);

  it('gives runPreset\'s result and progress events, whatever order the seeds ran in', () => {
    const events: string[] = [];
    const key = (e: PresetProgress) => JSON.stringify(e, (k, v: unknown) => (/ElapsedMs$|^elapsedMs$/.test(k) ? 0 : v));
    const whole = runPreset(preset, { mode: 'full', seeds: [0, 1, 2], onProgress: (e) => events.push(key(e)) });
    const prepared = preparePreset(preset, 'full', [0, 1, 2]);
    if (!('plans' in prepared)) throw new Error('not prepared');
    const seedEvents: string[][] = [[], [], []];
    const parts = [2, 0, 1].map((i) => runPresetSeed(preset, prepared, i, { mode: 'full', onProgress: (e) => seedEvents[i]!.push(key(e)) }));
    const combined = combineSeedParts(preset, 'full', [0, 1, 2], [parts[1]!, parts[2]!, parts[0]!]);
    expect(untimed(combined)).toEqual(untimed(whole));
    expect(events.slice(1, -1)).toEqual(seedEvents.flat());
    expect(() => combineSeedParts(preset, 'full', [0, 1, 2], parts)).toThrow(/combineSeedParts: expected one part per seed in seed order \[0, 1, 2\], got \[2, 0, 1\]/);
  });

  it('a preset sharing its run with another in one cache reports what it reports alone', () => {
    const other = sharingPreset('two', 0.02);
    const alone = runPreset(other, { mode: 'full', seeds: [0, 1, 2] });
    const prepared = [preset, other].map((p) => preparePreset(p, 'full', [0, 1, 2]));
    const plans = prepared.flatMap((p) => ('plans' in p ? p.plans : []));
    const cache = RunCache.forRuns(plans.flatMap((p) => p.runs));
    const parts = prepared.map((p, k) => [0, 1, 2].map((i) => runPresetSeed([preset, other][k]!, p as Exclude<typeof p, PresetResult>, i, { mode: 'full', runSource: cache })));
    expect(cache.stats).toEqual({ trained: 9, shared: 3 });
    expect(cache.size).toBe(0);
    expect(untimed(combineSeedParts(other, 'full', [0, 1, 2], parts[1]!))).toEqual(untimed(alone));
  });

  it('an analysis that changes a shared run makes the next preset\'s seed an error, not a different number', () => {
    const prepared = [sharingPreset('mutating', 0.05, true), sharingPreset('two', 0.02)].map((p) => ({ p, prepared: preparePreset(p, 'full', [0]) }));
    const cache = RunCache.forRuns(prepared.flatMap(({ prepared: q }) => ('plans' in q ? q.plans.flatMap((plan) => plan.runs) : [])));
    const [first, second] = prepared.map(({ p, prepared: q }) => runPresetSeed(p, q as Exclude<typeof q, PresetResult>, 0, { mode: 'full', runSource: cache }));
    expect(first!.failure).toBeNull();
    expect(second!.failure?.where).toBe('building run "base"');
    expect(second!.failure?.error.message).toMatch(/unchanged since it was trained/);
  });
});
