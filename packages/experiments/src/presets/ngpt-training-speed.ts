import type { ExperimentConfigInput } from '../config';
import { RUN_COLUMNS, evalSeries, finalTestAccuracy, lossSeries, meanTestAccuracy, runRow, show } from './analysis';
import { DEEP_CONTROLS } from './deep-transformer';
import { definePreset, type PresetMode, type PresetRun, type RunRecord } from './preset';
import { transformerStabilityConfig } from './runs';
import { DEFAULT_SEEDS, MOST_SEEDS } from './seed-rule';

/**
 * Declared before the first run: the issue's 24 blocks at width 64 (the placement presets' v2
 * model), Adam at lr 0.003 for both models from the first step (equal steps, equal rate; nGPT
 * trains without warmup or weight decay, as in the paper, and the Pre-LN baseline gets neither
 * either), 70 steps at batch 16 and 4 evaluations of 128 samples per split: a 24-block nGPT step
 * measured 0.43 s of CPU and Pre-LN's 0.19 s (load average 12), so both runs fit about 60 s.
 */
export const NGPT_SETUP = { depth: 24, dim: 64, lr: 0.003, signal: 1.2, steps: 70, evals: 4, evalSamples: 128 } as const;
/** The paper's smallest speed-up (4x at context 1k; up to 20x at 8k). */
const SPEEDUP = 4;
/** "The same accuracy": nGPT's final test accuracy at most this far below Pre-LN's (about 1.5 standard errors of a difference over 2 x 128 samples). */
const SAME_ACCURACY = 0.05;

/** The Pre-LN baseline (TinyTransformer, final LayerNorm) and nGPT on the same data, optimizer, steps and seed. */
function run(id: 'pre' | 'ngpt', mode: PresetMode, seed: number): PresetRun {
  const base = transformerStabilityConfig({
    mode, seed, placement: 'pre', warmup: false, depth: NGPT_SETUP.depth, dim: NGPT_SETUP.dim, lr: NGPT_SETUP.lr, signal: NGPT_SETUP.signal,
    steps: NGPT_SETUP.steps, evals: NGPT_SETUP.evals, evalSamples: NGPT_SETUP.evalSamples,
  });
  if (id === 'pre') return { id, label: 'Pre-LN Transformer', role: 'control', config: base };
  const depth = base.model.options!.depth as number;
  const config: ExperimentConfigInput = { ...base, model: { name: 'ngpt', options: { depth, dim: NGPT_SETUP.dim, numHeads: 2 } }, norms: {} };
  return { id, label: 'nGPT', role: 'subject', config };
}

/**
 * The steps Pre-LN took to reach its final training loss (its last window mean) over the steps
 * nGPT took to reach the same value (its first window mean at or below it); 0 when nGPT never
 * does or diverged, NaN when Pre-LN diverged.
 */
export function stepsSpeedup(pre: RunRecord, ngpt: RunRecord): number {
  const target = pre.status === 'diverged' ? undefined : pre.loss.at(-1);
  if (!target) return Number.NaN;
  if (ngpt.status === 'diverged') return 0;
  const reached = ngpt.loss.find(([, loss]) => loss <= target[1]);
  return reached ? target[0] / reached[0] : 0;
}

/** nGPT (Loshchilov et al., 2024) against a Pre-LN Transformer of the same depth and width at equal steps. */
export const ngptTrainingSpeed = definePreset({
  name: 'ngpt-training-speed',
  title: 'nGPT reaches the same loss in several times fewer steps than a Pre-LN Transformer',
  claim: {
    quote:
      'We propose a novel neural network architecture, the normalized Transformer (nGPT) with representation learning on the hypersphere. ' +
      'Experiments show that nGPT learns much faster, reducing the number of training steps required to achieve the same accuracy by a factor of 4 to 20, depending on the sequence length.',
    section: 'Abstract',
    source: 'Loshchilov, Hsieh, Sun & Ginsburg, "nGPT: Normalized Transformer with Representation Learning on the Hypersphere", arXiv:2410.01131 (2024)',
  },
  method:
    `A Pre-LN Transformer encoder (${NGPT_SETUP.depth} blocks, width ${NGPT_SETUP.dim}, 2 heads, LayerNorm, final LayerNorm, GELU MLP of width ${2 * NGPT_SETUP.dim}) and an nGPT of the same ` +
    `depth and width (NGPTBlock: unit-norm hidden states, eigen learning rates alpha_A and alpha_M initialised to 0.05, s_qk, s_u, s_v, s_z, softmax scale sqrt(d_k), ` +
    `gated SiLU MLP of width ${2 * NGPT_SETUP.dim}; embeddings, positions and head on the unit sphere, every matrix renormalised after each optimizer step by the ` +
    `model's post-step hook) classify padded token sequences (length 2-8, class signal ${NGPT_SETUP.signal}). Both train with Adam at lr ${NGPT_SETUP.lr} from the first ` +
    `step, no weight decay, for ${NGPT_SETUP.steps} steps at batch 16. Speed-up is Pre-LN's steps to its final training loss (window mean of at least 5 steps) ` +
    `over nGPT's steps to the same loss; the paper's smallest factor, ${SPEEDUP}x, is the threshold. "The same accuracy" is nGPT's final test accuracy within ` +
    `${SAME_ACCURACY * 100} points of Pre-LN's (${NGPT_SETUP.evals} evaluations of ${NGPT_SETUP.evalSamples} samples per split). Pre-LN training is the positive control. ` +
    'The paper trains language models on next-token prediction at 0.5B and 1B parameters; only the step-count claim is tested here, on a small classifier. ' +
    'Five seeds; each criterion must hold on 4 of them.',
  seed: 0,
  seeds: DEFAULT_SEEDS,
  seedRule: MOST_SEEDS,
  requires: { plugins: ['layer-norm'] },
  criteria: [
    DEEP_CONTROLS[0]!,
    {
      id: 'faster', kind: 'claim', statement: `nGPT reaches Pre-LN's final training loss in at most 1/${SPEEDUP} of the steps`,
      metric: "Pre-LN's steps to its final training loss / nGPT's steps to that loss", comparison: '>=', threshold: SPEEDUP, unit: 'x',
    },
    {
      id: 'same-accuracy', kind: 'claim', statement: `nGPT ends within ${SAME_ACCURACY * 100} points of Pre-LN's final test accuracy (or above it)`,
      metric: 'final test accuracy, nGPT - Pre-LN', comparison: '>=', threshold: -SAME_ACCURACY,
    },
  ],
  plan: (mode, seed = 0) => ({ runs: [run('pre', mode, seed), run('ngpt', mode, seed)] }),
  analyze: ({ runs }) => {
    const pre = runs.pre!;
    const ngpt = runs.ngpt!;
    const final = (r: RunRecord) => finalTestAccuracy(r, 0.5);
    const speedup = stepsSpeedup(pre, ngpt);
    const records = Object.values(runs);
    return {
      measured: { 'pre-trains': final(pre), faster: speedup, 'same-accuracy': final(ngpt) - final(pre) },
      details: {
        faster: `Pre-LN's final loss ${show(pre.loss.at(-1)?.[1] ?? Number.NaN)} at step ${show(pre.loss.at(-1)?.[0] ?? Number.NaN)}; speed-up ${show(speedup)}`,
        'same-accuracy': `${show(final(ngpt))} - ${show(final(pre))}`,
      },
      table: { columns: [...RUN_COLUMNS, 'mean test acc'], rows: records.map((r) => [...runRow(r, final(r)), Number(meanTestAccuracy(r, 0.5).toFixed(4))]) },
      charts: [
        { id: 'loss', title: `Training loss (window means; ${NGPT_SETUP.depth} blocks, width ${NGPT_SETUP.dim}, lr ${NGPT_SETUP.lr})`, xLabel: 'step', yLabel: 'cross entropy', series: records.map((r) => lossSeries(r)) },
        { id: 'accuracy', title: 'Test accuracy during training', xLabel: 'step', yLabel: 'test accuracy', series: records.map((r) => evalSeries(r, (e) => e.testAccuracy)), guides: [{ y: 0.5, label: 'chance' }] },
      ],
    };
  },
});
