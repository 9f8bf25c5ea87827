// The claims lab's second implementation: the presets' runs trained again in PyTorch (normkit_torch.lab)
// from the same declared configuration, their measured series analysed by the presets' own code, and the
// two implementations' quantities and verdicts compared criterion by criterion.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import {
  LOSS_POINTS, LOSS_WINDOW, MOST_SEEDS, aggregateCriterion, checkCriterion, createTrainer, describeSeedRule, downsampleMean, finalTestAccuracy, judge, resolveConfig,
  median, type AnalysisContext, type ClaimPreset, type CriterionResult, type DataParallelRequest, type DataParallelRunner, type EvalEvent, type ExperimentResources,
  type InterleavedTiming, type NormTimer, type NormTimingRequest, type PresetMode, type PresetResult, type ReplicaRun, type RunRecord, type SeedCriterionResult, type StepEvent, type Trainer, type TrainerHistory, type Verdict,
} from '@normkit/experiments';
import { loadSafetensors } from '@normkit/tensor';
import { exportPreset, writeRunList, type DataFiles, type ExportedRun, type PresetExport } from './torch-export';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/**
 * When two measured values count as close (the report's "values" column): |normkit - PyTorch| <=
 * absolute + relative * |normkit|. Declared before any comparison: a test accuracy on 1,000 samples moves
 * by 0.001 per sample, and two float32 implementations of the same run drift apart over hundreds of steps.
 */
export const VALUE_TOLERANCE = { absolute: 0.01, relative: 0.01 } as const;

export class TorchUnavailableError extends Error {
  override name = 'TorchUnavailableError';
}

/** The Python that runs PyTorch: $NORMKIT_PYTHON, else Debian's /usr/bin/python3 (python3-torch). */
export function pythonCommand(env: NodeJS.ProcessEnv = process.env): string {
  return env.NORMKIT_PYTHON || '/usr/bin/python3';
}

function pythonEnv(): NodeJS.ProcessEnv {
  const path = join(ROOT, 'python', 'normkit_torch');
  return { ...process.env, PYTHONPATH: process.env.PYTHONPATH ? `${path}:${process.env.PYTHONPATH}` : path };
}

/** PyTorch's version under `python`; a TorchUnavailableError saying what to install when it cannot import torch. */
export function torchVersion(python: string): string {
  try {
    return execFileSync(python, ['-c', 'import torch, normkit_torch.lab; print(torch.__version__)'], { env: pythonEnv(), stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 })
      .toString().trim();
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim().split('\n').at(-1) ?? (error as Error).message;
    throw new TorchUnavailableError(
      `npm run lab -- --torch: expected ${python} to import torch and normkit_torch, got: ${stderr}. ` +
      'Install PyTorch (apt-get install python3-torch) or set NORMKIT_PYTHON to a Python that has it.',
      { cause: error },
    );
  }
}

/** What normkit_torch.lab returns for one run (null stands for a non-finite number). */
export interface TorchRun {
  status: 'done' | 'diverged';
  reason: string | null;
  completedSteps: number;
  elapsedMs: number;
  losses: Array<number | null>;
  /** The run's trace (PresetRun.trace with RunTrace.torch): [step, value] by name. */
  trace?: Record<string, Array<[number, number | null]>>;
  /** The trained model's state dict (safetensors, normkit's keys), relative to the export directory. */
  trained?: string;
  /** A trace without PyTorch measures (RunTrace.read): [step, state dict after that step], relative to the export directory. */
  snapshots?: Array<[number, string]>;
  /** Evaluations left to normkit (a conditional GAN's): [step, state dict after that step]; `evals` is then empty. */
  evalSnapshots?: Array<[number, string]>;
  evals: Array<{
    step: number; train: Metrics; test: Metrics; gap: Metrics;
    /** The test split's extra metrics (a GAN's mode coverage), as normkit's records keep them. */
    extra?: Record<string, number>;
    activations?: Record<string, { mean: number | null; std: number | null }>;
    probes?: { importance?: Record<string, unknown>; runningStats?: Record<string, { mean: Array<number | null>; var: Array<number | null> }> };
  }>;
}
export type Metrics = { loss: number | null; accuracy: number | null };
export interface TorchResults {
  torch: string;
  groups: Record<string, { status: 'trained' | 'unsupported' | 'error'; reason: string | null }>;
  runs: Record<string, TorchRun>;
}

const num = (value: number | null): number => (value === null ? Number.NaN : value);

/** The RunRecord of a PyTorch run, as run-preset.ts's recordOf makes normkit's. */
function torchRecord(exported: ExportedRun, run: TorchRun): RunRecord {
  const losses = run.losses.map((loss, i) => [i + 1, num(loss)] as [number, number]);
  return {
    id: exported.run.id,
    label: exported.run.label,
    role: exported.run.role,
    config: exported.config,
    status: run.status,
    reason: run.reason,
    completedSteps: run.completedSteps,
    elapsedMs: run.elapsedMs,
    loss: downsampleMean(losses, Math.min(LOSS_POINTS, Math.ceil(losses.length / LOSS_WINDOW))),
    evals: run.evals.map((e) => ({
      step: e.step, trainLoss: num(e.train.loss), trainAccuracy: num(e.train.accuracy), testLoss: num(e.test.loss),
      testAccuracy: num(e.test.accuracy), gapLoss: num(e.gap.loss), gapAccuracy: num(e.gap.accuracy), extra: { ...e.extra },
    })),
    trace: Object.fromEntries(Object.entries(run.trace ?? {}).map(([name, points]) => [name, points.map(([step, value]) => [step, num(value)] as [number, number])])),
  };
}

/** Thrown when an analysis reads what only a live normkit trainer has (its history, probes PyTorch does not take) or times normkit itself. */
export class NeedsNormkitTrainer extends Error {
  override name = 'NeedsNormkitTrainer';
}

function unavailable(what: string): never {
  throw new NeedsNormkitTrainer(`its analysis reads ${what}, which the PyTorch runner does not return`);
}

function torchEvalEvents(exported: ExportedRun, run: TorchRun): EvalEvent[] {
  return run.evals.map((e) => {
    const event = {
      type: 'eval' as const,
      step: e.step,
      epoch: exported.epochs[e.step - 1] ?? 0,
      train: { loss: num(e.train.loss), accuracy: num(e.train.accuracy), extra: {} },
      test: { loss: num(e.test.loss), accuracy: num(e.test.accuracy), extra: {} },
      gap: { loss: num(e.gap.loss), accuracy: num(e.gap.accuracy) },
      elapsedMs: Number.NaN,
    };
    // normkit_torch.lab measures the activation taps of the families it knows (lab_taps.py), the same statistics at the same steps.
    const activations = e.activations ? Object.fromEntries(Object.entries(e.activations).map(([name, s]) => [name, { mean: num(s.mean), std: num(s.std) }])) : undefined;
    if (activations) Object.assign(event, { activations });
    // And normkit's probes that lab_probes.py ports (running statistics; importance where it ports every module that has one).
    if (e.probes) {
      const probes: Record<string, unknown> = {};
      if (e.probes.runningStats) {
        probes.runningStats = Object.fromEntries(Object.entries(e.probes.runningStats).map(([name, s]) => [name, { mean: s.mean.map(num), var: s.var.map(num) }]));
      }
      if (e.probes.importance) probes.importance = e.probes.importance;
      for (const field of ['runningStats', 'importance', 'sigma', 'maxLogit'] as const) {
        if (!(field in probes)) Object.defineProperty(probes, field, { get: () => unavailable(`the normkit trainer's probes.${field}`), enumerable: false });
      }
      Object.assign(event, { probes });
    }
    for (const field of [...(activations ? [] : ['activations' as const]), 'gradNorms', ...(e.probes ? [] : ['probes' as const])] as const) {
      Object.defineProperty(event, field, { get: () => unavailable(`the normkit trainer's ${field}`), enumerable: false });
    }
    return event as unknown as EvalEvent;
  });
}

/** Where PyTorch's trained weights are (the export directory) and what a normkit trainer of the same config needs to build its data. */
export interface TrainedWeights {
  dir: string;
  resources: ExperimentResources;
  /** The Python that answers the `dataParallel` and `normTiming` resources' requests (default pythonCommand()). */
  python?: string;
}

/** What an analysis may read of a trainer holding PyTorch's trained weights; the rest (optimizer, steps) would be a fresh normkit run's. */
const TRAINED_MODEL_FIELDS = new Set<PropertyKey>(['model', 'dataset', 'config', 'task']);

/** Only these fields of a record are PyTorch's run: reading any other string key is refused (NeedsNormkitTrainer) as `what`.key. */
function onlyFields<T extends object>(target: T, what: string, run: ExportedRun): T {
  return new Proxy(target, {
    get: (t, key) => (Object.hasOwn(t, key) ? Reflect.get(t, key) as unknown
      : typeof key === 'string' ? unavailable(`the normkit trainer's ${what}${key} (run "${run.run.id}"; only its model, holding PyTorch's weights, its data and, where given, its per-step losses are PyTorch's run)`) : undefined),
  });
}

/**
 * A trainer's history as an analysis of a PyTorch run may read it: `steps`, each with its step number and PyTorch's
 * training loss of that step (the record keeps window means only); any other field would be normkit's run's.
 */
function lossHistory(exported: ExportedRun, losses: ReadonlyArray<number | null>): TrainerHistory {
  const steps = losses.map((loss, i) => onlyFields({ step: i + 1, loss: num(loss) } as StepEvent, 'history.steps[].', exported));
  return onlyFields({ steps } as TrainerHistory, 'history.', exported);
}

/**
 * A normkit trainer of `exported`'s config (the same data set and model) seen as an analysis or a trace may read it:
 * `load` puts a state dict PyTorch saved into its model (every key, or an error); with `losses` (PyTorch's per-step
 * training losses) its history holds them (lossHistory); any other field is refused (NeedsNormkitTrainer).
 */
function modelReader(exported: ExportedRun, weights: TrainedWeights, losses?: ReadonlyArray<number | null>): { view: Trainer; load(file: string): void; evaluate(): EvalEvent } {
  const trainer = createTrainer(exported.config, weights.resources);
  const readable = onlyFields(losses ? { history: lossHistory(exported, losses) } : {}, '', exported);
  const view = new Proxy(trainer, {
    get: (target, key) => (TRAINED_MODEL_FIELDS.has(key) ? Reflect.get(target, key) as unknown : Reflect.get(readable, key) as unknown),
  });
  return { view, load: (file) => trainer.model.loadStateDict(loadSafetensors(readFileSync(join(weights.dir, file)))), evaluate: () => trainer.evaluate() };
}

/**
 * A run whose evaluations PyTorch leaves to normkit (a conditional GAN's: MMD and the mixture score are normkit's
 * code): normkit's Trainer.evaluate on normkit's model holding PyTorch's weights after each evaluated step.
 */
function normkitEvaluations(exported: ExportedRun, run: TorchRun, weights: TrainedWeights | undefined): TorchRun {
  if (!run.evalSnapshots) return run;
  if (!weights) return unavailable(`the live normkit trainer of run "${exported.run.id}" (its evaluations)`);
  const reader = modelReader(exported, weights);
  const evals = run.evalSnapshots.map(([step, file]) => {
    reader.load(file);
    const { train, test, gap } = reader.evaluate();
    return { step, train, test, gap, extra: { ...test.extra } };
  });
  return { ...run, evals };
}

/**
 * A run's trace without PyTorch measures (RunTrace.read): the preset's own `read` on normkit's model holding PyTorch's
 * weights and buffers after each traced step, as run-preset.ts reads it from the live trainer after that step.
 */
function snapshotTrace(exported: ExportedRun, snapshots: ReadonlyArray<[number, string]>, weights: TrainedWeights | undefined): RunRecord['trace'] {
  if (!weights) return unavailable(`the live normkit trainer of run "${exported.run.id}" (its trace)`);
  const reader = modelReader(exported, weights);
  const trace: RunRecord['trace'] = {};
  for (const [step, file] of snapshots) {
    reader.load(file);
    for (const [name, value] of Object.entries(exported.run.trace!.read(reader.view))) (trace[name] ??= []).push([step, value]);
  }
  return trace;
}

/**
 * The `trainers` an analysis of PyTorch's runs sees: for a run PyTorch returned trained weights for, modelReader's view
 * of a normkit trainer holding them, built on first use, so the preset's own analysis measures PyTorch's trained model
 * with normkit's code. The trainer of a run without weights is refused (NeedsNormkitTrainer).
 */
function trainedModels(runs: ReadonlyArray<{ exported: ExportedRun; run: TorchRun }>, weights: TrainedWeights | undefined): Record<string, Trainer> {
  const built = new Map<string, Trainer>();
  const build = (id: string): Trainer => {
    const entry = runs.find((r) => r.exported.run.id === id);
    if (!weights || !entry?.run.trained) return unavailable(`the trained normkit model of run "${id}"`);
    const reader = modelReader(entry.exported, weights, entry.run.losses);
    reader.load(entry.run.trained);
    return reader.view;
  };
  return new Proxy<Record<string, Trainer>>({}, {
    get: (_target, key) => {
      if (typeof key !== 'string') return undefined;
      if (!built.has(key)) built.set(key, build(key));
      return built.get(key);
    },
  });
}

/** What normkit_torch.lab_ddp writes: every rank's replica runs (null for a non-finite number). */
interface TorchDataParallel {
  torch: string;
  ranks: Array<Array<Omit<ReplicaRun, 'losses' | 'stepMs' | 'final' | 'buffers'> & {
    losses: Array<number | null>;
    stepMs: number[];
    final: { testAccuracy: number | null; testLoss: number | null; trainAccuracy: number | null } | null;
    buffers: Record<string, Array<number | null>>;
  }>>;
}

/**
 * normkit's `dataParallel` resource trained in PyTorch (normkit_torch.lab_ddp: `size` processes over
 * torch.distributed on gloo, SyncBatchNorm by sync.convert_sync), for an analysis of PyTorch's runs: a request
 * whose config is one of the exported `runs`' trains that run's bundle, data and batches on the ranks, and
 * returns PyTorch's replica runs (losses, step times measured in PyTorch, buffers, final evaluation). A config
 * no exported run has is refused (PyTorch trains what was exported, nothing else).
 */
function torchDataParallel(runs: readonly ExportedRun[], weights: TrainedWeights | undefined, size: number): DataParallelRunner {
  return {
    size,
    train: (request: DataParallelRequest): ReplicaRun[][] => {
      const config = resolveConfig(request.config);
      const run = runs.find((r) => isDeepStrictEqual(r.config, config));
      if (!weights || !run) return unavailable(`normkit's data-parallel training of a config ${run ? 'without the export directory' : 'none of its exported runs has'}`);
      const base = join(weights.dir, 'data-parallel', run.key.replaceAll('/', '.'));
      mkdirSync(dirname(base), { recursive: true });
      writeFileSync(`${base}.request.json`, JSON.stringify({ key: run.key, size, variants: request.variants }));
      const python = weights.python ?? pythonCommand();
      try {
        execFileSync(python, ['-m', 'normkit_torch.lab_ddp', weights.dir, `${base}.request.json`, `${base}.json`], { env: pythonEnv(), stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 26 });
      } catch (error) {
        const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim() ?? '';
        throw new Error(`${python} -m normkit_torch.lab_ddp (${run.key}) failed: ${(error as Error).message}${stderr ? `\n${stderr}` : ''}`, { cause: error });
      }
      const trained = JSON.parse(readFileSync(`${base}.json`, 'utf8')) as TorchDataParallel;
      return trained.ranks.map((replicas) => replicas.map((r) => ({
        ...r,
        losses: r.losses.map(num),
        final: r.final && { testAccuracy: num(r.final.testAccuracy), testLoss: num(r.final.testLoss), trainAccuracy: num(r.final.trainAccuracy) },
        buffers: Object.fromEntries(Object.entries(r.buffers).map(([name, values]) => [name, values.map(num)])),
      })));
    },
  };
}

/** What normkit_torch.lab_timing writes: every shape's samples (ms per call, one per round) by normalizer. */
interface TorchNormTiming {
  torch: string;
  threads: number;
  modules: Record<string, string>;
  timings: Array<{ shape: [number, number]; samples: Record<string, number[]> }>;
}

/**
 * normkit's `normTiming` resource on PyTorch's own operations (normkit_torch.lab_timing, one thread): the same
 * request (normalizers, shapes, pass, rounds, calls, warmup) timed on PyTorch's clock, PyTorch's LayerNorm (its
 * fused kernel) against normkit_torch's RMSNorm. The samples are PyTorch's; their medians are taken here, by the
 * same `median` as timeInterleaved's, so the statistic is normkit's. The request files go to the export directory
 * under `prefix` (the preset and seed); without the directory, or when Python fails, it throws.
 */
function torchNormTimer(weights: TrainedWeights | undefined, prefix: string): NormTimer {
  let count = 0;
  return {
    implementation: 'PyTorch (normkit_torch.lab_timing)',
    time: (request: NormTimingRequest): InterleavedTiming[] => {
      if (!weights) return unavailable('normkit\'s timing of normalizers without the export directory');
      const base = join(weights.dir, 'norm-timing', `${prefix}.${count++}`);
      mkdirSync(dirname(base), { recursive: true });
      writeFileSync(`${base}.request.json`, JSON.stringify(request));
      const python = weights.python ?? pythonCommand();
      try {
        execFileSync(python, ['-m', 'normkit_torch.lab_timing', `${base}.request.json`, `${base}.json`], { env: pythonEnv(), stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 26 });
      } catch (error) {
        const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim() ?? '';
        throw new Error(`${python} -m normkit_torch.lab_timing (${prefix}) failed: ${(error as Error).message}${stderr ? `\n${stderr}` : ''}`, { cause: error });
      }
      const timed = JSON.parse(readFileSync(`${base}.json`, 'utf8')) as TorchNormTiming;
      return request.shapes.map((shape, i) => {
        const samples = timed.timings[i]?.samples;
        const complete = isDeepStrictEqual(timed.timings[i]?.shape, [...shape]) && samples !== undefined &&
          request.normalizers.every((name) => samples[name]?.length === request.rounds && samples[name].every((v) => Number.isFinite(v)));
        if (!complete) throw new Error(`normkit_torch.lab_timing (${prefix}): expected ${request.rounds} finite samples of ${request.normalizers.join(', ')} at shape [${shape.join(', ')}], got ${JSON.stringify(timed.timings[i] ?? null).slice(0, 200)}`);
        return { samples, medians: Object.fromEntries(request.normalizers.map((name) => [name, median(samples[name]!)])), rounds: request.rounds, callsPerSample: request.calls };
      });
    },
  };
}

/**
 * The resources an analysis of PyTorch's runs sees: `dataParallel` trained in PyTorch (torchDataParallel, as many
 * ranks as normkit's) and `normTiming` timed in PyTorch (torchNormTimer); any other (data, normkit's trainers)
 * would measure normkit, not the PyTorch runs.
 */
function torchResources(runs: readonly ExportedRun[], weights: TrainedWeights | undefined): ExperimentResources {
  const replaced: ExperimentResources = {
    dataParallel: torchDataParallel(runs, weights, weights?.resources.dataParallel?.size ?? 2),
    normTiming: torchNormTimer(weights, (runs[0]?.key ?? 'timing').split('/').slice(0, 2).join('.')),
  };
  return new Proxy({}, {
    get: (_target, key) => (Object.hasOwn(replaced, key) ? Reflect.get(replaced, key) as unknown : typeof key === 'string' ? unavailable(`normkit's resource "${key}"`) : undefined),
  });
}

/** One criterion of a preset, as normkit and PyTorch measured it. */
export interface CriterionAgreement {
  id: string;
  kind: 'control' | 'claim';
  statement: string;
  metric: string;
  comparison: '>=' | '<=';
  threshold: number;
  normkit: SeedCriterionResult;
  torch: SeedCriterionResult;
  /** Largest |normkit - PyTorch| over the seeds (NaN when a seed is unmeasurable in one of them only). */
  maxDifference: number;
  /** Seeds where the criterion held in one implementation and not in the other. */
  seedsDiffering: number[];
  /**
   * 'agree': the same result on every seed, values within VALUE_TOLERANCE; 'values differ': the same results,
   * values further apart; 'seeds differ': the same result over seeds (the seed rule), but some seed lands on the
   * other side of the threshold in one implementation; 'disagree': the result over seeds differs.
   */
  agreement: 'agree' | 'values differ' | 'seeds differ' | 'disagree';
}

/** A preset replicated in PyTorch (or why not). */
export interface TorchReplication {
  preset: string;
  status: 'replicated' | 'not replicated' | 'error';
  /** Why not replicated, the error, or the agreement in words. */
  reason: string;
  seeds: number[];
  normkitVerdict: Verdict;
  torchVerdict: Verdict | null;
  torchReason: string | null;
  /** The same verdict, and no criterion whose result over seeds differs. */
  verdictsAgree: boolean | null;
  criteria: CriterionAgreement[];
  /** Each seed's verdicts, and the details PyTorch's analysis gave with its measured quantities (by criterion id; e.g. the timings behind a ratio). */
  perSeed: Array<{ seed: number; normkit: Verdict; torch: Verdict; torchDetails: Record<string, string> }>;
  runs: Array<{ id: string; seed: number; label: string; normkit: RunSummary; torch: RunSummary }>;
  /** PyTorch's runs as records (the same fields as normkit's `runs` of the preset result; `config.seed` tells seeds apart). */
  torchRuns: RunRecord[];
  /** PyTorch's training time for this preset. */
  torchTrainingMs: number;
}

export interface RunSummary {
  status: string;
  reason: string | null;
  completedSteps: number;
  finalTestAccuracy: number;
  /** The first and last points of the record's training-loss curve (window means, the same windows for both). */
  firstLoss: number;
  lastLoss: number;
}

function summary(record: RunRecord): RunSummary {
  return {
    status: record.status,
    reason: record.reason,
    completedSteps: record.completedSteps,
    finalTestAccuracy: finalTestAccuracy(record),
    firstLoss: record.loss[0]?.[1] ?? Number.NaN,
    lastLoss: record.loss.at(-1)?.[1] ?? Number.NaN,
  };
}

function isClose(a: number, b: number): boolean {
  if (Number.isNaN(a) && Number.isNaN(b)) return true;
  return Math.abs(a - b) <= VALUE_TOLERANCE.absolute + VALUE_TOLERANCE.relative * Math.abs(a);
}

function notReplicated(result: PresetResult, reason: string, status: TorchReplication['status'] = 'not replicated'): TorchReplication {
  return {
    preset: result.name, status, reason, seeds: result.seeds, normkitVerdict: result.verdict, torchVerdict: null, torchReason: null,
    verdictsAgree: null, criteria: [], perSeed: [], runs: [], torchRuns: [], torchTrainingMs: 0,
  };
}

/**
 * The PyTorch side of one preset: its runs' records rebuilt from PyTorch's series, analysed seed by seed
 * by the preset's own `analyze`, judged with the declared criteria and seed rule exactly as runPreset
 * judges normkit's, and compared with normkit's `result`.
 */
export function compareWithTorch(
  preset: ClaimPreset, result: PresetResult, exported: readonly ExportedRun[], torch: TorchResults, mode: PresetMode, weights?: TrainedWeights,
): TorchReplication {
  const rule = result.seedRule ?? MOST_SEEDS;
  const perSeed: Array<{ seed: number; criteria: CriterionResult[]; verdict: Verdict; details: Record<string, string> }> = [];
  const runs: TorchReplication['runs'] = [];
  const torchRuns: RunRecord[] = [];
  let trainingMs = 0;
  for (const seed of result.seeds) {
    const records: Record<string, RunRecord> = {};
    const evals: Record<string, EvalEvent[]> = {};
    const trained: Array<{ exported: ExportedRun; run: TorchRun }> = [];
    for (const e of exported.filter((r) => r.seed === seed)) {
      const returned = torch.runs[e.key];
      if (!returned) return notReplicated(result, `PyTorch returned no result for run ${e.key}`, 'error');
      let run: TorchRun;
      let trace: RunRecord['trace'];
      try {
        run = normkitEvaluations(e, returned, weights);
        trace = run.snapshots ? snapshotTrace(e, run.snapshots, weights) : {};
      } catch (error) {
        if (error instanceof NeedsNormkitTrainer) return notReplicated(result, `run "${e.run.id}" ${error.message.replace(/^its analysis /, '')}`);
        throw error;
      }
      trained.push({ exported: e, run });
      const record = torchRecord(e, run);
      record.trace = { ...record.trace, ...trace };
      records[e.run.id] = record;
      torchRuns.push(record);
      evals[e.run.id] = torchEvalEvents(e, run);
      trainingMs += run.elapsedMs;
      const normkit = result.runs.find((r) => r.id === e.run.id && r.config.seed === e.config.seed);
      if (normkit) runs.push({ id: e.run.id, seed, label: e.run.label, normkit: summary(normkit), torch: summary(record) });
    }
    const context: AnalysisContext = {
      mode, seed, runs: records, trainers: trainedModels(trained, weights), evals, resources: torchResources(exported.filter((r) => r.seed === seed), weights),
      // An analysis that reads the clock times normkit's own operations: its numbers would not be PyTorch's (a timing
      // declared as a `normTiming` request is PyTorch's, through torchResources).
      progress: () => undefined, now: () => { throw new NeedsNormkitTrainer('its analysis times normkit\'s own operations (it reads the clock), which says nothing about PyTorch'); },
    };
    let measured: Record<string, number>;
    let details: Record<string, string> | undefined;
    try {
      ({ measured, details } = preset.analyze(context));
    } catch (error) {
      if (error instanceof NeedsNormkitTrainer) return notReplicated(result, error.message);
      const err = error instanceof Error ? error : new Error(String(error));
      return notReplicated(result, `the analysis of the PyTorch runs (seed ${seed}) threw ${err.name}: ${err.message}`, 'error');
    }
    const criteria = preset.criteria.map((c) => checkCriterion(c, measured[c.id] ?? Number.NaN, details?.[c.id]));
    perSeed.push({ seed, criteria, verdict: judge(criteria).verdict, details: { ...details } });
  }
  const aggregated = preset.criteria.map((c, i) => aggregateCriterion(c, perSeed.map((s) => s.criteria[i]!), rule));
  const torchJudgement = judge(aggregated);
  const criteria: CriterionAgreement[] = preset.criteria.map((c, i) => {
    const normkit = result.criteria[i]!;
    const theirs = aggregated[i]!;
    const differences = normkit.perSeed.map((v, s) => Math.abs(v - theirs.perSeed[s]!));
    const seedsDiffering = result.seeds.filter((_, s) => result.perSeed[s]!.criteria[i]!.passed !== perSeed[s]!.criteria[i]!.passed);
    const close = normkit.perSeed.every((v, s) => isClose(v, theirs.perSeed[s]!));
    return {
      id: c.id, kind: c.kind, statement: c.statement, metric: c.metric, comparison: c.comparison, threshold: c.threshold, normkit, torch: theirs,
      maxDifference: differences.some((d) => Number.isNaN(d)) ? Number.NaN : Math.max(...differences),
      seedsDiffering,
      agreement: normkit.passed !== theirs.passed ? 'disagree' : seedsDiffering.length > 0 ? 'seeds differ' : close ? 'agree' : 'values differ',
    };
  });
  const verdictsAgree = torchJudgement.verdict === result.verdict && criteria.every((c) => c.agreement !== 'disagree');
  const disagreeing = criteria.filter((c) => c.agreement === 'disagree').map((c) => `"${c.statement}"${c.seedsDiffering.length ? ` (seeds ${c.seedsDiffering.join(', ')})` : ''}`);
  const apart = criteria.filter((c) => c.agreement === 'values differ').length;
  const bySeed = criteria.filter((c) => c.agreement === 'seeds differ').map((c) => `"${c.statement}" (seeds ${c.seedsDiffering.join(', ')})`);
  const reason = verdictsAgree
    ? `PyTorch agrees: ${torchJudgement.verdict}, ${bySeed.length ? `every criterion with the same result over seeds; on some seeds one lands on the other side of its threshold: ${bySeed.join('; ')}` : 'every criterion with the same result on every seed'}` +
      `${apart ? ` (${apart} with values further apart than the declared tolerance)` : ''}`
    : `PyTorch DISAGREES: normkit ${result.verdict}, PyTorch ${torchJudgement.verdict}${disagreeing.length ? `; criteria that differ: ${disagreeing.join('; ')}` : ''}`;
  return {
    preset: preset.name, status: 'replicated', reason, seeds: result.seeds, normkitVerdict: result.verdict, torchVerdict: torchJudgement.verdict,
    torchReason: result.seeds.length > 1 ? `${torchJudgement.reason} (${describeSeedRule(rule)}, ${result.seeds.length} seeds)` : torchJudgement.reason,
    verdictsAgree, criteria, perSeed: perSeed.map((s, i) => ({ seed: s.seed, normkit: result.perSeed[i]!.verdict, torch: s.verdict, torchDetails: s.details })), runs, torchRuns, torchTrainingMs: trainingMs,
  };
}

/** What `--torch` adds to the report. */
export interface TorchSection {
  python: string;
  torchVersion: string;
  /** Wall time of the export, the PyTorch training and the comparison. */
  runtimeMs: number;
  replications: TorchReplication[];
}

export interface ReplicateOptions {
  mode: PresetMode;
  resources: ExperimentResources;
  python?: string;
  /** Keep the exported files here (default: a temporary directory, removed afterwards). */
  dir?: string;
  /** Keep normkit_torch.lab's progress lines (one per run, on stderr) off the terminal. */
  quiet?: boolean;
}

/**
 * Replicates `results` (normkit's results of `presets`) in PyTorch: exports every run's declared
 * configuration, trains the runs with normkit_torch.lab in one Python process, and compares.
 * Presets normkit could not run (unavailable, error) are not replicated.
 */
export function replicateInTorch(presets: readonly ClaimPreset[], results: readonly PresetResult[], options: ReplicateOptions): TorchSection {
  const started = performance.now();
  const python = options.python ?? pythonCommand();
  const version = torchVersion(python);
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'normkit-lab-torch-'));
  try {
    const dataFiles: DataFiles = new Map();
    const exports = new Map<string, PresetExport>();
    const replications = new Map<string, TorchReplication>();
    for (const result of results) {
      const preset = presets.find((p) => p.name === result.name)!;
      if (result.verdict === 'unavailable' || result.verdict === 'error') {
        replications.set(result.name, notReplicated(result, `normkit's own run is ${result.verdict}`));
        continue;
      }
      const exported = exportPreset(preset, { mode: options.mode, seeds: result.seeds, resources: options.resources, dir, dataFiles });
      if ('unsupported' in exported) replications.set(result.name, notReplicated(result, exported.unsupported));
      else exports.set(result.name, exported);
    }
    let torch: TorchResults = { torch: version, groups: {}, runs: {} };
    if (exports.size > 0) {
      writeRunList(dir, [...exports.values()]);
      try {
        execFileSync(python, ['-m', 'normkit_torch.lab', dir], { env: pythonEnv(), stdio: ['ignore', 'ignore', options.quiet ? 'pipe' : 'inherit'], maxBuffer: 1 << 26 });
      } catch (error) {
        const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim() ?? '';
        throw new Error(`${python} -m normkit_torch.lab ${dir} failed: ${(error as Error).message}${stderr ? `\n${stderr}` : ''}`, { cause: error });
      }
      torch = JSON.parse(readFileSync(join(dir, 'torch-results.json'), 'utf8')) as TorchResults;
    }
    for (const result of results) {
      const exported = exports.get(result.name);
      if (!exported || !('runs' in exported)) continue;
      const group = torch.groups[result.name];
      const preset = presets.find((p) => p.name === result.name)!;
      if (group?.status === 'unsupported') replications.set(result.name, notReplicated(result, `normkit_torch lacks a part: ${group.reason}`));
      else if (group?.status === 'error') replications.set(result.name, notReplicated(result, `training in PyTorch failed: ${group.reason}`, 'error'));
      else replications.set(result.name, compareWithTorch(preset, result, exported.runs, torch, options.mode, { dir, resources: options.resources, python }));
    }
    return { python, torchVersion: version, runtimeMs: performance.now() - started, replications: results.map((r) => replications.get(r.name)!) };
  } finally {
    if (!options.dir) rmSync(dir, { recursive: true, force: true });
  }
}
