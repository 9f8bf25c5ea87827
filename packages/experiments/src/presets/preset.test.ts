import { beforeAll, describe, expect, it } from 'vitest';
import { registerTestPlugins } from '../test-support';
import {
  downsampleMean, largestSingularValue, mean, median, quantile, timeInterleaved,
} from './analysis';
import { presets, presetByName } from './index';
import { checkCriterion, definePreset, judge, type ClaimPreset, type Criterion } from './preset';
import { missingRequirements, runPreset, type PresetProgress } from './run-preset';

beforeAll(() => registerTestPlugins());

const control: Criterion = { id: 'c', kind: 'control', statement: 'control trains', metric: 'acc', comparison: '>=', threshold: 0.8 };
const claimA: Criterion = { id: 'a', kind: 'claim', statement: 'A holds', metric: 'x', comparison: '>=', threshold: 2 };
const claimB: Criterion = { id: 'b', kind: 'claim', statement: 'B holds', metric: 'y', comparison: '<=', threshold: 0.1 };

describe('checkCriterion and judge', () => {
  it('compares against the declared threshold in the declared direction; NaN is not measurable', () => {
    expect(checkCriterion(claimA, 2).passed).toBe(true);
    expect(checkCriterion(claimA, 1.99).passed).toBe(false);
    expect(checkCriterion(claimB, 0.1).passed).toBe(true);
    expect(checkCriterion(claimB, 0.2).passed).toBe(false);
    expect(checkCriterion(claimB, Number.NaN).passed).toBeNull();
  });

  it('a measured value that equals the threshold up to binary rounding meets it, and one a step away does not', () => {
    const atLeast: Criterion = { ...claimA, threshold: -0.02 };
    const atMost: Criterion = { ...claimB, threshold: 0.3 };
    expect(0.884 - 0.904).toBe(-0.020000000000000018);
    expect(checkCriterion(atLeast, 0.884 - 0.904).passed).toBe(true);
    expect(checkCriterion(atLeast, 0.882 - 0.904).passed).toBe(false);
    expect(0.1 + 0.2).toBe(0.30000000000000004);
    expect(checkCriterion(atMost, 0.1 + 0.2).passed).toBe(true);
    expect(checkCriterion(atMost, 0.302).passed).toBe(false);
  });

  it('a failed positive control makes the verdict inconclusive, never "not reproduced"', () => {
    const result = judge([checkCriterion(control, 0.5), checkCriterion(claimA, 0), checkCriterion(claimB, 1)]);
    expect(result.verdict).toBe('inconclusive');
    expect(result.reason).toContain('positive control failed: control trains (measured 0.5, needed >= 0.8)');
    expect(judge([checkCriterion(control, Number.NaN), checkCriterion(claimA, 3)]).verdict).toBe('inconclusive');
  });

  it('reproduced, partially reproduced, not reproduced, and inconclusive for an unmeasurable claim', () => {
    const withControl = (a: number, b: number) => judge([checkCriterion(control, 0.9), checkCriterion(claimA, a), checkCriterion(claimB, b)]);
    expect(withControl(3, 0).verdict).toBe('reproduced');
    const partial = withControl(3, 1);
    expect(partial.verdict).toBe('partially reproduced');
    expect(partial.reason).toBe('1 of 2 held; did not hold: B holds');
    expect(withControl(1, 1).verdict).toBe('not reproduced');
    expect(withControl(Number.NaN, 0).verdict).toBe('inconclusive');
  });
});

describe('analysis helpers', () => {
  it('median, quantile and mean', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(quantile([1, 2, 3, 4, 5], 0.25)).toBe(2);
    expect(quantile([1, 2], 0.5)).toBe(1.5);
    expect(mean([])).toBeNaN();
  });

  it('downsampleMean averages windows and drops non-finite values', () => {
    const points = Array.from({ length: 10 }, (_, i) => [i, i] as [number, number]);
    expect(downsampleMean(points, 5)).toEqual([[0.5, 0.5], [2.5, 2.5], [4.5, 4.5], [6.5, 6.5], [8.5, 8.5]]);
    expect(downsampleMean([[0, 1], [1, Number.NaN]], 10)).toEqual([[0, 1]]);
  });

  it('largestSingularValue matches a diagonal and a rank-one matrix', () => {
    expect(largestSingularValue([3, 0, 0, 0, -5, 0], 2, 3)).toBeCloseTo(5, 9);
    // u v^T with |u| = sqrt(5), |v| = sqrt(2): sigma = sqrt(10).
    expect(largestSingularValue([1, 1, 2, 2], 2, 2)).toBeCloseTo(Math.sqrt(10), 9);
  });

  it('timeInterleaved alternates the order and takes medians per task', () => {
    let clock = 0;
    const order: string[] = [];
    const timing = timeInterleaved(
      { a: () => { order.push('a'); clock += 2; }, b: () => { order.push('b'); clock += 1; } },
      { rounds: 3, calls: 2, warmup: 1, now: () => clock },
    );
    expect(order.slice(2)).toEqual(['a', 'a', 'b', 'b', 'b', 'b', 'a', 'a', 'a', 'a', 'b', 'b']);
    expect(timing.medians).toEqual({ a: 2, b: 1 });
    expect(timing.samples.a).toHaveLength(3);
  });
});

/** A tiny spirals experiment with the test plugins: two runs, one traced. */
function tinyPreset(overrides: Partial<ClaimPreset> = {}): ClaimPreset {
  const config = (seed: number) => ({
    task: 'classification' as const,
    dataset: { name: 'gaussians', options: { trainSize: 64, testSize: 32 } },
    model: { name: 'mlp', options: { width: 8, depth: 1 } },
    norms: { hidden: { name: 'batch-norm' } },
    batchSize: 16,
    steps: 12,
    evalEvery: 6,
    evalSamples: 32,
    seed,
  });
  return definePreset({
    name: 'tiny',
    title: 'tiny',
    claim: { quote: 'q', section: 's', source: 'test' },
    method: 'm',
    seed: 3,
    requires: { plugins: ['batch-norm'] },
    criteria: [control, claimA],
    plan: () => ({
      runs: [
        { id: 'one', label: 'one', role: 'control', config: config(3) },
        { id: 'two', label: 'two', role: 'subject', config: config(4), trace: { every: 4, read: (trainer) => ({ loss: trainer.history.steps.at(-1)!.loss }) } },
      ],
    }),
    analyze: ({ runs, evals }) => ({
      measured: { c: runs.one!.evals.at(-1)!.trainAccuracy, a: evals.two!.length },
      charts: [{ id: 'x', title: 't', xLabel: 'x', yLabel: 'y', series: [] }],
    }),
    ...overrides,
  });
}

describe('runPreset', () => {
  it('runs every configuration, keeps JSON records, traces, and judges with the declared criteria', () => {
    const events: PresetProgress[] = [];
    const result = runPreset(tinyPreset(), { mode: 'reduced', onProgress: (e) => events.push(e), progressIntervalMs: 0 });
    expect(result.runs.map((r) => [r.id, r.status, r.completedSteps, r.evals.length])).toEqual([['one', 'done', 12, 2], ['two', 'done', 12, 2]]);
    expect(result.runs[1]!.trace.loss!.map(([step]) => step)).toEqual([4, 8, 12]);
    expect(result.criteria.find((c) => c.id === 'a')!.measured).toBe(2);
    expect(result.criteria.find((c) => c.id === 'a')!.passed).toBe(true);
    expect(['reproduced', 'inconclusive']).toContain(result.verdict);
    expect((JSON.parse(JSON.stringify(result)) as typeof result).runs[0]!.config.seed).toBe(3);
    expect(events[0]).toMatchObject({ type: 'preset-start', runs: 2, totalSteps: 24 });
    expect(events.filter((e) => e.type === 'run-progress').at(-1)).toMatchObject({ step: 12, steps: 12, presetStep: 24, totalSteps: 24 });
    expect(events.at(-1)).toMatchObject({ type: 'preset-end', verdict: result.verdict });
  });

  it('is deterministic: the same preset gives the same records apart from timings', () => {
    const strip = (r: ReturnType<typeof runPreset>) => r.runs.map(({ elapsedMs: _e, ...rest }) => rest);
    expect(strip(runPreset(tinyPreset()))).toEqual(strip(runPreset(tinyPreset())));
  });

  it('a missing plugin makes the experiment unavailable without running it', () => {
    const preset = tinyPreset({ requires: { plugins: ['batch-norm', 'no-such-norm'], blockWrappers: ['no-such-wrapper'], resources: ['mnist'] } });
    expect(missingRequirements(preset)).toEqual(['plugin "no-such-norm"', 'block wrapper "no-such-wrapper"', 'resource "mnist"']);
    const result = runPreset(preset);
    expect(result.verdict).toBe('unavailable');
    expect(result.reason).toBe('not run: missing plugin "no-such-norm", block wrapper "no-such-wrapper", resource "mnist"');
    expect(result.runs).toEqual([]);
    expect(result.criteria.every((c) => c.passed === null)).toBe(true);
  });

  it('an analysis or a run that throws gives the verdict "error" with the message', () => {
    const broken = runPreset(tinyPreset({ analyze: () => { throw new Error('boom'); } }));
    expect(broken.verdict).toBe('error');
    expect(broken.reason).toBe('the analysis threw Error: boom');
    const failing = tinyPreset({
      plan: () => ({ runs: [{ id: 'f', label: 'f', role: 'subject', config: { task: 'classification', dataset: { name: 'gaussians' }, model: { name: 'mlp' }, norms: { hidden: { name: 'record-channels-first', options: { failAt: 3 } } }, steps: 5 } }] }),
    });
    const result = runPreset(failing);
    expect(result.verdict).toBe('error');
    expect(result.reason).toContain('run "f" threw ValueError');
    expect(result.runs[0]!.status).toBe('failed');
  });
});

describe('the claim presets', () => {
  it('have unique names, a quoted claim, controls and claim criteria, and resolve in both modes', () => {
    const names = presets.map((p) => p.name);
    expect(new Set(names).size).toBe(names.length);
    for (const preset of presets) {
      expect(preset.name).toMatch(/^[a-z0-9-]+$/);
      expect(presetByName(preset.name)).toBe(preset);
      expect(preset.claim.quote.length).toBeGreaterThan(40);
      expect(preset.criteria.some((c) => c.kind === 'control')).toBe(true);
      expect(preset.criteria.some((c) => c.kind === 'claim')).toBe(true);
      for (const mode of ['full', 'reduced'] as const) {
        const runs = preset.plan(mode).runs;
        expect(new Set(runs.map((r) => r.id)).size).toBe(runs.length);
        for (const r of runs) expect(['control', 'subject', 'reference']).toContain(r.role);
        // Reduced forms stay tiny (CI runs them all).
        const steps = runs.reduce((n, r) => n + (r.config.steps ?? 0), 0);
        if (mode === 'reduced') expect(steps).toBeLessThanOrEqual(200);
      }
    }
  });
});
