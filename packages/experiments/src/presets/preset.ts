import type { ExperimentConfig, ExperimentConfigInput } from '../config';
import type { ExperimentResources } from '../datasets/dataset';
import type { EvalEvent, Trainer, TrainerStatus } from '../train';
import type { SeedRule } from './seed-rule';

/**
 * 'full': the experiment as reported (each under two minutes on a 2-core machine);
 * 'reduced': the same configurations for a few steps on small data, so CI proves every
 * experiment still runs and reports (its verdict means nothing).
 */
export type PresetMode = 'full' | 'reduced';

/**
 * What a configuration is for. A 'control' is the positive control: a configuration known to
 * train well on the same task, so a failed claim cannot come from an undertrained setup. A
 * 'subject' is what the claim is about; a 'reference' is shown for context.
 */
export type RunRole = 'control' | 'subject' | 'reference';

/** Numbers read from a trainer after every `every`-th step (e.g. the attention max-logit). */
export interface RunTrace {
  every: number;
  read(trainer: Trainer): Record<string, number>;
  /**
   * For the PyTorch replication (`npm run lab -- --torch`): each name `read` returns, mapped to the measure
   * normkit_torch.lab takes at the same moment ('max-attention-logit': the largest |q.k / sqrt(d)| over the allowed
   * pairs of every attention layer's last forward). A traced run without it is not replicated.
   */
  torch?: Record<string, 'max-attention-logit'>;
}

/** One training run of an experiment. */
export interface PresetRun {
  /** Unique within the preset, used to look the run up in the analysis ('bn-b2'). */
  id: string;
  /** Shown in progress lines and the report ('BatchNorm, batch 2'). */
  label: string;
  role: RunRole;
  config: ExperimentConfigInput;
  trace?: RunTrace;
  /**
   * Fine-tuning: before its first step, the run's parameters and buffers are copied by name from
   * the model of an earlier run of the same seed (`run`), except those under the `except` prefixes
   * (a new head, say), which keep their fresh initialisation. Names must match once the path
   * segments in `rename` (this run's segment -> the earlier run's) are replaced: a normalizer slot
   * names its module after the plugin, so `{ 'frozen-batch-norm': 'batch-norm' }` loads a BatchNorm's
   * `weight`, `bias` and running statistics into a FrozenBatchNorm's buffers of those names. A name
   * the earlier model lacks, or a shape that differs, fails the preset.
   */
  initFrom?: { run: string; except?: readonly string[]; rename?: Readonly<Record<string, string>> };
}

/** A planned experiment: its runs, in order. */
export interface PresetPlan {
  runs: PresetRun[];
}

/**
 * A pass condition declared with the preset, before anything runs: `measured <comparison> threshold`.
 * 'control' criteria check the positive controls (a failure makes the verdict 'inconclusive');
 * 'claim' criteria test the claim itself.
 */
export interface Criterion {
  id: string;
  kind: 'control' | 'claim';
  /** What must hold, in words ('BatchNorm at batch 2 loses at least 5 points against batch 32'). */
  statement: string;
  /** The measured quantity ('accuracy(BN, 32) - accuracy(BN, 2)'). */
  metric: string;
  comparison: '>=' | '<=';
  threshold: number;
  unit?: string;
}

/** A line chart (or point cloud) as data; the lab renders it to SVG, the playground with its own plots. */
export interface ChartSeries {
  label: string;
  points: Array<[number, number]>;
  /** 'line' (default), 'points' (a scatter), or 'line+points'. */
  style?: 'line' | 'points' | 'line+points';
  dashed?: boolean;
}

export interface ChartSpec {
  id: string;
  title: string;
  xLabel: string;
  yLabel: string;
  xScale?: 'linear' | 'log';
  yScale?: 'linear' | 'log';
  series: ChartSeries[];
  /** Horizontal reference lines (a threshold, chance level). */
  guides?: Array<{ y: number; label: string }>;
  /** Fixed y range (else fitted to the data). */
  yRange?: [number, number];
  /** Same scale on both axes (point clouds in the plane). */
  equalAspect?: boolean;
  /** Tick positions on the x axis (e.g. the batch sizes run), instead of automatic ones. */
  xTicks?: number[];
}

/** A small table of results (one row per configuration, say). Cells are strings or numbers. */
export interface ResultTable {
  columns: string[];
  rows: Array<Array<string | number | null>>;
}

/** What a preset's analysis returns: a value per criterion, plus everything shown around it. */
export interface Analysis {
  /** A measured value for every criterion id (NaN when it could not be measured). */
  measured: Record<string, number>;
  /** How each value was obtained, with the numbers ('0.919 - 0.252'). */
  details?: Record<string, string>;
  /** One row per configuration, usually. */
  table?: ResultTable;
  /** Further tables with a title each (per-layer values, say). */
  tables?: Array<{ title: string; table: ResultTable }>;
  charts: ChartSpec[];
  notes?: string[];
  /** Further measurements of the experiment (timings, bounds), for the JSON report. */
  extra?: Record<string, unknown>;
}

/** A finished run, as plain JSON (what the report keeps). */
export interface RunRecord {
  id: string;
  label: string;
  role: RunRole;
  config: ExperimentConfig;
  status: TrainerStatus;
  /** The diverged or failed reason, when there is one. */
  reason: string | null;
  completedSteps: number;
  elapsedMs: number;
  /** Training loss by step, window means (at least 5 steps each, at most 200 points): [step, loss]. */
  loss: Array<[number, number]>;
  evals: EvalSummary[];
  /** Traced values by name: [step, value] pairs. */
  trace: Record<string, Array<[number, number]>>;
}

/** The part of an EvalEvent the report keeps. */
export interface EvalSummary {
  step: number;
  trainLoss: number;
  trainAccuracy: number;
  testLoss: number;
  testAccuracy: number;
  gapLoss: number;
  gapAccuracy: number;
  extra: Record<string, number>;
}

/** Everything an analysis can look at: the records and the live trainers (models included). */
export interface AnalysisContext {
  mode: PresetMode;
  seed: number;
  runs: Record<string, RunRecord>;
  trainers: Record<string, Trainer>;
  /** The full eval events of each run (probes included). */
  evals: Record<string, EvalEvent[]>;
  resources: ExperimentResources;
  /** Reports progress of a long analysis step (timing), fraction in [0, 1]. */
  progress: (label: string, fraction: number) => void;
  /** Milliseconds clock. */
  now: () => number;
}

/**
 * One claim of the literature turned into an experiment: the claim quoted, the configurations
 * (with a positive control), the seed, the step counts of both modes, and the pass criteria with
 * their thresholds, all fixed in code before anything runs. `analyze` only measures; the verdict
 * is computed by `judge` from the declared criteria, so an analysis cannot move a threshold.
 */
export interface ClaimPreset {
  /** Kebab-case, for `npm run lab -- --only <name>` and URLs. */
  name: string;
  title: string;
  claim: {
    /** Quoted verbatim from the source. */
    quote: string;
    /** Where in the source (its section heading). */
    section: string;
    source: string;
  };
  /** What the experiment does, in a few sentences (method, task, model, what is compared). */
  method: string;
  /** The seed of a one-seed run (`--quick`, the playground): the first of `seeds`. */
  seed: number;
  /** The seeds of a full run (default DEFAULT_SEEDS, five); the verdict is `seedRule` over them. */
  seeds?: readonly number[];
  /** How the per-seed results make the verdict (default MOST_SEEDS: each criterion on at least 80% of seeds). */
  seedRule?: SeedRule;
  /** Registered plugins (and residual block wrappers) the experiment needs; without them it is 'unavailable'. */
  requires: { plugins: string[]; blockWrappers?: string[]; resources?: Array<keyof ExperimentResources> };
  criteria: Criterion[];
  /** The runs at one seed (default `seed`): every run's seed derives from it, so two seeds share no run seed. */
  plan(mode: PresetMode, seed?: number): PresetPlan;
  analyze(context: AnalysisContext): Analysis;
}

/** Keeps a preset's literal types (like `defineDataset`). */
export function definePreset(preset: ClaimPreset): ClaimPreset {
  return preset;
}

/**
 * 'reproduced': every claim criterion held (and every control).
 * 'partially reproduced': some claim criteria held, some did not.
 * 'not reproduced': no claim criterion held although the controls trained.
 * 'inconclusive': a positive control failed, or a value could not be measured.
 * 'unavailable': a plugin or resource the experiment needs is missing.
 * 'error': a run or the analysis threw.
 */
export type Verdict = 'reproduced' | 'partially reproduced' | 'not reproduced' | 'inconclusive' | 'unavailable' | 'error';

export const VERDICTS: readonly Verdict[] = ['reproduced', 'partially reproduced', 'not reproduced', 'inconclusive', 'unavailable', 'error'];

/** A criterion with what was measured and whether it held. */
export interface CriterionResult extends Criterion {
  measured: number;
  /** null: not measurable (NaN). */
  passed: boolean | null;
  detail?: string;
}

/**
 * Measured values within floating-point rounding of a threshold meet it: a difference of two decimal
 * accuracies such as 0.884 - 0.904 is -0.020000000000000018 in binary and must meet ">= -0.02". The
 * allowance (1e-12 relative) is far below any quantity a preset measures (accuracies move in steps of
 * 1/500 or coarser), so it decides only ties that rounding broke.
 */
const ROUNDING_ALLOWANCE = 1e-12;

export function checkCriterion(criterion: Criterion, measured: number, detail?: string): CriterionResult {
  const slack = ROUNDING_ALLOWANCE * Math.max(1, Math.abs(criterion.threshold));
  const passed = Number.isNaN(measured) ? null : criterion.comparison === '>=' ? measured >= criterion.threshold - slack : measured <= criterion.threshold + slack;
  return { ...criterion, measured, passed, ...(detail !== undefined ? { detail } : {}) };
}

/**
 * The verdict from the declared criteria and what was measured: controls first (a failed or
 * unmeasurable control makes the result inconclusive, never 'not reproduced'), then the claim.
 */
export function judge(results: readonly CriterionResult[]): { verdict: Verdict; reason: string } {
  const controls = results.filter((r) => r.kind === 'control');
  const claims = results.filter((r) => r.kind === 'claim');
  const failedControl = controls.find((r) => r.passed !== true);
  if (failedControl) {
    const how = failedControl.passed === null ? 'could not be measured' : `measured ${formatValue(failedControl.measured)}, needed ${failedControl.comparison} ${formatValue(failedControl.threshold)}`;
    return { verdict: 'inconclusive', reason: `positive control failed: ${failedControl.statement} (${how})` };
  }
  const unmeasured = claims.find((r) => r.passed === null);
  if (unmeasured) return { verdict: 'inconclusive', reason: `could not be measured: ${unmeasured.statement}` };
  const held = claims.filter((r) => r.passed).length;
  if (claims.length > 0 && held === claims.length) return { verdict: 'reproduced', reason: `all ${claims.length} claim criteria held` };
  const failed = claims.filter((r) => !r.passed).map((r) => r.statement);
  if (held === 0) return { verdict: 'not reproduced', reason: `did not hold: ${failed.join('; ')}` };
  return { verdict: 'partially reproduced', reason: `${held} of ${claims.length} held; did not hold: ${failed.join('; ')}` };
}

/** A number for a sentence: 3 significant digits, exponent notation when tiny or huge. */
export function formatValue(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (value === 0) return '0';
  const magnitude = Math.abs(value);
  if (magnitude >= 1e5 || magnitude < 1e-3) return value.toExponential(2);
  return String(Number(value.toPrecision(3)));
}
