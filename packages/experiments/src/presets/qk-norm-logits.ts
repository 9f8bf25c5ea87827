import { RUN_COLUMNS, evalSeries, finalTestAccuracy, maxAttentionLogit, runRow, show } from './analysis';
import { SEED_SOURCE, evalEveryFor } from './common';
import { definePreset, type PresetMode, type PresetRun, type RunRecord } from './preset';

const HIGH_LR = 0.03;
const MODERATE_LR = 0.003;

function run(id: 'moderate' | 'plain-high' | 'qk-high', mode: PresetMode, seed: number): PresetRun {
  const steps = mode === 'full' ? 300 : 6;
  const qk = id === 'qk-high';
  const lr = id === 'moderate' ? MODERATE_LR : HIGH_LR;
  return {
    id,
    label: `${qk ? 'QK-norm' : 'no QK-norm'}, lr ${lr}`,
    role: id === 'moderate' ? 'control' : 'subject',
    config: {
      task: 'sequence-classification',
      dataset: { name: 'sequences', options: mode === 'full' ? { trainSize: 2000, testSize: 1000, minLength: 2, maxLength: 8, signal: 0.8 } : { trainSize: 64, testSize: 32, minLength: 2, maxLength: 8, signal: 0.8 } },
      model: { name: 'transformer', options: { depth: 2, dim: 16, numHeads: 2, placement: 'pre' } },
      // QK-norm 'layer': LayerNorm of each head's queries and keys with a learned gain (Dehghani et al., 2023).
      norms: { block: { name: 'layer-norm' }, final: { name: 'layer-norm' }, qk: qk ? { name: 'qk-norm', options: { kind: 'layer' } } : { name: 'none' } },
      optimizer: { name: 'adam' },
      lr,
      batchSize: 16,
      steps,
      evalEvery: evalEveryFor(steps, 6),
      evalSamples: mode === 'full' ? 1000 : 32,
      seed,
    },
    // The largest |q.k / sqrt(d)| of the step's forward, every 2 steps.
    trace: { every: 2, read: (trainer) => ({ maxLogit: maxAttentionLogit(trainer.model) }), torch: { maxLogit: 'max-attention-logit' } },
  };
}

const peak = (record: RunRecord): number => {
  const values = (record.trace.maxLogit ?? []).map(([, v]) => v).filter(Number.isFinite);
  return values.length ? Math.max(...values) : Number.NaN;
};

/** Attention logits of a small Transformer at a high learning rate, with and without QK-norm. */
export const qkNormLogits = definePreset({
  name: 'qk-norm-logits',
  title: 'QK-norm keeps attention logits bounded at a high learning rate',
  claim: {
    quote: 'QKNorm: applies LayerNorm to queries and keys before computing attention; stabilizes training of very large Transformers by preventing attention logits from growing too large; used in Gemini and other frontier models',
    section: 'Layer Normalization Variants',
    source: SEED_SOURCE,
  },
  method:
    `A 2-block Pre-LN Transformer (width 16, 2 heads of 8) on padded sequences, trained with Adam for 300 steps at lr ${HIGH_LR} (10x the ` +
    `control's ${MODERATE_LR}) with and without QK-norm (LayerNorm per head on queries and keys, learned gain). Every 2 steps the largest ` +
    '|q.k / sqrt(8)| over both attention layers is read from the forward pass. Scaled to this size, logit growth at a high learning rate is the ' +
    "instability QK-norm is meant to remove in large models; the model is tiny, so only the mechanism is tested.",
  seed: 0,
  requires: { plugins: ['layer-norm', 'qk-norm'] },
  criteria: [
    { id: 'control', kind: 'control', statement: `without QK-norm the model trains at lr ${MODERATE_LR} (positive control)`, metric: 'final test accuracy, no QK-norm, moderate lr', comparison: '>=', threshold: 0.8 },
    { id: 'bounded', kind: 'claim', statement: `with QK-norm at lr ${HIGH_LR} the attention logits stay below 10`, metric: 'peak max-logit, QK-norm', comparison: '<=', threshold: 10 },
    { id: 'ratio', kind: 'claim', statement: `without QK-norm at lr ${HIGH_LR} the logits grow at least 3x higher`, metric: 'peak max-logit, no QK-norm / QK-norm', comparison: '>=', threshold: 3, unit: 'x' },
  ],
  plan: (mode, seed = 0) => ({ runs: [run('moderate', mode, seed), run('plain-high', mode, seed), run('qk-high', mode, seed)] }),
  analyze: ({ runs }) => {
    const records = Object.values(runs);
    return {
      measured: { control: finalTestAccuracy(runs.moderate!, 0.5), bounded: peak(runs['qk-high']!), ratio: peak(runs['plain-high']!) / peak(runs['qk-high']!) },
      details: { ratio: `${show(peak(runs['plain-high']!))} / ${show(peak(runs['qk-high']!))}` },
      table: { columns: [...RUN_COLUMNS, 'peak max-logit'], rows: records.map((r) => [...runRow(r), Number(peak(r).toFixed(3))]) },
      charts: [
        {
          id: 'max-logit', title: 'Largest attention logit |q.k / sqrt(d)| over training', xLabel: 'step', yLabel: 'max |logit|', yScale: 'log',
          series: records.map((r) => ({ label: r.label, points: r.trace.maxLogit ?? [] })), guides: [{ y: 10, label: 'threshold' }],
        },
        { id: 'accuracy', title: 'Test accuracy during training', xLabel: 'step', yLabel: 'test accuracy', series: records.map((r) => evalSeries(r, (e) => e.testAccuracy)), guides: [{ y: 0.5, label: 'chance' }] },
      ],
    };
  },
});
