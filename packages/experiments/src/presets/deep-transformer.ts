// The shared setup of the Transformer-placement presets (Peri-LN, output-only, DeepNorm,
// LayerScale, nGPT's baseline): one block placement against Pre-LN and Post-LN in a deep
// Transformer trained without warmup, the numbers each of them reads, and the preset builder the
// first (width 16) and second (width 64) versions share.
import type { Placement } from '@normkit/layer';
import type { EvalEvent } from '../train';
import { RUN_COLUMNS, evalSeries, finalTestAccuracy, lossSeries, meanTestAccuracy, runRow, show } from './analysis';
import { definePreset, type AnalysisContext, type Analysis, type ClaimPreset, type Criterion, type PresetMode, type PresetRun } from './preset';
import { transformerStabilityConfig } from './runs';
import { DEFAULT_SEEDS, MOST_SEEDS } from './seed-rule';

/** What a version of the placement presets declares: the model, the optimizer step and the run length. */
export interface DeepSetup {
  depth: number;
  dim: number;
  lr: number;
  signal: number;
  steps: number;
  evals: number;
  evalSamples: number;
}

/**
 * Declared with the first placement preset, before any of them ran: 24 blocks (the depth of
 * CaiT-24 and of the shallow end of the claims) at width 16, Adam at lr 0.005 from the first step
 * (between 0.003, where 8-block Post-LN was usually stable, and 0.01, where 12-block Post-LN failed
 * even with warmup), 160 steps at batch 16, 8 evaluations of 250 samples per split.
 */
export const DEEP = { depth: 24, dim: 16, lr: 0.005, signal: 1.2, steps: 160, evals: 8, evalSamples: 250 } as const satisfies DeepSetup;

/**
 * The second version (the "-v2" presets), declared before any of its runs: the width 64 at
 * 24 blocks, and Adam at lr 0.003 (the value the first version's 5-seed results pointed to: at lr
 * 0.005 and 24 blocks the Pre-LN control sits at the edge of stability and a core rebuild flipped
 * it on 4 of 5 seeds; 0.003 is where 8-block Post-LN was usually stable, and the regime control
 * 'post-unstable' still checks that 24-block Post-LN is not). Steps and evaluations are what fits
 * 60 s of CPU per seed on this 2-core machine: a 24-block, width-64 Pre-LN step measured 0.19 s of
 * CPU and an evaluation of 200 samples per split 1.8 s (load average 12), so 3 runs of 80 steps and
 * 4 evaluations of 128 samples per split come to about 60 s.
 */
export const DEEP_V2 = { depth: 24, dim: 64, lr: 0.003, signal: 1.2, steps: 80, evals: 4, evalSamples: 128 } as const satisfies DeepSetup;

/** The placement a preset tests: its run id, label and TransformerBlock options. */
export interface PlacementSubject {
  id: string;
  label: string;
  placement: Placement;
  layerScale?: number;
}

function deepRun(setup: DeepSetup, id: string, label: string, role: PresetRun['role'], placement: Placement, mode: PresetMode, seed: number, layerScale?: number): PresetRun {
  return {
    id,
    label,
    role,
    config: transformerStabilityConfig({
      mode, seed, placement, warmup: false, depth: setup.depth, dim: setup.dim, lr: setup.lr, signal: setup.signal, steps: setup.steps,
      evals: setup.evals, evalSamples: setup.evalSamples, ...(layerScale !== undefined ? { layerScale } : {}),
    }),
  };
}

/** Pre-LN (the positive control), Post-LN (the regime control) and the subject, all without warmup. */
export function deepPlacementPlan(subject: PlacementSubject, mode: PresetMode, seed: number, setup: DeepSetup = DEEP): { runs: PresetRun[] } {
  return {
    runs: [
      deepRun(setup, 'pre', 'Pre-LN', 'control', 'pre', mode, seed),
      deepRun(setup, 'post', 'Post-LN', 'reference', 'post', mode, seed),
      deepRun(setup, subject.id, subject.label, 'subject', subject.placement, mode, seed, subject.layerScale),
    ],
  };
}

/** The two controls every placement preset declares (ids 'pre-trains' and 'post-unstable'). */
export const DEEP_CONTROLS: readonly Criterion[] = [
  { id: 'pre-trains', kind: 'control', statement: 'Pre-LN without warmup trains at this depth and rate (positive control)', metric: 'final test accuracy, Pre-LN', comparison: '>=', threshold: 0.8 },
  {
    id: 'post-unstable', kind: 'control', statement: 'Post-LN without warmup is at least 10 points less stable than Pre-LN (the regime the claim is about is reached)',
    metric: 'mean test accuracy over training, Pre-LN - Post-LN', comparison: '>=', threshold: 0.1,
  },
];

/**
 * The residual stream's growth through the stack at the last evaluation's training step: the
 * standard deviation after the last block (block `depth - 1`, else the last one recorded) over the
 * one after the first (NaN when not recorded).
 */
export function streamGrowth(evals: readonly EvalEvent[] | undefined, depth: number = DEEP.depth): number {
  const stats = evals?.at(-1)?.activations;
  const first = stats?.['blocks.0']?.std;
  const last = stats?.[`blocks.${depth - 1}`]?.std ?? (stats ? Object.entries(stats).filter(([k]) => k.startsWith('blocks.')).at(-1)?.[1].std : undefined);
  return first !== undefined && last !== undefined && first > 0 ? last / first : Number.NaN;
}

/** What every placement preset reads: stability (mean test accuracy over training; a diverged run scores chance), final accuracy, stream growth. */
export interface PlacementNumbers {
  stability: (id: string) => number;
  final: (id: string) => number;
  growth: (id: string) => number;
}

/** The numbers, table and charts of a placement preset; the preset maps them to its criteria. */
export function deepPlacementAnalysis(context: AnalysisContext, setup: DeepSetup = DEEP): { numbers: PlacementNumbers; shown: Omit<Analysis, 'measured'> } {
  const { runs, evals } = context;
  const numbers: PlacementNumbers = {
    stability: (id) => meanTestAccuracy(runs[id]!, 0.5),
    final: (id) => finalTestAccuracy(runs[id]!, 0.5),
    growth: (id) => (runs[id]!.status === 'diverged' ? Number.NaN : streamGrowth(evals[id], setup.depth)),
  };
  const records = Object.values(runs);
  const round = (v: number) => (Number.isFinite(v) ? Number(v.toFixed(4)) : null);
  const depthProfile = records.map((record) => {
    const stats = evals[record.id]?.at(-1)?.activations ?? {};
    const points = Object.entries(stats)
      .filter(([k]) => /^blocks\.\d+$/.test(k))
      .map(([k, s]) => [Number(k.slice('blocks.'.length)) + 1, s.std] as [number, number])
      .filter(([, y]) => Number.isFinite(y) && y > 0);
    return { label: record.label, points, style: 'line+points' as const };
  });
  return {
    numbers,
    shown: {
      table: {
        columns: [...RUN_COLUMNS, 'mean test acc', 'stream growth'],
        rows: records.map((r) => [...runRow(r, numbers.final(r.id)), round(numbers.stability(r.id)), round(numbers.growth(r.id))]),
      },
      charts: [
        { id: 'accuracy', title: `Test accuracy during training (${setup.depth} blocks, lr ${setup.lr}, no warmup)`, xLabel: 'step', yLabel: 'test accuracy', series: records.map((r) => evalSeries(r, (e) => e.testAccuracy)), guides: [{ y: 0.5, label: 'chance' }] },
        { id: 'loss', title: 'Training loss (window means)', xLabel: 'step', yLabel: 'cross entropy', series: records.map((r) => lossSeries(r)) },
        { id: 'stream', title: 'Residual stream std after each block (last evaluation step)', xLabel: 'block', yLabel: 'std', yScale: 'log', series: depthProfile },
      ],
    },
  };
}

/**
 * The method's opening shared by the placement presets: the model, the task and the optimizer of
 * `setup`, with `placements` naming what is compared ('Pre-LN, Post-LN or Peri-LN (...)').
 */
export function deepMethodOpening(setup: DeepSetup, placements: string): string {
  return (
    `A Transformer encoder of ${setup.depth} blocks (width ${setup.dim}, 2 heads, LayerNorm) classifies padded token sequences (length 2-8, class signal ${setup.signal}), ` +
    `trained with Adam at lr ${setup.lr} from the first step (no warmup) for ${setup.steps} steps at batch 16, with the norms placed Pre-LN, Post-LN or ${placements}`
  );
}

/** The two claim criteria of a placement that should match Pre-LN's stability and beat Post-LN's ('stable', 'beats-post'). */
export function stabilityClaims(label: string): Criterion[] {
  return [
    {
      id: 'stable', kind: 'claim', statement: `${label} is as stable as Pre-LN (within 5 points of mean test accuracy over training)`,
      metric: `mean test accuracy, ${label} - Pre-LN`, comparison: '>=', threshold: -0.05,
    },
    {
      id: 'beats-post', kind: 'claim', statement: `${label} is at least 10 points more stable than Post-LN`,
      metric: `mean test accuracy, ${label} - Post-LN`, comparison: '>=', threshold: 0.1,
    },
  ];
}

/** A measured value and how it was obtained ('0.91 - 0.88'). */
export type Measure = readonly [value: number, detail?: string];

/** The measures of `stabilityClaims` for the subject run `id`. */
export function stabilityMeasures(n: PlacementNumbers, id: string): Record<'stable' | 'beats-post', Measure> {
  return {
    stable: [n.stability(id) - n.stability('pre'), `${show(n.stability(id))} - ${show(n.stability('pre'))}`],
    'beats-post': [n.stability(id) - n.stability('post'), `${show(n.stability(id))} - ${show(n.stability('post'))}`],
  };
}

/** What a placement preset declares; `definePlacementPreset` adds the seeds, the runs, the controls and the analysis. */
export interface PlacementPresetSpec {
  name: string;
  title: string;
  claim: ClaimPreset['claim'];
  method: string;
  subject: PlacementSubject;
  setup: DeepSetup;
  /** Both controls (Pre-LN trains, Post-LN fails: 'both') or only the first ('pre'). */
  controls: 'both' | 'pre';
  /** The claim criteria, after the controls. */
  claims: readonly Criterion[];
  /** A value (and its detail) for every claim criterion, from the placement numbers. */
  measure: (numbers: PlacementNumbers) => Record<string, Measure>;
  /** Notes shown with the result (history of earlier versions). */
  notes?: readonly string[];
}

/**
 * A placement preset: five seeds, each criterion on 4 of them; Pre-LN, Post-LN and the subject run
 * at `setup`; the controls' values measured here, the claims' by `measure`.
 */
export function definePlacementPreset(spec: PlacementPresetSpec): ClaimPreset {
  const controls = spec.controls === 'both' ? DEEP_CONTROLS : [DEEP_CONTROLS[0]!];
  return definePreset({
    name: spec.name,
    title: spec.title,
    claim: spec.claim,
    method: spec.method,
    seed: 0,
    seeds: DEFAULT_SEEDS,
    seedRule: MOST_SEEDS,
    requires: { plugins: ['layer-norm'] },
    criteria: [...controls, ...spec.claims],
    plan: (mode, seed = 0) => deepPlacementPlan(spec.subject, mode, seed, spec.setup),
    analyze: (context) => {
      const { numbers: n, shown } = deepPlacementAnalysis(context, spec.setup);
      const measures: Record<string, Measure> = {
        'pre-trains': [n.final('pre')],
        ...(spec.controls === 'both' ? { 'post-unstable': [n.stability('pre') - n.stability('post'), `${show(n.stability('pre'))} - ${show(n.stability('post'))}`] as Measure } : {}),
        ...spec.measure(n),
      };
      const measured: Record<string, number> = {};
      const details: Record<string, string> = {};
      for (const [id, [value, detail]] of Object.entries(measures)) {
        measured[id] = value;
        if (detail !== undefined) details[id] = detail;
      }
      return { measured, details, ...shown, ...(spec.notes ? { notes: [...spec.notes] } : {}) };
    },
  });
}
