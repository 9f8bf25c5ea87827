import { beforeAll, describe, expect, it } from 'vitest';
import { registerTestPlugins } from '../test-support';
import { presets } from './index';
import { checkCriterion, definePreset, type ClaimPreset, type Criterion } from './preset';
import { runPreset } from './run-preset';
import { DEFAULT_SEEDS, MOST_SEEDS, aggregateCriterion, presetSeeds } from './seed-rule';

beforeAll(() => registerTestPlugins());

const atLeast: Criterion = { id: 'a', kind: 'claim', statement: 'A holds', metric: 'x', comparison: '>=', threshold: 0.8 };

describe('aggregateCriterion', () => {
  const results = (values: number[]) => values.map((v) => checkCriterion(atLeast, v));

  it('the fraction rule counts the seeds where the criterion held (4 of 5 pass at 80%, 3 of 5 do not)', () => {
    const four = aggregateCriterion(atLeast, results([0.9, 0.7, 0.85, 0.95, 0.81]), MOST_SEEDS);
    expect(four.passed).toBe(true);
    expect(four.heldOn).toBe(4);
    expect(four.measured).toBe(0.85);
    expect(four.spread).toEqual({ min: 0.7, max: 0.95 });
    expect(four.perSeed).toEqual([0.9, 0.7, 0.85, 0.95, 0.81]);
    expect(four.detail).toBe('held on 4 of 5 seeds; per seed: 0.9, 0.7, 0.85, 0.95, 0.81; median 0.85, range 0.7 to 0.95');
    expect(aggregateCriterion(atLeast, results([0.9, 0.7, 0.85, 0.79, 0.81]), MOST_SEEDS).passed).toBe(false);
  });

  it('an unmeasurable seed counts as not held; all unmeasurable is null', () => {
    expect(aggregateCriterion(atLeast, results([0.9, Number.NaN, 0.9, 0.9, 0.9]), MOST_SEEDS).passed).toBe(true);
    expect(aggregateCriterion(atLeast, results([0.9, Number.NaN, 0.9, 0.9, Number.NaN]), MOST_SEEDS).passed).toBe(false);
    expect(aggregateCriterion(atLeast, results([Number.NaN, Number.NaN]), MOST_SEEDS).passed).toBeNull();
  });

  it('the median rule judges the median value; one seed gives that seed\'s result under both rules', () => {
    expect(aggregateCriterion(atLeast, results([0.9, 0.1, 0.1, 0.85, 0.9]), { kind: 'median' }).passed).toBe(true);
    expect(aggregateCriterion(atLeast, results([0.9, 0.1, 0.1, 0.85, 0.1]), { kind: 'median' }).passed).toBe(false);
    for (const rule of [MOST_SEEDS, { kind: 'median' } as const]) {
      expect(aggregateCriterion(atLeast, results([0.79]), rule).passed).toBe(false);
      expect(aggregateCriterion(atLeast, results([0.8]), rule).passed).toBe(true);
    }
    expect(() => aggregateCriterion(atLeast, [], MOST_SEEDS)).toThrow(/expected at least one seed's result for "a", got none/);
  });
});

/** Two seeded runs; the claim holds only at seeds whose config.seed is even (so the verdict depends on the seed). */
function parityPreset(overrides: Partial<ClaimPreset> = {}): ClaimPreset {
  return definePreset({
    name: 'parity',
    title: 'parity',
    claim: { quote: 'q', section: 's', source: 'test' },
    method: 'm',
    seed: 0,
    seeds: [0, 1, 2],
    requires: { plugins: ['batch-norm'] },
    criteria: [
      { id: 'c', kind: 'control', statement: 'control ran', metric: 'steps', comparison: '>=', threshold: 1 },
      { id: 'even', kind: 'claim', statement: 'the seed is even', metric: 'seed parity', comparison: '>=', threshold: 1 },
    ],
    plan: (_mode, seed = 0) => ({
      runs: [{
        id: 'one', label: 'one', role: 'control',
        config: { task: 'classification', dataset: { name: 'gaussians', options: { trainSize: 32, testSize: 16 } }, model: { name: 'mlp', options: { width: 4, depth: 1 } }, norms: { hidden: { name: 'batch-norm' } }, batchSize: 8, steps: 3, evalEvery: 3, evalSamples: 16, seed },
      }],
    }),
    analyze: ({ runs, seed }) => ({
      measured: { c: runs.one!.completedSteps, even: runs.one!.config.seed === seed && seed % 2 === 0 ? 1 : 0 },
      charts: [],
    }),
    ...overrides,
  });
}

describe('runPreset over seeds', () => {
  it('runs the plan at every seed, keeps per-seed criteria and verdicts, and applies the declared rule', () => {
    const result = runPreset(parityPreset(), { seeds: [0, 1, 2] });
    expect(result.seeds).toEqual([0, 1, 2]);
    expect(result.runs.map((r) => r.config.seed)).toEqual([0, 1, 2]);
    expect(result.perSeed.map((s) => [s.seed, s.verdict])).toEqual([[0, 'reproduced'], [1, 'not reproduced'], [2, 'reproduced']]);
    const even = result.criteria.find((c) => c.id === 'even')!;
    expect(even.perSeed).toEqual([1, 0, 1]);
    expect(even.heldOn).toBe(2);
    // 2 of 3 is below the default 80%.
    expect(result.verdict).toBe('not reproduced');
    expect(result.seedDependent).toBe(true);
    expect(result.reason).toContain('the verdict depends on the seed: seed 0 reproduced, seed 1 not reproduced, seed 2 reproduced');
    expect(runPreset(parityPreset({ seedRule: { kind: 'fraction', atLeast: 0.6 } }), { seeds: [0, 1, 2] }).verdict).toBe('reproduced');
    expect(runPreset(parityPreset(), { seeds: [2] }).verdict).toBe('reproduced');
    expect(runPreset(parityPreset(), { seeds: [2] }).seedDependent).toBe(false);
  });

  it('refuses an empty or repeated seed list with an error verdict naming it', () => {
    expect(runPreset(parityPreset(), { seeds: [] }).reason).toBe('the seed list threw RangeError: runPreset: expected distinct non-negative integer seeds, got []');
    expect(runPreset(parityPreset(), { seeds: [1, 1] }).verdict).toBe('error');
  });

  it('presetSeeds: all, one (--quick) and the first two (reduced)', () => {
    expect(presetSeeds({ seed: 0 }, 'all')).toEqual([...DEFAULT_SEEDS]);
    expect(presetSeeds({ seed: 0, seeds: [0, 5, 9] }, 'one')).toEqual([0]);
    expect(presetSeeds({ seed: 0, seeds: [0, 5, 9] }, 'reduced')).toEqual([0, 5]);
    expect(() => presetSeeds({ seed: 3, seeds: [0, 3] }, 'all')).toThrow(/expected the preset's seed 3 to be the first of its seeds/);
  });
});

describe('every claim preset over seeds', () => {
  it('declares at least 5 seeds starting with its seed, and two seeds share no run seed', () => {
    for (const preset of presets) {
      const seeds = presetSeeds(preset, 'all');
      expect(seeds.length, preset.name).toBeGreaterThanOrEqual(5);
      for (const mode of ['full', 'reduced'] as const) {
        const runSeeds = seeds.map((seed) => new Set(preset.plan(mode, seed).runs.map((r) => r.config.seed)));
        for (let i = 0; i < runSeeds.length; i++) {
          for (let j = i + 1; j < runSeeds.length; j++) {
            const shared = [...runSeeds[i]!].filter((s) => runSeeds[j]!.has(s));
            expect(shared, `${preset.name} (${mode}): seeds ${seeds[i]} and ${seeds[j]} share run seeds`).toEqual([]);
          }
        }
      }
      // The default plan is the one-seed plan of `seed` (what the playground shows).
      expect(preset.plan('full').runs.map((r) => r.config.seed)).toEqual(preset.plan('full', preset.seed).runs.map((r) => r.config.seed));
    }
  });
});
