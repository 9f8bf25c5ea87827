import { has } from '@normkit/tensor';
import type { ExperimentResources } from '../datasets/dataset';
import { listBlockWrappers } from '../models/residual';
import { createTrainer, type EvalEvent, type Trainer } from '../train';
import { downsampleMean } from './analysis';
import {
  checkCriterion, judge,
  type Analysis, type ClaimPreset, type CriterionResult, type EvalSummary, type PresetMode, type PresetRun, type RunRecord,
  type Verdict,
} from './preset';

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
  seed: number;
  /** Wall time of the whole experiment (runs and analysis). */
  runtimeMs: number;
  requires: ClaimPreset['requires'];
  /** What is missing when the verdict is 'unavailable'. */
  missing: string[];
  criteria: CriterionResult[];
  verdict: Verdict;
  reason: string;
  runs: RunRecord[];
  table: Analysis['table'] | null;
  tables: NonNullable<Analysis['tables']>;
  charts: Analysis['charts'];
  notes: string[];
  extra: Record<string, unknown>;
  /** The error of an 'error' verdict. */
  error: { name: string; message: string } | null;
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

function blankResult(preset: ClaimPreset, mode: PresetMode): PresetResult {
  return {
    name: preset.name,
    title: preset.title,
    claim: preset.claim,
    method: preset.method,
    mode,
    seed: preset.seed,
    runtimeMs: 0,
    requires: preset.requires,
    missing: [],
    criteria: preset.criteria.map((c) => checkCriterion(c, Number.NaN)),
    verdict: 'inconclusive',
    reason: '',
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
 * Runs one claim experiment: every planned configuration with the engine's trainer (seeded, so
 * the same machine gives the same numbers; only timings vary), then the preset's analysis, then
 * the verdict from the criteria the preset declared. Never throws for a failing experiment: a
 * missing plugin gives 'unavailable', a run or analysis that throws gives 'error' with the message.
 * Synchronous; progress goes to `onProgress` (at most every `progressIntervalMs` during a run).
 *
 * @example
 * const result = runPreset(presetByName('qk-norm-logits'), { mode: 'reduced', onProgress: console.log });
 * result.verdict; // 'inconclusive' in reduced mode: the controls are not trained
 */
export function runPreset(preset: ClaimPreset, options: RunPresetOptions = {}): PresetResult {
  const mode = options.mode ?? 'full';
  const resources = options.resources ?? {};
  const now = options.now ?? (() => globalThis.performance.now());
  const emit = options.onProgress ?? (() => undefined);
  const interval = options.progressIntervalMs ?? 250;
  const started = now();
  const result = blankResult(preset, mode);
  const finish = (): PresetResult => {
    result.runtimeMs = now() - started;
    emit({ type: 'preset-end', preset: preset.name, verdict: result.verdict, elapsedMs: result.runtimeMs });
    return result;
  };

  result.missing = missingRequirements(preset, resources);
  if (result.missing.length > 0) {
    result.verdict = 'unavailable';
    result.reason = `not run: missing ${result.missing.join(', ')}`;
    return finish();
  }

  const fail = (error: unknown, where: string): PresetResult => {
    const err = error instanceof Error ? error : new Error(String(error));
    result.verdict = 'error';
    result.error = { name: err.name, message: err.message };
    result.reason = `${where} threw ${err.name}: ${err.message}`;
    return finish();
  };

  let plan: PresetRun[];
  try {
    plan = preset.plan(mode).runs;
  } catch (error) {
    return fail(error, 'the plan');
  }
  const stepsOf = (run: PresetRun): number => run.config.steps ?? 1000;
  const totalSteps = plan.reduce((total, run) => total + stepsOf(run), 0);
  emit({ type: 'preset-start', preset: preset.name, title: preset.title, runs: plan.length, totalSteps });

  const trainers: Record<string, Trainer> = {};
  const records: Record<string, RunRecord> = {};
  let stepsBefore = 0;
  for (const [index, run] of plan.entries()) {
    let trainer: Trainer;
    try {
      trainer = createTrainer(run.config, resources);
    } catch (error) {
      return fail(error, `building run "${run.id}"`);
    }
    const steps = trainer.config.steps;
    emit({ type: 'run-start', preset: preset.name, run: run.id, label: run.label, index, runs: plan.length, steps });
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
          type: 'run-progress', preset: preset.name, run: run.id, label: run.label, index, runs: plan.length,
          step: trainer.completedSteps, steps, presetStep: stepsBefore + trainer.completedSteps, totalSteps,
          runElapsedMs: t - runStarted, presetElapsedMs: t - started,
        });
      }
    }
    const record = recordOf(run, trainer, trace, now() - runStarted);
    emit({ type: 'run-end', preset: preset.name, run: run.id, label: run.label, index, status: record.status, reason: record.reason, elapsedMs: record.elapsedMs });
    result.runs.push(record);
    if (trainer.status === 'failed') {
      return fail(trainer.error ?? new Error(record.reason ?? 'failed'), `run "${run.id}"`);
    }
    trainers[run.id] = trainer;
    records[run.id] = record;
    stepsBefore += steps;
  }

  let analysis: Analysis;
  try {
    analysis = preset.analyze({
      mode,
      seed: preset.seed,
      runs: records,
      trainers,
      evals: Object.fromEntries(Object.entries(trainers).map(([id, t]) => [id, t.history.evals])),
      resources,
      progress: (label, fraction) => emit({ type: 'analysis', preset: preset.name, label, fraction }),
      now,
    });
  } catch (error) {
    return fail(error, 'the analysis');
  }
  result.criteria = preset.criteria.map((criterion) => checkCriterion(criterion, analysis.measured[criterion.id] ?? Number.NaN, analysis.details?.[criterion.id]));
  const { verdict, reason } = judge(result.criteria);
  result.verdict = verdict;
  result.reason = reason;
  result.table = analysis.table ?? null;
  result.tables = analysis.tables ?? [];
  result.charts = analysis.charts;
  result.notes = analysis.notes ?? [];
  result.extra = analysis.extra ?? {};
  return finish();
}
