import { normkitNormTimer, type NormTimingRequest } from '../norm-timing';
import { RUN_COLUMNS, evalSeries, finalTestAccuracy, mean, quantile, runRow, show } from './analysis';
import { SEED_SOURCE, evalEveryFor } from './common';
import { definePreset, type PresetMode, type PresetRun } from './preset';

const SEEDS = [0, 1] as const;
/** Rows x features of the timed input: transformer-like activations, a wide and a narrow case. */
const SHAPES: Record<PresetMode, Array<[number, number]>> = { full: [[1024, 256], [4096, 64]], reduced: [[64, 32]] };
const TIMING: Record<PresetMode, { rounds: number; calls: number; warmup: number }> = {
  full: { rounds: 150, calls: 5, warmup: 20 },
  reduced: { rounds: 3, calls: 1, warmup: 1 },
};

function run(norm: 'layer-norm' | 'rms-norm', seed: number, mode: PresetMode, outerSeed = 0): PresetRun {
  // The preset's own seeds 0..n-1 at lab seed k are run seeds k*n .. k*n+n-1: no two lab seeds share a run.
  const runSeed = outerSeed * SEEDS.length + seed;
  const steps = mode === 'full' ? 400 : 4;
  const ln = norm === 'layer-norm';
  return {
    id: `${ln ? 'ln' : 'rms'}-s${seed}`,
    label: `${ln ? 'LayerNorm' : 'RMSNorm'}, seed ${runSeed}`,
    role: ln ? 'control' : 'subject',
    config: {
      task: 'sequence-classification',
      dataset: { name: 'sequences', options: mode === 'full' ? { trainSize: 2000, testSize: 1000, minLength: 2, maxLength: 8, signal: 0.8 } : { trainSize: 64, testSize: 32, minLength: 2, maxLength: 8, signal: 0.8 } },
      model: { name: 'transformer', options: { depth: 2, dim: 16, numHeads: 2, placement: 'pre' } },
      norms: { block: { name: norm }, final: { name: norm } },
      optimizer: { name: 'adam' },
      lr: 0.003,
      batchSize: 16,
      steps,
      evalEvery: evalEveryFor(steps, 4),
      evalSamples: mode === 'full' ? 1000 : 32,
      seed: runSeed,
    },
  };
}

/**
 * RMSNorm vs LayerNorm: time of the normalizer's forward + backward on the same data (medians of
 * interleaved rounds, compared as a ratio: the machine's load changes, the ratio much less), and
 * the accuracy of the same Transformer trained with each. The timing is a request to the `normTiming`
 * resource (normkit's own operations when there is none; the lab's PyTorch replication times PyTorch's).
 */
export const rmsNormSpeed = definePreset({
  name: 'rms-norm-speed',
  title: 'RMSNorm is 10-20% faster than LayerNorm at equal accuracy',
  claim: {
    quote: 'RMSNorm (Root Mean Square Normalization): simplifies LayerNorm by removing mean centering; output = x / RMS(x) · γ where RMS(x) = √(mean(x²) + ε); 10-20% faster than LayerNorm with equivalent performance; used in Llama, GPT-NeoX, and T5',
    section: 'Layer Normalization Variants',
    source: SEED_SOURCE,
  },
  method:
    'Speed: forward + backward of normkit\'s LayerNorm and RMSNorm (float32, with their affine parameters) on the same [1024, 256] and [4096, 64] ' +
    'inputs and upstream gradients, 150 interleaved rounds of 5 calls each after 20 warm-up calls; the speedup is median(LayerNorm) / median(RMSNorm) ' +
    'per shape, combined by the geometric mean. Accuracy: a 2-block Pre-norm Transformer (width 16) on padded sequences with LayerNorm or RMSNorm ' +
    'in every slot, Adam lr 0.003, 400 steps, 2 seeds each.',
  seed: 0,
  requires: { plugins: ['layer-norm', 'rms-norm'] },
  criteria: [
    { id: 'control', kind: 'control', statement: 'the LayerNorm Transformer trains (positive control)', metric: 'test accuracy, LayerNorm (mean of 2 seeds)', comparison: '>=', threshold: 0.8 },
    { id: 'faster', kind: 'claim', statement: 'RMSNorm forward + backward is at least 10% faster than LayerNorm', metric: 'median time LayerNorm / RMSNorm (geometric mean over shapes)', comparison: '>=', threshold: 1.1, unit: 'x' },
    { id: 'equal-accuracy', kind: 'claim', statement: 'RMSNorm matches LayerNorm accuracy within 2 points', metric: '|test accuracy RMSNorm - LayerNorm| (mean of 2 seeds)', comparison: '<=', threshold: 0.02 },
  ],
  plan: (mode, seed = 0) => ({ runs: SEEDS.flatMap((s) => [run('layer-norm', s, mode, seed), run('rms-norm', s, mode, seed)]) }),
  analyze: ({ runs, mode, now, progress, resources }) => {
    const shapes = SHAPES[mode];
    const request: NormTimingRequest = { normalizers: ['layer-norm', 'rms-norm'], shapes, pass: 'forward+backward', ...TIMING[mode] };
    const timer = resources.normTiming ?? normkitNormTimer(now);
    const timings = timer.time(request, (index, round) =>
      progress(`timing [${shapes[index]!.join(', ')}]`, (index + (round + 1) / TIMING[mode].rounds) / shapes.length));
    const speedups = timings.map((t) => t.medians['layer-norm']! / t.medians['rms-norm']!);
    const speedup = Math.exp(mean(speedups.map((s) => Math.log(s))));
    const accuracy = (norm: string) => mean(SEEDS.map((s) => finalTestAccuracy(runs[`${norm}-s${s}`]!, 0.5)));
    const shapeName = (i: number) => `[${shapes[i]!.join(', ')}]`;
    return {
      measured: { control: accuracy('ln'), faster: speedup, 'equal-accuracy': Math.abs(accuracy('rms') - accuracy('ln')) },
      details: {
        faster: timings.map((t, i) => `${shapeName(i)}: ${show(t.medians['layer-norm']!)} ms / ${show(t.medians['rms-norm']!)} ms = ${show(speedups[i]!)}`).join('; '),
        'equal-accuracy': `|${show(accuracy('rms'))} - ${show(accuracy('ln'))}|`,
      },
      table: { columns: RUN_COLUMNS, rows: Object.values(runs).map((r) => runRow(r)) },
      charts: [
        ...timings.map((t, i) => ({
          id: `timing-${i}`, title: `Forward + backward time per call, ${shapeName(i)} (interleaved rounds)`, xLabel: 'round', yLabel: 'ms per call',
          series: [
            { label: 'LayerNorm', points: t.samples['layer-norm']!.map((v, r) => [r, v] as [number, number]), style: 'line+points' as const },
            { label: 'RMSNorm', points: t.samples['rms-norm']!.map((v, r) => [r, v] as [number, number]), style: 'line+points' as const },
          ],
        })),
        { id: 'accuracy', title: 'Test accuracy during training', xLabel: 'step', yLabel: 'test accuracy', series: Object.values(runs).map((r) => evalSeries(r, (e) => e.testAccuracy)) },
      ],
      notes: [
        'Timings vary from run to run (the machine is shared); medians of interleaved rounds and their ratio are what is compared. Everything else in this experiment is deterministic.',
      ],
      extra: {
        timing: timings.map((t, i) => ({
          implementation: timer.implementation,
          shape: shapes[i],
          rounds: t.rounds,
          callsPerSample: t.callsPerSample,
          medianMs: t.medians,
          interquartileMs: Object.fromEntries(Object.entries(t.samples).map(([k, v]) => [k, [quantile(v, 0.25), quantile(v, 0.75)]])),
          speedup: speedups[i],
        })),
      },
    };
  },
});
