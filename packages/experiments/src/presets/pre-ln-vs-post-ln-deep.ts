import { RUN_COLUMNS, evalSeries, finalTestAccuracy, lossSeries, meanTestAccuracy, runRow, show } from './analysis';
import { SEED_SOURCE } from './common';
import { definePreset, type PresetMode, type PresetRun } from './preset';
import { transformerStabilityConfig } from './runs';
import { DEFAULT_SEEDS, MOST_SEEDS } from './seed-rule';

/**
 * The redesign of `pre-ln-vs-post-ln` (declared after its 10-seed rerun showed Post-LN without
 * warmup usually stable at 8 blocks and lr 0.003): deeper (12 blocks) and a 3x larger Adam step,
 * the regime where Xiong et al. (2020) and Liu et al. (2020) put Post-LN's failure without warmup
 * (the residual stream's output depends more on each block as depth grows), and an easier task
 * (signal 1.2) so the trained accuracy is well above the thresholds.
 */
const DEPTH = 12;
const LR = 0.01;
const STEPS = 240;

function run(id: 'pre' | 'post' | 'post-warmup', mode: PresetMode, seed: number): PresetRun {
  return {
    id,
    label: id === 'pre' ? 'Pre-LN, no warmup' : id === 'post' ? 'Post-LN, no warmup' : 'Post-LN, warmup over the first half',
    role: id === 'post-warmup' ? 'control' : 'subject',
    // Pre-LN gets the final LayerNorm (its stream is never normalised otherwise); Post-LN ends normalised.
    config: transformerStabilityConfig({ mode, seed, placement: id === 'pre' ? 'pre' : 'post', warmup: id === 'post-warmup', depth: DEPTH, lr: LR, signal: 1.2, steps: STEPS }),
  };
}

/** Pre-LN vs Post-LN without warmup in a deeper, faster-stepping Transformer, over five seeds. */
export const preLnVsPostLnDeep = definePreset({
  name: 'pre-ln-vs-post-ln-deep',
  title: 'Pre-LN trains a deep Transformer stably; Post-LN needs warmup (redesigned: 12 blocks, lr 0.01, 5 seeds)',
  claim: {
    quote: 'Pre-LN applies normalization before attention/FFN (Norm(x) → Attention → Add); Post-LN applies after (Attention → Add → Norm); Pre-LN is more stable for deep Transformers (GPT, Llama) while Post-LN can achieve slightly better performance with careful tuning (BERT, T5)',
    section: 'Layer Normalization Variants',
    source: SEED_SOURCE,
  },
  method:
    `The second declared version of pre-ln-vs-post-ln. A Transformer encoder of ${DEPTH} blocks (width 16, 2 heads, LayerNorm) classifies padded ` +
    `token sequences (length 2-8, class signal 1.2). Pre-LN and Post-LN are trained with Adam at lr ${LR} from the first step (no warmup), ` +
    `Post-LN also with a linear warmup over the first half of its ${STEPS} steps (the positive control). Stability is the mean test accuracy ` +
    'over 8 evaluations spread over training (a run that collapses to chance for a while scores low even if it recovers). The Pre-LN criterion is ' +
    'relative to the control, so it does not depend on how high this task lets accuracy go. Five seeds; each criterion must hold on 4 of them.',
  seed: 0,
  seeds: DEFAULT_SEEDS,
  seedRule: MOST_SEEDS,
  requires: { plugins: ['layer-norm'] },
  criteria: [
    { id: 'control', kind: 'control', statement: 'Post-LN with warmup trains (positive control)', metric: 'final test accuracy, Post-LN + warmup', comparison: '>=', threshold: 0.8 },
    {
      id: 'pre-stable', kind: 'claim', statement: 'Pre-LN without warmup is as stable as Post-LN with warmup (within 5 points over training)',
      metric: 'mean test accuracy, Pre-LN - Post-LN + warmup', comparison: '>=', threshold: -0.05,
    },
    {
      id: 'post-unstable', kind: 'claim', statement: 'Post-LN without warmup is at least 10 points worse over training than Pre-LN',
      metric: 'mean test accuracy, Pre-LN - Post-LN (no warmup)', comparison: '>=', threshold: 0.1,
    },
    {
      id: 'warmup-rescues', kind: 'claim', statement: 'warmup gains Post-LN at least 10 points over training',
      metric: 'mean test accuracy, Post-LN with - without warmup', comparison: '>=', threshold: 0.1,
    },
  ],
  plan: (mode, seed = 0) => ({ runs: [run('post-warmup', mode, seed), run('pre', mode, seed), run('post', mode, seed)] }),
  analyze: ({ runs }) => {
    // A diverged run scores chance (2 classes) for the rest of training.
    const stability = (id: string) => meanTestAccuracy(runs[id]!, 0.5);
    return {
      measured: {
        control: finalTestAccuracy(runs['post-warmup']!, 0.5),
        'pre-stable': stability('pre') - stability('post-warmup'),
        'post-unstable': stability('pre') - stability('post'),
        'warmup-rescues': stability('post-warmup') - stability('post'),
      },
      details: {
        'pre-stable': `${show(stability('pre'))} - ${show(stability('post-warmup'))}`,
        'post-unstable': `${show(stability('pre'))} - ${show(stability('post'))}`,
        'warmup-rescues': `${show(stability('post-warmup'))} - ${show(stability('post'))}`,
      },
      table: { columns: [...RUN_COLUMNS, 'mean test acc'], rows: Object.values(runs).map((r) => [...runRow(r), Number(stability(r.id).toFixed(4))]) },
      charts: [
        { id: 'accuracy', title: `Test accuracy during training (${DEPTH} blocks, lr ${LR})`, xLabel: 'step', yLabel: 'test accuracy', series: Object.values(runs).map((r) => evalSeries(r, (e) => e.testAccuracy)), guides: [{ y: 0.5, label: 'chance' }] },
        { id: 'loss', title: 'Training loss (window means)', xLabel: 'step', yLabel: 'cross entropy', series: Object.values(runs).map((r) => lossSeries(r)) },
      ],
      notes: ['History: the first version (pre-ln-vs-post-ln: 8 blocks, lr 0.003, signal 0.8) held all its criteria on 3 of 10 seeds (0-9) in a rerun; Post-LN without warmup was usually stable there, and seed 0 was one where it collapsed for a while. That preset is kept unchanged; this one was declared after that rerun and before its own first run.'],
    };
  },
});
