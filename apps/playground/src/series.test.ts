import { createTrainer, type ExperimentConfigInput } from '@normkit/experiments';
import { beforeAll, describe, expect, it } from 'vitest';
import { RUN_COLORS, defaultDraft, withModel, withTask } from './drafts';
import { registerPlugins } from './plugins';
import {
  alignLines, chartDefinitions, chartLines, exponentialMovingAverage, flattenNumbers, lighten, type RunHistory, type RunView,
} from './series';

function history(config: ExperimentConfigInput): RunHistory {
  const trainer = createTrainer(config);
  trainer.runToEnd();
  return { steps: trainer.history.steps, evals: trainer.history.evals, end: trainer.history.end };
}

function view(index: number, runHistory: RunHistory): RunView {
  return { index, label: 'AB'[index]!, color: RUN_COLORS[index]!, task: 'classification', history: runHistory };
}

const chart = (id: string) => chartDefinitions.find((c) => c.id === id)!;

let batchNormRun: RunHistory;
let plainRun: RunHistory;

beforeAll(() => {
  registerPlugins();
  batchNormRun = history({ ...defaultDraft('batch-norm'), steps: 20, evalEvery: 10, evalSamples: 64 });
  plainRun = history({ ...defaultDraft(), steps: 15, evalEvery: 5, evalSamples: 64 });
});

describe('chart series', () => {
  it('smooths the batch loss with a debiased moving average', () => {
    expect(exponentialMovingAverage([4, 4, 4], 0.9)).toEqual([4, 4, 4].map((v) => expect.closeTo(v, 12) as unknown));
    const [first, second] = exponentialMovingAverage([1, 3], 0.5);
    expect(first).toBe(1);
    expect(second).toBeCloseTo((0.25 * 1 + 0.5 * 3) / 0.75, 12);
  });

  it('draws the headline curves for every run, test solid and train dashed', () => {
    const runs = [view(0, batchNormRun), view(1, plainRun)];
    const loss = chartLines(chart('loss'), runs);
    expect(loss.map((l) => [l.label, l.dashed ?? false, l.color])).toEqual([
      ['A test', false, RUN_COLORS[0]],
      ['A train', true, RUN_COLORS[0]],
      ['B test', false, RUN_COLORS[1]],
      ['B train', true, RUN_COLORS[1]],
    ]);
    expect(loss[0]!.x).toEqual([10, 20]);
    expect(loss[2]!.x).toEqual([5, 10, 15]);
    const batch = chartLines(chart('batch-loss'), runs);
    expect(batch.map((l) => l.x.length)).toEqual([20, 15]);
    // The gap is 0 without batch statistics, not without BatchNorm.
    const gap = chartLines(chart('gap'), runs);
    expect(gap[1]!.y.every((v) => v === 0)).toBe(true);
    expect(gap[0]!.y.some((v) => v !== 0)).toBe(true);
  });

  it('gives each layer its own line, deeper layers lighter, and probes only where a run has them', () => {
    const runs = [view(0, batchNormRun), view(1, plainRun)];
    const means = chartLines(chart('activation-mean'), runs);
    expect(means.map((l) => l.label)).toEqual(['A layers.0', 'A layers.1', 'A layers.2', 'B layers.0', 'B layers.1', 'B layers.2']);
    expect(means[0]!.color).toBe(RUN_COLORS[0]);
    expect(means[2]!.color).toBe(lighten(RUN_COLORS[0], 0.6));
    const running = chartLines(chart('running-var'), runs);
    expect(running.map((l) => l.label)).toEqual(['A layers.0.norm.batch-norm', 'A layers.1.norm.batch-norm', 'A layers.2.norm.batch-norm']);
    const stats = batchNormRun.evals[1]!.probes.runningStats['layers.0.norm.batch-norm']!;
    expect(running[0]!.y[1]).toBeCloseTo(stats.var.reduce((a, b) => a + b, 0) / stats.var.length, 12);
    expect(chartLines(chart('grad-norm'), runs).some((l) => l.label === 'A layers.0.norm.batch-norm')).toBe(true);
    expect(chartLines(chart('sigma'), runs)).toEqual([]);
    expect(chartLines(chart('max-logit'), runs)).toEqual([]);
  });

  it('shows attention max-logit for a Transformer and spectral sigma for a spectrally normalized model', () => {
    const transformer = withModel(withTask(defaultDraft(), 'sequence-classification'), 'transformer');
    const attention = history({ ...transformer, steps: 2, evalEvery: 2, evalSamples: 32 });
    const lines = chartLines(chart('max-logit'), [view(0, attention)]);
    expect(lines.map((l) => l.name)).toEqual(['blocks.0.self_attn', 'blocks.1.self_attn']);
    expect(lines[0]!.y[0]).toBeGreaterThan(0);
    // The position table belongs to the model itself: its gradient norm is named, not blank.
    expect(chartLines(chart('grad-norm'), [view(0, attention)]).map((l) => l.name)).toContain('(model)');
    const spectral = history({ ...defaultDraft(), weights: { layers: { name: 'spectral-norm' } }, steps: 2, evalEvery: 2, evalSamples: 32 });
    const sigma = chartLines(chart('sigma'), [view(0, spectral)]);
    expect(sigma.length).toBeGreaterThan(0);
    expect(sigma.every((l) => l.y[0]! > 0)).toBe(true);
  });

  it('charts Switchable Norm’s importance weights as the plugin reports them', () => {
    // Switchable Norm mixes instance statistics, so it needs a spatial (or token) axis: tokens [N, L, D].
    const switchable = history({ ...withTask(defaultDraft('switchable-norm'), 'sequence-classification'), steps: 2, evalEvery: 2, evalSamples: 32 });
    expect(switchable.end).toMatchObject({ type: 'done' });
    const lines = chartLines(chart('importance'), [view(0, switchable)]);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.every((l) => l.name.startsWith('layers.') && l.y.length === 1 && l.y[0]! > 0 && l.y[0]! < 1)).toBe(true);
  });

  it('flattens importance weights of any shape into one line per number', () => {
    expect(flattenNumbers({ mean: [0.2, 0.8], var: { a: 1 } }, 'sn')).toEqual([['sn.mean.0', 0.2], ['sn.mean.1', 0.8], ['sn.var.a', 1]]);
    expect(flattenNumbers('text')).toEqual([]);
    const withImportance: RunHistory = {
      ...batchNormRun,
      evals: batchNormRun.evals.map((e, i) => ({ ...e, probes: { ...e.probes, importance: { 'layers.0.norm.switchable-norm': { mean: [0.5 - i * 0.1, 0.5 + i * 0.1] } } } })),
    };
    const lines = chartLines(chart('importance'), [view(0, withImportance)]);
    expect(lines.map((l) => [l.name, l.y])).toEqual([
      ['layers.0.norm.switchable-norm.mean.0', [0.5, 0.4]],
      ['layers.0.norm.switchable-norm.mean.1', [0.5, 0.6]],
    ]);
  });

  it('aligns lines on one x axis with gaps, dropping values a log axis cannot show', () => {
    const lines = [
      { key: 'a', name: 'a', label: 'a', run: 0, color: '#000000', x: [1, 3], y: [1, 2] },
      { key: 'b', name: 'b', label: 'b', run: 1, color: '#000000', x: [2, 3], y: [0, Number.NaN] },
    ];
    expect(alignLines(lines)).toEqual({ x: [1, 2, 3], ys: [[1, null, 2], [null, 0, null]] });
    expect(alignLines(lines, true).ys[1]).toEqual([null, null, null]);
    expect(lighten('#000000', 0.5)).toBe('#808080');
  });
});
