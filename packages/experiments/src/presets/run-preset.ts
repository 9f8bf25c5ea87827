import { ValueError, has, type Tensor } from '@normkit/tensor';
import type { ExperimentResources } from '../datasets/dataset';
import { listBlockWrappers } from '../models/residual';
import { createTrainer, type EvalEvent, type Trainer } from '../train';
import { downsampleMean } from './analysis';
import {
  checkCriterion, judge,
  type Analysis, type ClaimPreset, type CriterionResult, type EvalSummary, type PresetMode, type PresetRun, type RunRecord,
  type Verdict,
} from './preset';
import { MOST_SEEDS, aggregateCriterion, describeSeedRule, type SeedCriterionResult, type SeedRule } from './seed-rule';

/** At most this many [step, loss] points per run in a record (window means). */
export const LOSS_POINTS = 200;
/** Each loss point averages at least this many steps (minibatch losses are noisy). */
export const LOSS_WINDOW = 5;

/** Progress of a preset run, for a progress bar (the lab) or a worker's messages (the playground). */
export type PresetProgress =
  | { type: 'preset-start'; preset: string; title: string; runs: number; totalSteps: number }
  | { type: 'run-start'; preset: string; run: string; label: string; index: number; runs: number; steps: number }
  | {
      type: 'run-progress';
      preset: string;
      run: string;
      label: string;
      index: number;
      runs: number;
      /** Steps done in this run, of `steps`. */
      step: number;
      steps: number;
      /** Steps done in the whole preset, of `totalSteps` (runs differ in cost per step: a rough measure). */
      presetStep: number;
      totalSteps: number;
      runElapsedMs: number;
      presetElapsedMs: number;
    }
  | { type: 'run-end'; preset: string; run: string; label: string; index: number; status: string; reason: string | null; elapsedMs: number }
  | { type: 'analysis'; preset: string; label: string; fraction: number }
  | { type: 'preset-end'; preset: string; verdict: Verdict; elapsedMs: number };

export interface RunPresetOptions {
  mode?: PresetMode;
  /** Data the presets cannot make themselves (MNIST, from `loadMnist()`). */
  resources?: ExperimentResources;
  onProgress?: (event: PresetProgress) => void;
  /** The seeds to run (default `[preset.seed]`); the lab passes `presetSeeds(preset, pass)`. */
  seeds?: readonly number[];
  /** Minimum milliseconds between two run-progress events (default 250). */
  progressIntervalMs?: number;
  now?: () => number;
}

/** A finished experiment: the claim, what ran, what was measured against which threshold, and the verdict. */
export interface PresetResult {
  name: string;
  title: string;
  claim: ClaimPreset['claim'];
  method: string;
  mode: PresetMode;
  /** The first seed run (the one the tables and charts show). */
  seed: number;
  /** Every seed run, in order. */
  seeds: number[];
  /** The declared rule that turned the per-seed results into the verdict. */
  seedRule: SeedRule;
  /** Wall time of the whole experiment (runs and analysis). */
  runtimeMs: number;
  requires: ClaimPreset['requires'];
  /** What is missing when the verdict is 'unavailable'. */
  missing: string[];
  /** Each criterion over the seeds: median, per-seed values, on how many seeds it held, spread. */
  criteria: SeedCriterionResult[];
  verdict: Verdict;
  reason: string;
  /** Each seed's own criteria and verdict. */
  perSeed: SeedOutcome[];
  /** True when the seeds' own verdicts differ (the reason then lists them). */
  seedDependent: boolean;
  /** Every run of every seed (`config.seed` tells them apart). */
  runs: RunRecord[];
  table: Analysis['table'] | null;
  tables: NonNullable<Analysis['tables']>;
  charts: Analysis['charts'];
  notes: string[];
  extra: Record<string, unknown>;
  /** The error of an 'error' verdict. */
  error: { name: string; message: string } | null;
}

/** One seed's result: its criteria as measured there and the verdict they alone would give. */
export interface SeedOutcome {
  seed: number;
  verdict: Verdict;
  reason: string;
  criteria: CriterionResult[];
  runtimeMs: number;
  /** The analysis's further measurements at this seed. */
  extra: Record<string, unknown>;
}

/** The plugins, block wrappers and resources a preset needs that are not there. */
export function missingRequirements(preset: ClaimPreset, resources: ExperimentResources = {}): string[] {
  const missing: string[] = [];
  for (const name of preset.requires.plugins) if (!has(name)) missing.push(`plugin "${name}"`);
  const wrappers = new Set(listBlockWrappers().map((w) => w.name));
  for (const name of preset.requires.blockWrappers ?? []) if (!wrappers.has(name)) missing.push(`block wrapper "${name}"`);
  for (const name of preset.requires.resources ?? []) if (!resources[name]) missing.push(`resource "${name}"`);
  return missing;
}

function summarize(event: EvalEvent): EvalSummary {
  return {
    step: event.step,
    trainLoss: event.train.loss,
    trainAccuracy: event.train.accuracy,
    testLoss: event.test.loss,
    testAccuracy: event.test.accuracy,
    gapLoss: event.gap.loss,
    gapAccuracy: event.gap.accuracy,
    extra: { ...event.test.extra },
  };
}

function recordOf(run: PresetRun, trainer: Trainer, trace: RunRecord['trace'], elapsedMs: number): RunRecord {
  const end = trainer.history.end;
  const reason = end?.type === 'diverged' ? end.reason : end?.type === 'failed' ? `${end.error.name}: ${end.error.message}` : null;
  return {
    id: run.id,
    label: run.label,
    role: run.role,
    config: trainer.config,
    status: trainer.status,
    reason,
    completedSteps: trainer.completedSteps,
    elapsedMs,
    loss: downsampleMean(
      trainer.history.steps.map((s) => [s.step, s.loss] as [number, number]),
      Math.min(LOSS_POINTS, Math.ceil(trainer.history.steps.length / LOSS_WINDOW)),
    ),
    evals: trainer.history.evals.map(summarize),
    trace,
  };
}

/**
 * Copies a finished run's parameters and buffers into a new run's model by name (PresetRun.initFrom),
 * in place, so the optimizer built on the new model keeps its parameters. Throws (nothing copied)
 * when the earlier run is unknown or a name or shape does not match.
 */
export function initializeFrom(trainer: Trainer, run: PresetRun, finished: Readonly<Record<string, Trainer>>): void {
  const { run: from, except = [], rename = {} } = run.initFrom!;
  const source = Object.hasOwn(finished, from) ? finished[from] : undefined;
  if (!source) {
    throw new ValueError({ op: `initFrom of run "${run.id}"`, expected: `a run planned before it (${Object.keys(finished).join(', ') || 'none'})`, given: JSON.stringify(from) });
  }
  const sourceState = source.model.stateDict();
  const skipped = (name: string) => except.some((prefix) => name === prefix || name.startsWith(`${prefix}.`));
  const missing: string[] = [];
  const copied: Record<string, Tensor> = {};
  for (const name of Object.keys(trainer.model.stateDict())) {
    if (skipped(name)) continue;
    const sourceName = name.split('.').map((segment) => (Object.hasOwn(rename, segment) ? rename[segment]! : segment)).join('.');
    const tensor = sourceState[sourceName];
    if (tensor) copied[name] = tensor;
    else missing.push(sourceName);
  }
  if (missing.length > 0) {
    throw new ValueError({ op: `initFrom of run "${run.id}"`, expected: `every parameter and buffer of run "${from}"'s model`, given: `names it lacks: ${missing.join(', ')}` });
  }
  trainer.model.loadStateDict(copied, { strict: false });
}

function blankResult(preset: ClaimPreset, mode: PresetMode, seeds: readonly number[], rule: SeedRule): PresetResult {
  return {
    name: preset.name,
    title: preset.title,
    claim: preset.claim,
    method: preset.method,
    mode,
    seed: seeds[0]!,
    seeds: [...seeds],
    seedRule: rule,
    runtimeMs: 0,
    requires: preset.requires,
    missing: [],
    criteria: preset.criteria.map((c) => aggregateCriterion(c, seeds.map(() => checkCriterion(c, Number.NaN)), rule)),
    verdict: 'inconclusive',
    reason: '',
    perSeed: [],
    seedDependent: false,
    runs: [],
    table: null,
    tables: [],
    charts: [],
    notes: [],
    extra: {},
    error: null,
  };
}

/**
 * The 'error' result of an experiment that never returned a result of its own (for example a lab
 * worker that crashed while running it): the declared criteria unmeasured, `where` and the error in the reason.
 */
export function presetErrorResult(preset: ClaimPreset, mode: PresetMode, seeds: readonly number[], error: unknown, where: string): PresetResult {
  return markError(blankResult(preset, mode, seeds.length ? seeds : [preset.seed], preset.seedRule ?? MOST_SEEDS), error, where);
}

function markError(result: PresetResult, error: unknown, where: string): PresetResult {
  const err = error instanceof Error ? error : new Error(String(error));
  result.verdict = 'error';
  result.error = { name: err.name, message: err.message };
  result.reason = `${where} threw ${err.name}: ${err.message}`;
  return result;
}

/** A preset ready to run its seeds: each seed's planned runs, and the progress totals over all of them. */
export interface PreparedPreset {
  seeds: number[];
  plans: Array<{ seed: number; runs: PresetRun[]; firstRun: number; stepsBefore: number }>;
  totalRuns: number;
  totalSteps: number;
}

/** What one seed of a preset gave: its runs, its outcome and (for the table-showing first seed) what the analysis showed, or where it failed. */
export interface SeedPart {
  seed: number;
  runs: RunRecord[];
  outcome: SeedOutcome | null;
  shown: Pick<PresetResult, 'table' | 'tables' | 'charts' | 'notes' | 'extra'> | null;
  failure: { error: { name: string; message: string }; where: string } | null;
  /** Wall time of this seed (its runs, shared ones counting 0, and its analysis). */
  runtimeMs: number;
}

/**
 * Checks the seeds and the requirements and plans every seed: a result (an 'error' for a bad seed
 * list or a plan that throws, 'unavailable' for a missing requirement; its runtime still 0) when
 * nothing can run, else the plans. No progress is emitted.
 */
export function preparePreset(preset: ClaimPreset, mode: PresetMode, seeds: readonly number[], resources: ExperimentResources = {}): PreparedPreset | PresetResult {
  const result = blankResult(preset, mode, seeds.length ? seeds : [preset.seed], preset.seedRule ?? MOST_SEEDS);
  if (seeds.length === 0 || new Set(seeds).size !== seeds.length || !seeds.every((s) => Number.isInteger(s) && s >= 0)) {
    return markError(result, new RangeError(`runPreset: expected distinct non-negative integer seeds, got [${seeds.join(', ')}]`), 'the seed list');
  }
  result.missing = missingRequirements(preset, resources);
  if (result.missing.length > 0) {
    result.verdict = 'unavailable';
    result.reason = `not run: missing ${result.missing.join(', ')}`;
    return result;
  }
  let planned: Array<{ seed: number; runs: PresetRun[] }>;
  try {
    planned = seeds.map((seed) => ({ seed, runs: preset.plan(mode, seed).runs }));
  } catch (error) {
    return markError(result, error, 'the plan');
  }
  let firstRun = 0;
  let stepsBefore = 0;
  const plans = planned.map((p) => {
    const plan = { ...p, firstRun, stepsBefore };
    firstRun += p.runs.length;
    stepsBefore += p.runs.reduce((t, run) => t + runSteps(run), 0);
    return plan;
  });
  return { seeds: [...seeds], plans, totalRuns: firstRun, totalSteps: stepsBefore };
}

/** A run's steps as progress counts them before its trainer exists. */
function runSteps(run: PresetRun): number {
  return run.config.steps ?? 1000;
}

/** A trained run as a seed keeps it (and a `RunCache` shares it). */
export interface TrainedRun {
  trainer: Trainer;
  trace: RunRecord['trace'];
  elapsedMs: number;
}

/** Where trained runs come from: trained here, or shared by runs of the same resolved configuration (see `RunCache`). */
export interface RunSource {
  /** The trained run for `run`: `train()`'s, or an identical one trained earlier. */
  obtain(run: PresetRun, train: () => TrainedRun): TrainedRun;
}

export interface RunSeedOptions {
  mode: PresetMode;
  resources?: ExperimentResources;
  onProgress?: (event: PresetProgress) => void;
  progressIntervalMs?: number;
  now?: () => number;
  /** When the preset started (progress's presetElapsedMs; default: now). */
  started?: number;
  /** Trained runs shared with other presets of the same job (default: every run trained here). */
  runSource?: RunSource;
}

/**
 * Runs one seed of a prepared preset (plan `seedIndex` of `prepared`): its runs, then the analysis
 * and each criterion at that seed. Progress as `runPreset` emits it for that seed (run indices and
 * preset steps counted over every seed); no preset-start or preset-end. Never throws: a run or an
 * analysis that throws gives a part with its `failure`.
 */
export function runPresetSeed(preset: ClaimPreset, prepared: PreparedPreset, seedIndex: number, options: RunSeedOptions): SeedPart {
  const { mode } = options;
  const resources = options.resources ?? {};
  const now = options.now ?? (() => globalThis.performance.now());
  const emit = options.onProgress ?? (() => undefined);
  const interval = options.progressIntervalMs ?? 250;
  const started = options.started ?? now();
  const { seed, runs: plan, firstRun, stepsBefore: stepsBeforeSeed } = prepared.plans[seedIndex]!;
  const { totalRuns, totalSteps } = prepared;
  const many = prepared.seeds.length > 1;
  const seedStarted = now();
  const part: SeedPart = { seed, runs: [], outcome: null, shown: null, failure: null, runtimeMs: 0 };
  const fail = (error: unknown, where: string): SeedPart => {
    const err = error instanceof Error ? error : new Error(String(error));
    part.failure = { error: { name: err.name, message: err.message }, where };
    part.runtimeMs = now() - seedStarted;
    return part;
  };
  let stepsBefore = stepsBeforeSeed;
  let index = firstRun;
  const trainers: Record<string, Trainer> = {};
  const records: Record<string, RunRecord> = {};
  for (const run of plan) {
    const label = many ? `seed ${seed}: ${run.label}` : run.label;
    const train = (): TrainedRun => {
      const trainer = createTrainer(run.config, resources);
      if (run.initFrom) initializeFrom(trainer, run, trainers);
      const steps = trainer.config.steps;
      emit({ type: 'run-start', preset: preset.name, run: run.id, label, index, runs: totalRuns, steps });
      const runStarted = now();
      let lastProgress = runStarted;
      const trace: RunRecord['trace'] = {};
      while (trainer.status === 'ready') {
        const event = trainer.step();
        if (event && run.trace && event.step % run.trace.every === 0) {
          for (const [name, value] of Object.entries(run.trace.read(trainer))) (trace[name] ??= []).push([event.step, value]);
        }
        const t = now();
        if (t - lastProgress >= interval || trainer.status !== 'ready') {
          lastProgress = t;
          emit({
            type: 'run-progress', preset: preset.name, run: run.id, label, index, runs: totalRuns,
            step: trainer.completedSteps, steps, presetStep: stepsBefore + trainer.completedSteps, totalSteps,
            runElapsedMs: t - runStarted, presetElapsedMs: t - started,
          });
        }
      }
      return { trainer, trace, elapsedMs: now() - runStarted };
    };
    let trained: TrainedRun;
    let fresh = false;
    const trainHere = (): TrainedRun => {
      fresh = true;
      return train();
    };
    try {
      // A run that traces or starts from another run's weights depends on more than its config: never shared.
      trained = options.runSource && !run.trace && !run.initFrom ? options.runSource.obtain(run, trainHere) : trainHere();
    } catch (error) {
      return fail(error, `building run "${run.id}"${many ? ` (seed ${seed})` : ''}`);
    }
    const { trainer } = trained;
    // A shared run trained elsewhere: its start, as the run would have announced it.
    if (!fresh) emit({ type: 'run-start', preset: preset.name, run: run.id, label, index, runs: totalRuns, steps: trainer.config.steps });
    const record = recordOf(run, trainer, trained.trace, trained.elapsedMs);
    emit({ type: 'run-end', preset: preset.name, run: run.id, label, index, status: record.status, reason: record.reason, elapsedMs: record.elapsedMs });
    part.runs.push(record);
    if (trainer.status === 'failed') {
      return fail(trainer.error ?? new Error(record.reason ?? 'failed'), `run "${run.id}"${many ? ` (seed ${seed})` : ''}`);
    }
    trainers[run.id] = trainer;
    records[run.id] = record;
    stepsBefore += trainer.config.steps;
    index++;
  }

  let analysis: Analysis;
  try {
    analysis = preset.analyze({
      mode,
      seed,
      runs: records,
      trainers,
      evals: Object.fromEntries(Object.entries(trainers).map(([id, t]) => [id, t.history.evals])),
      resources,
      progress: (label, fraction) => emit({ type: 'analysis', preset: preset.name, label: many ? `seed ${seed}: ${label}` : label, fraction }),
      now,
    });
  } catch (error) {
    return fail(error, `the analysis${many ? ` (seed ${seed})` : ''}`);
  }
  const criteria = preset.criteria.map((criterion) => checkCriterion(criterion, analysis.measured[criterion.id] ?? Number.NaN, analysis.details?.[criterion.id]));
  part.outcome = { seed, ...judge(criteria), criteria, runtimeMs: now() - seedStarted, extra: analysis.extra ?? {} };
  part.shown = { table: analysis.table ?? null, tables: analysis.tables ?? [], charts: analysis.charts, notes: analysis.notes ?? [], extra: analysis.extra ?? {} };
  part.runtimeMs = part.outcome.runtimeMs;
  return part;
}

/**
 * The preset's result from its seeds' parts (in seed order, as `runPreset` runs them): the runs of
 * every seed, the first seed's tables and charts, each criterion after the declared seed rule, and
 * the verdict; the first failed part makes it an 'error' there (later parts ignored, as `runPreset`
 * stops at the first failure). `runtimeMs` is left to the caller.
 */
export function combineSeedParts(preset: ClaimPreset, mode: PresetMode, seeds: readonly number[], parts: readonly SeedPart[]): PresetResult {
  const rule = preset.seedRule ?? MOST_SEEDS;
  const result = blankResult(preset, mode, seeds, rule);
  if (parts.length !== seeds.length || parts.some((p, i) => p.seed !== seeds[i])) {
    throw new RangeError(`combineSeedParts: expected one part per seed in seed order [${seeds.join(', ')}], got [${parts.map((p) => p.seed).join(', ')}]`);
  }
  for (const part of parts) {
    result.runs.push(...part.runs);
    if (part.failure) {
      const { error, where } = part.failure;
      return markError(result, Object.assign(new Error(error.message), { name: error.name }), where);
    }
    result.perSeed.push(part.outcome!);
    if (result.perSeed.length === 1) Object.assign(result, part.shown!);
  }
  const many = seeds.length > 1;
  result.criteria = preset.criteria.map((criterion, i) => aggregateCriterion(criterion, result.perSeed.map((s) => s.criteria[i]!), rule));
  const { verdict, reason } = judge(result.criteria);
  result.verdict = verdict;
  result.reason = many ? `${reason} (${describeSeedRule(rule)}, ${seeds.length} seeds)` : reason;
  const verdicts = new Set(result.perSeed.map((s) => s.verdict));
  result.seedDependent = verdicts.size > 1;
  if (result.seedDependent) {
    const bySeed = result.perSeed.map((s) => `seed ${s.seed} ${s.verdict}`).join(', ');
    result.reason += `; the verdict depends on the seed: ${bySeed}`;
  }
  if (many) result.notes = [`Tables and charts show seed ${seeds[0]}; the criteria table gives every seed's value.`, ...result.notes];
  return result;
}

/**
 * Runs one claim experiment at each of `seeds` (default: the preset's one-seed `seed`): every
 * planned configuration with the engine's trainer (seeded, so the same machine gives the same
 * numbers; only timings vary), then the preset's analysis per seed, each criterion checked per seed,
 * and the verdict from the criteria after the preset's declared rule over seeds (`seedRule`,
 * default MOST_SEEDS). Tables and charts are those of the first seed. Never throws for a failing
 * experiment: a missing plugin gives 'unavailable', a run or analysis that throws gives 'error'
 * with the message. Synchronous; progress goes to `onProgress` (at most every `progressIntervalMs` during a run).
 * The same as `preparePreset`, `runPresetSeed` for each seed and `combineSeedParts` (how the lab runs seeds as separate jobs).
 *
 * @example
 * const result = runPreset(presetByName('qk-norm-logits'), { mode: 'reduced', seeds: [0, 1], onProgress: console.log });
 * result.perSeed.map((s) => s.verdict); // one verdict per seed; result.verdict applies the preset's seed rule
 */
export function runPreset(preset: ClaimPreset, options: RunPresetOptions = {}): PresetResult {
  const mode = options.mode ?? 'full';
  const resources = options.resources ?? {};
  const now = options.now ?? (() => globalThis.performance.now());
  const emit = options.onProgress ?? (() => undefined);
  const seeds = options.seeds ?? [preset.seed];
  const started = now();
  const finish = (result: PresetResult): PresetResult => {
    result.runtimeMs = now() - started;
    emit({ type: 'preset-end', preset: preset.name, verdict: result.verdict, elapsedMs: result.runtimeMs });
    return result;
  };
  const prepared = preparePreset(preset, mode, seeds, resources);
  if (!('plans' in prepared)) return finish(prepared);
  emit({ type: 'preset-start', preset: preset.name, title: preset.title, runs: prepared.totalRuns, totalSteps: prepared.totalSteps });
  const parts: SeedPart[] = [];
  for (let i = 0; i < prepared.plans.length; i++) {
    const part = runPresetSeed(preset, prepared, i, {
      mode, resources, onProgress: emit, now, started,
      ...(options.progressIntervalMs !== undefined ? { progressIntervalMs: options.progressIntervalMs } : {}),
    });
    parts.push(part);
    if (part.failure) break;
  }
  const done = parts.at(-1)!.failure ? [...parts, ...prepared.plans.slice(parts.length).map((p): SeedPart => ({ seed: p.seed, runs: [], outcome: null, shown: null, failure: null, runtimeMs: 0 }))] : parts;
  return finish(combineSeedParts(preset, mode, prepared.seeds, done));
}
