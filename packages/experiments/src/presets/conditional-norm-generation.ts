import { noGrad, randn } from '@normkit/tensor';
import type { MixtureModes } from '../datasets/dataset';
import type { ConditionalGan } from '../models/gan';
import type { NormChoice } from '../models/norm-slot';
import { streamGenerator } from '../seed';
import { RUN_COLUMNS, evalSeries, finalEval, runRow, show } from './analysis';
import { SEED_SOURCE } from './common';
import { definePreset, type ChartSeries, type PresetMode, type PresetRun, type RunRecord, type RunRole } from './preset';
import { DEFAULT_SEEDS, MOST_SEEDS } from './seed-rule';

/** Classes of the mixture (2 modes each on a ring): an unconditional generator lands on the requested class 1 time in 4. */
const CLASSES = 4;
const CHANCE = 1 / CLASSES;
/** "Follows the requested class": most of its points on a mode of that class (chance: at most 1/4). */
const FOLLOWS = 0.7;
/** An unconditional generator may not beat chance by more than this (sampling noise on 1,000 points is about 0.014). */
const AT_CHANCE = 0.35;

interface Variant {
  id: string;
  label: string;
  role: RunRole;
  norm: NormChoice;
  /** The one-hot class concatenated to the generator's noise (the textbook cGAN). */
  classInput: boolean;
}

export const CONDITIONAL_GENERATION_VARIANTS: readonly Variant[] = [
  { id: 'cgan', label: 'class in the input, BatchNorm (cGAN)', role: 'control', norm: { name: 'batch-norm' }, classInput: true },
  { id: 'cbn', label: 'Conditional BatchNorm only', role: 'subject', norm: { name: 'conditional-batch-norm' }, classInput: false },
  { id: 'bn', label: 'BatchNorm, no class (unconditional)', role: 'control', norm: { name: 'batch-norm' }, classInput: false },
  { id: 'adaln', label: 'AdaLN only', role: 'subject', norm: { name: 'ada-ln' }, classInput: false },
  { id: 'ln', label: 'LayerNorm, no class (unconditional)', role: 'control', norm: { name: 'layer-norm' }, classInput: false },
];

function run(variant: Variant, mode: PresetMode, seed: number): PresetRun {
  const steps = mode === 'full' ? 1500 : 8;
  return {
    id: variant.id,
    label: variant.label,
    role: variant.role,
    config: {
      task: 'conditional-generation',
      // 4 classes x 2 modes on a ring of radius 1, std 0.05 (the spectral-norm-gan task).
      dataset: { name: 'conditional-mixture', options: mode === 'full' ? { trainSize: 2000, testSize: 1000, numClasses: CLASSES } : { trainSize: 64, testSize: 32, numClasses: CLASSES } },
      model: {
        name: 'conditional-gan',
        options: { latentDim: 4, width: 64, depth: 2, discriminatorWidth: 64, discriminatorDepth: 2, generatorClassInput: variant.classInput },
      },
      norms: { generator: variant.norm },
      optimizer: { name: 'adam', options: { beta1: 0.5, beta2: 0.999 } },
      lr: 0.001,
      batchSize: 64,
      steps,
      evalEvery: Math.max(1, Math.floor(steps / 5)),
      evalSamples: mode === 'full' ? 1000 : 32,
      seed,
    },
  };
}

/**
 * The share of points whose nearest mode (over every class's modes) belongs to the class they
 * were generated for: 1/numClasses in expectation for a generator that ignores the class, whatever
 * it draws (balanced labels), even when its points sit on modes.
 */
export function classFollowing(points: ArrayLike<number>, labels: ArrayLike<number>, modes: MixtureModes): number {
  if (labels.length === 0) return Number.NaN;
  let hits = 0;
  for (let i = 0; i < labels.length; i++) {
    let best = 0;
    let bestDistance = Infinity;
    for (let j = 0; j < modes.classOf.length; j++) {
      const d = (points[2 * i]! - modes.centers[2 * j]!) ** 2 + (points[2 * i + 1]! - modes.centers[2 * j + 1]!) ** 2;
      if (d < bestDistance) {
        bestDistance = d;
        best = j;
      }
    }
    if (modes.classOf[best] === labels[i]) hits++;
  }
  return hits / labels.length;
}

/** The on-mode share of the run's last evaluation (eval mode, 1,000 held-out labels, fixed noise); a diverged run counts as 0. */
function onRequestedMode(record: RunRecord): number {
  if (record.status === 'diverged') return 0;
  return finalEval(record)?.testAccuracy ?? Number.NaN;
}

/** Points a trained generator draws in eval mode for the first `count` test labels, from a fixed noise stream. */
function generated(gan: ConditionalGan, labels: Int32Array, seed: number, count: number): { points: Float32Array; labels: Int32Array } {
  gan.eval();
  const n = Math.min(count, labels.length);
  const z = randn([n, gan.latentDim], { generator: streamGenerator(seed, 'lab-samples') });
  const used = labels.subarray(0, n);
  const points = noGrad(() => gan.generate(z, used).data as Float32Array);
  return { points, labels: used };
}

/** Conditional BatchNorm and AdaLN as the only way the class reaches a generator, against the same generator without it. */
export const conditionalNormGeneration = definePreset({
  name: 'conditional-norm-generation',
  title: 'Conditional BatchNorm and AdaLN make a generator follow the requested class; without them it is at chance',
  claim: {
    quote:
      'Conditional Batch Normalization (CBN): modulates BatchNorm parameters based on class or auxiliary information; γ_c and β_c are class-specific; ' +
      'enables class-conditional generation in GANs (BigGAN) [...] Adaptive Layer Normalization (AdaLN): modulates LayerNorm parameters (scale γ and ' +
      'shift β) based on conditioning information; AdaLN(x, c) = γ(c) · Norm(x) + β(c); used in diffusion models (DiT) to inject timestep and class ' +
      'conditioning into the normalization layer',
    section: 'Conditional and Adaptive Normalization; Layer Normalization Variants',
    source: SEED_SOURCE,
  },
  method:
    'A conditional GAN learns a mixture of 8 Gaussian modes on a ring, 2 per class, 4 classes (std 0.05; the spectral-norm-gan task): generator ' +
    'and discriminator are MLPs of 2 x 64, the discriminator sees the one-hot class beside the point, non-saturating loss, Adam (lr 0.001, beta1 0.5), ' +
    'batch 64, 1,500 steps. The generator sees only its noise; the class reaches it through its two normalization layers alone: Conditional ' +
    'BatchNorm (per-class gamma and beta) or AdaLN (gamma and beta from the one-hot by a Linear). The unconditional controls are the same ' +
    'generators with the plain normalizer (BatchNorm, LayerNorm) in the same place, so nothing tells them the class; the positive control is the ' +
    'textbook cGAN (one-hot concatenated to the noise, BatchNorm). Measured in eval mode on 1,000 held-out labels with fixed noise: the share of ' +
    `points within 3 std of a mode of the requested class (chance at most ${CHANCE}). Five seeds; each criterion on 4 of them.`,
  seed: 0,
  seeds: DEFAULT_SEEDS,
  seedRule: MOST_SEEDS,
  requires: { plugins: ['batch-norm', 'conditional-batch-norm', 'layer-norm', 'ada-ln'] },
  criteria: [
    { id: 'cgan-control', kind: 'control', statement: `the textbook cGAN puts at least ${FOLLOWS * 100}% of its points on a mode of the requested class (positive control)`, metric: 'on-mode share, cGAN', comparison: '>=', threshold: FOLLOWS },
    { id: 'bn-chance', kind: 'control', statement: `the unconditional BatchNorm generator stays near chance (at most ${AT_CHANCE}; chance ${CHANCE})`, metric: 'on-mode share, BatchNorm without class', comparison: '<=', threshold: AT_CHANCE },
    { id: 'ln-chance', kind: 'control', statement: `the unconditional LayerNorm generator stays near chance (at most ${AT_CHANCE}; chance ${CHANCE})`, metric: 'on-mode share, LayerNorm without class', comparison: '<=', threshold: AT_CHANCE },
    { id: 'cbn-follows', kind: 'claim', statement: `with the class only in Conditional BatchNorm, at least ${FOLLOWS * 100}% of the points land on a mode of the requested class`, metric: 'on-mode share, CBN', comparison: '>=', threshold: FOLLOWS },
    { id: 'adaln-follows', kind: 'claim', statement: `with the class only in AdaLN, at least ${FOLLOWS * 100}% of the points land on a mode of the requested class`, metric: 'on-mode share, AdaLN', comparison: '>=', threshold: FOLLOWS },
  ],
  plan: (mode, seed = 0) => ({ runs: CONDITIONAL_GENERATION_VARIANTS.map((variant) => run(variant, mode, seed)) }),
  analyze: ({ runs, trainers, seed }) => {
    const share = (id: string): number => onRequestedMode(runs[id]!);
    const dataset = trainers.cgan!.dataset;
    const modes = dataset.modes!;
    const samples = Object.fromEntries(
      CONDITIONAL_GENERATION_VARIANTS.map((v) => [v.id, runs[v.id]!.status === 'diverged' ? null : generated(trainers[v.id]!.model as ConditionalGan, dataset.test.labels, seed, 1000)]),
    );
    const following = (id: string): number => {
      const s = samples[id];
      return s ? classFollowing(s.points, s.labels, modes) : Number.NaN;
    };
    const scatter = (id: string): ChartSeries[] => {
      const s = samples[id];
      if (!s) return [];
      return Array.from({ length: CLASSES }, (_, c) => ({
        label: `class ${c} requested`,
        style: 'points' as const,
        points: Array.from({ length: Math.min(400, s.labels.length) }, (_, i) => i).filter((i) => s.labels[i] === c).map((i) => [s.points[2 * i]!, s.points[2 * i + 1]!] as [number, number]),
      }));
    };
    const records = Object.values(runs);
    return {
      measured: {
        'cgan-control': share('cgan'),
        'bn-chance': share('bn'),
        'ln-chance': share('ln'),
        'cbn-follows': share('cbn'),
        'adaln-follows': share('adaln'),
      },
      details: Object.fromEntries(
        [['cgan-control', 'cgan'], ['bn-chance', 'bn'], ['ln-chance', 'ln'], ['cbn-follows', 'cbn'], ['adaln-follows', 'adaln']].map(([criterion, id]) => [
          criterion!,
          `${show(share(id!))} on a mode of the requested class; nearest mode of the requested class ${show(following(id!))}; mode coverage ${show(finalEval(runs[id!]!)?.extra.modeCoverage ?? Number.NaN)}`,
        ]),
      ),
      table: {
        columns: [...RUN_COLUMNS.filter((c) => c !== 'test accuracy'), 'on a mode of the requested class', 'nearest mode of the requested class', 'mode coverage', 'MMD^2'],
        rows: records.map((r) => {
          const e = finalEval(r);
          const row = runRow(r);
          row.splice(7, 1);
          const round = (v: number | undefined, digits: number) => (v === undefined || !Number.isFinite(v) ? null : Number(v.toFixed(digits)));
          return [...row, round(share(r.id), 3), round(following(r.id), 3), round(e?.extra.modeCoverage, 3), round(e?.testLoss, 4)];
        }),
      },
      charts: [
        {
          id: 'on-mode', title: 'Share of generated points on a mode of the requested class', xLabel: 'step', yLabel: 'on-mode share', yRange: [0, 1],
          series: records.map((r) => evalSeries(r, (e) => e.testAccuracy)), guides: [{ y: CHANCE, label: 'chance (class ignored, every point on a mode)' }, { y: FOLLOWS, label: 'threshold' }],
        },
        ...CONDITIONAL_GENERATION_VARIANTS.map((v) => ({ id: `samples-${v.id}`, title: `Generated points by requested class: ${v.label}`, xLabel: 'x1', yLabel: 'x2', series: scatter(v.id), equalAspect: true })),
      ],
      notes: [
        'The on-mode share counts a point when it lies within 3 standard deviations of a mode of the class it was generated for; a generator that ignores the class can reach at most 1/4 of that (1/4 exactly when every point is on some mode).',
        'The nearest-mode column ignores how close the point is: it is 1/4 in expectation for any generator that ignores the class.',
      ],
      extra: { classFollowing: Object.fromEntries(CONDITIONAL_GENERATION_VARIANTS.map((v) => [v.id, following(v.id)])) },
    };
  },
});
