import { RUN_COLUMNS, evalSeries, finalTestAccuracy, lossSeries, meanTestAccuracy, runRow, show } from './analysis';
import { SEED_SOURCE } from './common';
import { definePreset, type PresetMode, type PresetRun } from './preset';
import { transformerStabilityConfig } from './runs';

const DEPTH = 8;
const LR = 0.003;

function run(id: 'pre' | 'post' | 'post-warmup', mode: PresetMode, seed: number): PresetRun {
  return {
    id,
    label: id === 'pre' ? 'Pre-LN, no warmup' : id === 'post' ? 'Post-LN, no warmup' : 'Post-LN, warmup over the first half',
    role: id === 'post-warmup' ? 'control' : 'subject',
    // Pre-LN gets the final LayerNorm (its stream is never normalised otherwise); Post-LN ends normalised.
    config: transformerStabilityConfig({ mode, seed, placement: id === 'pre' ? 'pre' : 'post', warmup: id === 'post-warmup', depth: DEPTH, lr: LR, signal: 0.8, steps: 240 }),
  };
}

/**
 * A deep (8-block) Transformer with Pre-LN vs Post-LN at the same learning rate without warmup,
 * and Post-LN with warmup (the BERT recipe) as the positive control (Xiong et al., 2020).
 */
export const preLnVsPostLn = definePreset({
  name: 'pre-ln-vs-post-ln',
  title: 'Pre-LN trains a deep Transformer stably; Post-LN needs warmup',
  claim: {
    quote: 'Pre-Norm vs Post-Norm: Pre-LN applies normalization before attention/FFN (Norm(x) → Attention → Add); Post-LN applies after (Attention → Add → Norm); Pre-LN is more stable for deep Transformers (GPT, Llama) while Post-LN can achieve slightly better performance with careful tuning (BERT, T5)',
    section: 'Layer Normalization Variants',
    source: SEED_SOURCE,
  },
  method:
    `A Transformer encoder of ${DEPTH} blocks (width 16, 2 heads, LayerNorm) classifies padded token sequences (length 2-8). Pre-LN and Post-LN are ` +
    `trained with Adam at lr ${LR} from the first step (no warmup), Post-LN also with a linear warmup over the first half of its 240 steps. ` +
    'Stability is the mean test accuracy over 8 evaluations spread over training (a run that collapses to chance for a while scores low even if it recovers).',
  seed: 0,
  requires: { plugins: ['layer-norm'] },
  criteria: [
    { id: 'control', kind: 'control', statement: 'Post-LN with warmup trains (positive control)', metric: 'final test accuracy, Post-LN + warmup', comparison: '>=', threshold: 0.8 },
    { id: 'pre-stable', kind: 'claim', statement: 'Pre-LN without warmup trains stably', metric: 'mean test accuracy over training, Pre-LN', comparison: '>=', threshold: 0.8 },
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
        'pre-stable': stability('pre'),
        'post-unstable': stability('pre') - stability('post'),
        'warmup-rescues': stability('post-warmup') - stability('post'),
      },
      details: {
        'post-unstable': `${show(stability('pre'))} - ${show(stability('post'))}`,
        'warmup-rescues': `${show(stability('post-warmup'))} - ${show(stability('post'))}`,
      },
      table: { columns: [...RUN_COLUMNS, 'mean test acc'], rows: Object.values(runs).map((r) => [...runRow(r), Number(stability(r.id).toFixed(4))]) },
      charts: [
        { id: 'accuracy', title: `Test accuracy during training (${DEPTH} blocks, lr ${LR})`, xLabel: 'step', yLabel: 'test accuracy', series: Object.values(runs).map((r) => evalSeries(r, (e) => e.testAccuracy)), guides: [{ y: 0.5, label: 'chance' }] },
        { id: 'loss', title: 'Training loss (window means)', xLabel: 'step', yLabel: 'cross entropy', series: Object.values(runs).map((r) => lossSeries(r)) },
      ],
    };
  },
});
