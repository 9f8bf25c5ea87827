import { Tensor, noGrad } from '@normkit/tensor';
import { gatherBatch, type Dataset } from '../datasets/dataset';
import type { Classifier } from '../models/model';
import { restoreBuffers, snapshotBuffers } from '../probes';
import { RUN_COLUMNS, finalTestAccuracy, runRow, show } from './analysis';
import { SEED_SOURCE, mnistData } from './common';
import { definePreset, type PresetMode, type PresetRun } from './preset';
import { DEFAULT_SEEDS, MOST_SEEDS } from './seed-rule';

/** Digits in a probe batch: one probed sample and its batchmates. */
const BATCH = 16;
/** The other "style": contrast x3 and brightness +1 (a strong, global change of per-image statistics). */
const CONTRAST = 3;
const BRIGHTNESS = 1;
/** Probe batches per measurement (each with a different probed digit). */
const PROBES = 8;

function run(norm: 'batch-norm' | 'instance-norm', mode: PresetMode, seed: number): PresetRun {
  const steps = mode === 'full' ? 300 : 4;
  return {
    id: norm === 'batch-norm' ? 'bn' : 'in',
    label: norm === 'batch-norm' ? 'BatchNorm CNN' : 'InstanceNorm CNN',
    role: norm === 'batch-norm' ? 'control' : 'subject',
    config: {
      task: 'classification',
      dataset: mnistData(mode),
      model: { name: 'cnn', options: { channels: 8, stages: 2 } },
      norms: { conv: { name: norm } },
      optimizer: { name: 'sgd', options: { momentum: 0.9 } },
      lr: 0.1,
      batchSize: 32,
      steps,
      evalEvery: Math.max(1, Math.floor(steps / 4)),
      evalSamples: mode === 'full' ? 1000 : 32,
      seed,
    },
  };
}

/**
 * How much one digit's logits move (relative L2 change) when its 15 batchmates change style, in train
 * mode (batch statistics), mean over `PROBES` probed digits. Running statistics are restored.
 */
export function styleLeakage(model: Classifier, dataset: Dataset, probes = PROBES): number {
  const count = Math.min(dataset.test.count, BATCH * (probes + 1));
  if (count < 2 * BATCH) return Number.NaN;
  const buffers = snapshotBuffers(model);
  let total = 0;
  let measured = 0;
  try {
    model.train();
    for (let probe = 0; probe + 1 < count / BATCH && probe < probes; probe++) {
      const batch = gatherBatch(dataset, dataset.test, Int32Array.from({ length: BATCH }, (_, i) => probe * BATCH + i));
      const width = batch.inputs.length / BATCH;
      const restyled = batch.inputs.slice();
      for (let i = width; i < restyled.length; i++) restyled[i] = CONTRAST * restyled[i]! + BRIGHTNESS;
      const logitsOf = (inputs: Float32Array) => {
        restoreBuffers(buffers);
        return noGrad(() => model.forward({ x: new Tensor(inputs, batch.shape) })).data.slice(0, dataset.numClasses);
      };
      const same = logitsOf(batch.inputs);
      const mixed = logitsOf(restyled);
      let difference = 0;
      let norm = 0;
      for (let c = 0; c < same.length; c++) {
        difference += (Number(same[c]) - Number(mixed[c])) ** 2;
        norm += Number(same[c]) ** 2;
      }
      total += Math.sqrt(difference / norm);
      measured++;
    }
  } finally {
    restoreBuffers(buffers);
    model.train();
  }
  return measured > 0 ? total / measured : Number.NaN;
}

/** BatchNorm vs InstanceNorm CNNs: does one sample's output depend on the style of the others in its batch? */
export const instanceNormStyleLeakage = definePreset({
  name: 'instance-norm-style-leakage',
  title: 'InstanceNorm keeps styles apart; BatchNorm statistics mix them',
  claim: {
    quote: 'Instance Normalization: normalizes each channel independently per sample (equivalent to GroupNorm with G=C); originally designed for style transfer where batch statistics would mix styles; used in GANs and image-to-image translation',
    section: 'Group and Instance Normalization',
    source: SEED_SOURCE,
  },
  method:
    'A measurable version of "batch statistics would mix styles": the small MNIST CNN (conv 8 and 16 channels) with BatchNorm or InstanceNorm, ' +
    '300 steps at batch 32 (SGD, momentum 0.9, lr 0.1). Then, in train mode (batch statistics, as style-transfer networks normalise), a digit ' +
    `is run in a batch of ${BATCH} test digits twice: with its batchmates as they are, and with their "style" changed (contrast x${CONTRAST}, ` +
    `brightness +${BRIGHTNESS}). Leakage is the relative L2 change of the probed digit's logits, averaged over ${PROBES} probed digits. ` +
    'BatchNorm must leak at least 5%; InstanceNorm at most 1e-5 (rounding). Five seeds; each criterion on 4 of them.',
  seed: 0,
  seeds: DEFAULT_SEEDS,
  seedRule: MOST_SEEDS,
  requires: { plugins: ['batch-norm', 'instance-norm'], resources: ['mnist'] },
  criteria: [
    { id: 'bn-control', kind: 'control', statement: 'the BatchNorm CNN trains (positive control)', metric: 'final test accuracy, BatchNorm', comparison: '>=', threshold: 0.8 },
    { id: 'in-control', kind: 'control', statement: 'the InstanceNorm CNN trains', metric: 'final test accuracy, InstanceNorm', comparison: '>=', threshold: 0.5 },
    { id: 'bn-leaks', kind: 'claim', statement: "BatchNorm: the batchmates' style moves a digit's logits by at least 5%", metric: 'relative logit change, BatchNorm', comparison: '>=', threshold: 0.05 },
    { id: 'in-isolates', kind: 'claim', statement: "InstanceNorm: the batchmates' style does not move a digit's logits (at most 1e-5, rounding)", metric: 'relative logit change, InstanceNorm', comparison: '<=', threshold: 1e-5 },
  ],
  plan: (mode, seed = 0) => ({ runs: [run('batch-norm', mode, seed), run('instance-norm', mode, seed)] }),
  analyze: ({ runs, trainers }) => {
    const leak = (id: string) => (runs[id]!.status === 'diverged' ? Number.NaN : styleLeakage(trainers[id]!.model as Classifier, trainers[id]!.dataset));
    const bn = leak('bn');
    const inst = leak('in');
    return {
      measured: { 'bn-control': finalTestAccuracy(runs.bn!, 0.1), 'in-control': finalTestAccuracy(runs.in!, 0.1), 'bn-leaks': bn, 'in-isolates': inst },
      details: { 'bn-leaks': show(bn), 'in-isolates': show(inst) },
      table: { columns: [...RUN_COLUMNS, 'style leakage'], rows: Object.values(runs).map((r) => [...runRow(r, finalTestAccuracy(r, 0.1)), r.id === 'bn' ? bn : inst]) },
      charts: [
        { id: 'leakage', title: 'Relative change of a digit\'s logits when its batchmates change style', xLabel: 'normalizer (0: BatchNorm, 1: InstanceNorm)', yLabel: 'relative logit change', xTicks: [0, 1], series: [{ label: 'leakage', points: [[0, bn], [1, Math.max(inst, 1e-12)]], style: 'points' }] },
      ],
      notes: ['In eval mode BatchNorm uses its running statistics and does not leak either; style-transfer networks normalise with the statistics of what they process, which is where the claim applies.'],
    };
  },
});
