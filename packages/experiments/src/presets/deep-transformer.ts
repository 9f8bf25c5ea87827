// The shared setup of the Transformer-placement presets (Peri-LN, output-only, DeepNorm,
// LayerScale): one block placement against Pre-LN and Post-LN in a 24-block Transformer trained
// without warmup, and the numbers each of them reads.
import type { Placement } from '@normkit/layer';
import type { EvalEvent } from '../train';
import { RUN_COLUMNS, evalSeries, finalTestAccuracy, lossSeries, meanTestAccuracy, runRow } from './analysis';
import type { AnalysisContext, Analysis, Criterion, PresetMode, PresetRun } from './preset';
import { transformerStabilityConfig } from './runs';

/**
 * Declared with the first placement preset, before any of them ran: 24 blocks (the depth of
 * CaiT-24 and of the shallow end of the claims) at width 16, Adam at lr 0.005 from the first step
 * (between 0.003, where 8-block Post-LN was usually stable, and 0.01, where 12-block Post-LN failed
 * even with warmup), 160 steps at batch 16, 8 evaluations of 250 samples per split.
 */
export const DEEP = { depth: 24, dim: 16, lr: 0.005, signal: 1.2, steps: 160, evals: 8, evalSamples: 250 } as const;

/** The placement a preset tests: its run id, label and TransformerBlock options. */
export interface PlacementSubject {
  id: string;
  label: string;
  placement: Placement;
  layerScale?: number;
}

function deepRun(id: string, label: string, role: PresetRun['role'], placement: Placement, mode: PresetMode, seed: number, layerScale?: number): PresetRun {
  return {
    id,
    label,
    role,
    config: transformerStabilityConfig({
      mode, seed, placement, warmup: false, depth: DEEP.depth, dim: DEEP.dim, lr: DEEP.lr, signal: DEEP.signal, steps: DEEP.steps,
      evals: DEEP.evals, evalSamples: DEEP.evalSamples, ...(layerScale !== undefined ? { layerScale } : {}),
    }),
  };
}

/** Pre-LN (the positive control), Post-LN (the regime control) and the subject, all without warmup. */
export function deepPlacementPlan(subject: PlacementSubject, mode: PresetMode, seed: number): { runs: PresetRun[] } {
  return {
    runs: [
      deepRun('pre', 'Pre-LN', 'control', 'pre', mode, seed),
      deepRun('post', 'Post-LN', 'reference', 'post', mode, seed),
      deepRun(subject.id, subject.label, 'subject', subject.placement, mode, seed, subject.layerScale),
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
 * standard deviation after the last block over the one after the first (NaN when not recorded).
 */
export function streamGrowth(evals: readonly EvalEvent[] | undefined): number {
  const stats = evals?.at(-1)?.activations;
  const first = stats?.['blocks.0']?.std;
  const last = stats?.[`blocks.${DEEP.depth - 1}`]?.std ?? (stats ? Object.entries(stats).filter(([k]) => k.startsWith('blocks.')).at(-1)?.[1].std : undefined);
  return first !== undefined && last !== undefined && first > 0 ? last / first : Number.NaN;
}

/** What every placement preset reads: stability (mean test accuracy over training; a diverged run scores chance), final accuracy, stream growth. */
export interface PlacementNumbers {
  stability: (id: string) => number;
  final: (id: string) => number;
  growth: (id: string) => number;
}

/** The numbers, table and charts of a placement preset; the preset maps them to its criteria. */
export function deepPlacementAnalysis(context: AnalysisContext): { numbers: PlacementNumbers; shown: Omit<Analysis, 'measured'> } {
  const { runs, evals } = context;
  const numbers: PlacementNumbers = {
    stability: (id) => meanTestAccuracy(runs[id]!, 0.5),
    final: (id) => finalTestAccuracy(runs[id]!, 0.5),
    growth: (id) => (runs[id]!.status === 'diverged' ? Number.NaN : streamGrowth(evals[id])),
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
        { id: 'accuracy', title: `Test accuracy during training (${DEEP.depth} blocks, lr ${DEEP.lr}, no warmup)`, xLabel: 'step', yLabel: 'test accuracy', series: records.map((r) => evalSeries(r, (e) => e.testAccuracy)), guides: [{ y: 0.5, label: 'chance' }] },
        { id: 'loss', title: 'Training loss (window means)', xLabel: 'step', yLabel: 'cross entropy', series: records.map((r) => lossSeries(r)) },
        { id: 'stream', title: 'Residual stream std after each block (last evaluation step)', xLabel: 'block', yLabel: 'std', yScale: 'log', series: depthProfile },
      ],
    },
  };
}
