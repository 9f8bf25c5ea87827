import { Tensor, noGrad, randn, sum } from '@normkit/tensor';
import type { Dataset } from '../datasets/dataset';
import type { ConditionalGan } from '../models/gan';
import { weightLayers } from '../models/model';
import { streamGenerator } from '../seed';
import { RUN_COLUMNS, mean, runRow, show, largestSingularValue } from './analysis';
import { SEED_SOURCE } from './common';
import { definePreset, type ChartSeries, type PresetMode, type PresetRun, type RunRecord } from './preset';

function run(spectral: boolean, mode: PresetMode, seed: number): PresetRun {
  const steps = mode === 'full' ? 2000 : 8;
  return {
    id: spectral ? 'sn' : 'plain',
    label: spectral ? 'spectral norm on the discriminator' : 'unconstrained discriminator',
    role: spectral ? 'subject' : 'control',
    config: {
      task: 'conditional-generation',
      // 4 classes x 2 modes on a ring of radius 1, std 0.05.
      dataset: { name: 'conditional-mixture', options: mode === 'full' ? { trainSize: 2000, testSize: 1000 } : { trainSize: 64, testSize: 32 } },
      model: { name: 'conditional-gan', options: { latentDim: 4, width: 64, depth: 2, discriminatorWidth: 64, discriminatorDepth: 2 } },
      weights: spectral ? { discriminator: { name: 'spectral-norm' } } : {},
      // DCGAN's Adam settings (beta1 0.5), as SN-GAN uses them.
      optimizer: { name: 'adam', options: { beta1: 0.5, beta2: 0.999 } },
      lr: 0.001,
      batchSize: 64,
      steps,
      evalEvery: Math.max(1, Math.floor(steps / 8)),
      evalSamples: mode === 'full' ? 1000 : 32,
      seed,
    },
  };
}

/** Product of the spectral norms of the discriminator's weight matrices as used at inference: a Lipschitz bound (ReLU is 1-Lipschitz). */
function lipschitzBound(gan: ConditionalGan): { bound: number; sigmas: number[] } {
  gan.eval();
  const sigmas = noGrad(() =>
    weightLayers(gan.discriminatorNet).map(([, layer]) => {
      const weight = layer.weight;
      return largestSingularValue(weight.data, weight.shape[0]!, weight.data.length / weight.shape[0]!);
    }),
  );
  return { bound: sigmas.reduce((a, b) => a * b, 1), sigmas };
}

/** The largest ||d D(x, c) / dx|| over the test points (an empirical lower bound of the Lipschitz constant in x). */
function largestInputGradient(gan: ConditionalGan, dataset: Dataset, count: number): number {
  gan.eval();
  const n = Math.min(count, dataset.test.count);
  const x = new Tensor(dataset.test.inputs.slice(0, n * 2), [n, 2]);
  x.requiresGrad = true;
  sum(gan.discriminate(x, dataset.test.labels.subarray(0, n))).backward();
  let largest = 0;
  const g = x.grad!.data;
  for (let i = 0; i < n; i++) largest = Math.max(largest, Math.hypot(g[2 * i]!, g[2 * i + 1]!));
  return largest;
}

/** Points the trained generator draws for the test labels, from a fixed noise stream. */
function samples(gan: ConditionalGan, dataset: Dataset, seed: number, count: number): Float32Array {
  gan.eval();
  const n = Math.min(count, dataset.test.count);
  const z = randn([n, gan.latentDim], { generator: streamGenerator(seed, 'lab-samples') });
  return noGrad(() => gan.generate(z, dataset.test.labels.subarray(0, n)).data as Float32Array);
}

/** Class-conditional MMD^2 averaged over the second half of a run's evaluations. */
function lateMmd(record: RunRecord): number {
  if (record.status === 'diverged') return Number.POSITIVE_INFINITY;
  const late = record.evals.slice(Math.floor(record.evals.length / 2));
  return mean(late.map((e) => e.testLoss));
}

/** Spectral normalization on a toy class-conditional GAN: the Lipschitz bound it enforces and the training it stabilises. */
export const spectralNormGan = definePreset({
  name: 'spectral-norm-gan',
  title: 'Spectral norm bounds the Lipschitz constant and stabilises a toy GAN',
  claim: {
    quote: 'Spectral Normalization: constrains the spectral norm (largest singular value) of weight matrices to 1; stabilizes GAN training by enforcing Lipschitz continuity; used in StyleGAN and other generative models',
    section: 'Weight Normalization Techniques',
    source: SEED_SOURCE,
  },
  method:
    'A conditional GAN (generator and discriminator: MLPs of 2 x 64 on the input and the one-hot class) learns a mixture of 8 Gaussian modes on a ' +
    'ring, 2 per class (std 0.05), with the non-saturating loss, Adam (lr 0.001, beta1 0.5), batch 64, 2,000 steps, with or without spectral ' +
    "normalization (1 power iteration per forward) on every discriminator Linear. Lipschitz bound: the product of the exact largest singular values " +
    "of the discriminator's weights as used at inference. Stability: class-conditional MMD^2 between generated and held-out points, averaged " +
    'over the second half of training. The unconstrained GAN is the positive control (it learns to put points on the modes).',
  seed: 0,
  requires: { plugins: ['spectral-norm'] },
  criteria: [
    { id: 'control', kind: 'control', statement: 'the unconstrained GAN learns to put its points on the modes (positive control)', metric: 'final share of generated points on a mode of their class', comparison: '>=', threshold: 0.8 },
    { id: 'lipschitz', kind: 'claim', statement: 'with spectral norm the product of the discriminator weights\' spectral norms is at most 1.05', metric: 'prod_i sigma(W_i), spectral norm', comparison: '<=', threshold: 1.05 },
    { id: 'stabilises', kind: 'claim', statement: 'with spectral norm the late-training MMD^2 is at most half the unconstrained one', metric: 'MMD^2 (second half of training), spectral / unconstrained', comparison: '<=', threshold: 0.5, unit: 'x' },
  ],
  plan: (mode, seed = 0) => ({ runs: [run(false, mode, seed), run(true, mode, seed)] }),
  analyze: ({ runs, trainers, seed }) => {
    const gans = { plain: trainers.plain!.model as ConditionalGan, sn: trainers.sn!.model as ConditionalGan };
    const dataset = trainers.plain!.dataset;
    const bounds = { plain: lipschitzBound(gans.plain), sn: lipschitzBound(gans.sn) };
    const gradients = { plain: largestInputGradient(gans.plain, dataset, 1000), sn: largestInputGradient(gans.sn, dataset, 1000) };
    const final = (id: 'plain' | 'sn') => runs[id]!.evals.at(-1);
    const scatter = (id: 'plain' | 'sn'): ChartSeries[] => {
      const points = samples(gans[id], dataset, seed, 400);
      const modes = dataset.modes!;
      return [
        { label: 'generated', points: Array.from({ length: points.length / 2 }, (_, i) => [points[2 * i]!, points[2 * i + 1]!] as [number, number]), style: 'points' },
        { label: 'mode centres', points: Array.from({ length: modes.classOf.length }, (_, j) => [modes.centers[2 * j]!, modes.centers[2 * j + 1]!] as [number, number]), style: 'points' },
      ];
    };
    const records = Object.values(runs);
    return {
      measured: {
        control: final('plain')?.testAccuracy ?? Number.NaN,
        lipschitz: bounds.sn.bound,
        stabilises: lateMmd(runs.sn!) / lateMmd(runs.plain!),
      },
      details: {
        lipschitz: `sigmas ${bounds.sn.sigmas.map(show).join(' x ')}; unconstrained: ${bounds.plain.sigmas.map(show).join(' x ')} = ${show(bounds.plain.bound)}`,
        stabilises: `${show(lateMmd(runs.sn!))} / ${show(lateMmd(runs.plain!))}`,
      },
      table: {
        columns: [...RUN_COLUMNS.filter((c) => c !== 'test accuracy'), 'on-mode share', 'mode coverage', 'late MMD^2', 'Lipschitz bound', 'max |grad_x D|'],
        rows: records.map((r) => {
          const id = r.id as 'plain' | 'sn';
          const e = final(id);
          const row = runRow(r);
          row.splice(7, 1);
          return [...row, e ? Number(e.testAccuracy.toFixed(3)) : null, e ? Number((e.extra.modeCoverage ?? Number.NaN).toFixed(3)) : null, Number(lateMmd(r).toFixed(4)), Number(bounds[id].bound.toFixed(3)), Number(gradients[id].toFixed(3))];
        }),
      },
      charts: [
        { id: 'mmd', title: 'Class-conditional MMD^2 to held-out points', xLabel: 'step', yLabel: 'MMD^2', yScale: 'log', series: records.map((r) => ({ label: r.label, points: r.evals.map((e) => [e.step, e.testLoss] as [number, number]), style: 'line+points' as const })) },
        { id: 'coverage', title: 'Mode coverage (share of the 8 modes that get points)', xLabel: 'step', yLabel: 'mode coverage', yRange: [0, 1], series: records.map((r) => ({ label: r.label, points: r.evals.map((e) => [e.step, e.extra.modeCoverage ?? Number.NaN] as [number, number]), style: 'line+points' as const })) },
        { id: 'samples-plain', title: 'Generated points, unconstrained discriminator', xLabel: 'x1', yLabel: 'x2', series: scatter('plain'), equalAspect: true },
        { id: 'samples-sn', title: 'Generated points, spectral norm', xLabel: 'x1', yLabel: 'x2', series: scatter('sn'), equalAspect: true },
      ],
      notes: [
        `Largest input gradient of the discriminator over 1,000 test points: ${show(gradients.sn)} with spectral norm (bound ${show(bounds.sn.bound)}), ${show(gradients.plain)} unconstrained (bound ${show(bounds.plain.bound)}).`,
      ],
      extra: { bounds, gradients },
    };
  },
});
