// The declared configuration of a preset's runs, written for the PyTorch second implementation
// (python -m normkit_torch.lab): the exact samples, the initial weights, the batch order, optimizer and schedule.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BatchSampler, buildOptimizer, buildSchedule, createTrainer, models, resolveConfig, streamGenerator,
  type ClaimPreset, type ExperimentConfig, type ExperimentResources, type PluginChoice, type PresetMode, type PresetRun, type Split, type Trainer,
} from '@normkit/experiments';
import { LRScheduler, get, has, randn, saveBundle, saveSafetensors, tensor, type Module, type OptionsSchema, type Tensor } from '@normkit/tensor';

/** What python/normkit_torch/normkit_torch/lab.py reads (its docstring describes every field). */
export const RUNS_FORMAT = { format: 'normkit-lab-runs', version: 4, file: 'lab-runs.json' } as const;

/** The PresetRun and config fields the export carries; a run declaring any other is not replicated (it would run differently). */
const CARRIED_RUN_FIELDS = new Set(['id', 'label', 'role', 'config', 'initFrom', 'trace']);
const CARRIED_CONFIG_FIELDS = new Set([
  'task', 'dataset', 'model', 'norms', 'weights', 'gradientTransforms', 'optimizer', 'lr', 'schedule', 'batchSize', 'seed', 'steps', 'evalEvery', 'evalSamples',
]);

/** One run as the Python side reads it. */
export interface ExportedRunSpec {
  /** `<preset>/<seed>/<run id>`. */
  key: string;
  /** The preset: Python trains every run of a group or none. */
  group: string;
  /** Directory of the step-0 training bundle (architecture, initial weights, optimizer, schedule), relative to the export. */
  bundle: string;
  /** A conditional GAN: `bundle` holds the generator's optimizer, this bundle the discriminator's; null otherwise. */
  discriminatorBundle: string | null;
  /** A conditional GAN: `noise` [steps, 2, batchSize, latentDim], the z normkit's Trainer draws at each step; null otherwise. */
  noise: string | null;
  /** The exact samples (train.inputs, train.labels, train.masks, test.*), shared by runs with the same data. */
  data: string;
  /** `indices` [steps, batchSize]: the training samples of every step, in order. */
  batches: string;
  task: ExperimentConfig['task'];
  steps: number;
  evalEvery: number;
  evalSamples: number;
  batchSize: number;
  gradientTransforms: PluginChoice[];
  /** The config's schedule (the bundle describes it too, except 'constant', which it leaves null). */
  schedule: ExperimentConfig['schedule'];
  /**
   * The model's and each normalizer's options that differ from normkit's defaults: normkit_torch.lab refuses
   * a run with one it does not port, rather than build a model that silently differs.
   */
  nonDefault: { model: Record<string, unknown>; norms: Record<string, Record<string, unknown>> };
  /**
   * PresetRun.initFrom: after the bundle's step-0 weights are loaded, every parameter and buffer not under an
   * `except` prefix is copied from the trained run `key` (same preset and seed, trained before this one), its
   * name's segments mapped through `rename` (run-preset.ts's initializeFrom); null when the run starts fresh.
   */
  initFrom: { key: string; except: string[]; rename: Record<string, string> } | null;
  /**
   * PresetRun.trace: after every `every`-th step (and its evaluation, when it has one), each name's measure
   * (RunTrace.torch) is taken from the model; without them (`snapshots`) the model's state dict is saved there and
   * the lab runs the trace's own `read` on it, loaded into the same normkit model; null when the run traces nothing.
   */
  trace: { every: number; measures: Record<string, string>; snapshots: boolean } | null;
}

function differing(options: Record<string, unknown> | undefined, schema: OptionsSchema | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options ?? {})) {
    const spec = schema?.[key] as { default?: unknown } | undefined;
    if (spec === undefined || JSON.stringify(spec.default) !== JSON.stringify(value)) out[key] = value;
  }
  return out;
}

/** What of `config` the export cannot carry (a reason), or null. */
function notCarried(run: PresetRun, config: ExperimentConfig): string | null {
  const runField = Object.keys(run).find((key) => !CARRIED_RUN_FIELDS.has(key) && (run as unknown as Record<string, unknown>)[key] !== undefined);
  if (runField) return `run "${run.id}" declares ${runField}, which the export to PyTorch does not carry`;
  const configField = Object.keys(config).find((key) => !CARRIED_CONFIG_FIELDS.has(key));
  return configField ? `run "${run.id}"'s config has the field ${configField}, which the export to PyTorch does not carry` : null;
}

/** A run as the lab keeps it to rebuild the record: the spec, and what only normkit knows. */
export interface ExportedRun extends ExportedRunSpec {
  preset: string;
  seed: number;
  run: PresetRun;
  config: ExperimentConfig;
  /** Completed epochs after each step's batch was drawn (StepEvent.epoch). */
  epochs: number[];
}

/** A preset's runs at its seeds, or why they cannot run in PyTorch as declared. */
export type PresetExport = { preset: string; runs: ExportedRun[] } | { preset: string; unsupported: string };

/** Written data files by content (data set choice and seed), so runs on the same data share one file. */
export type DataFiles = Map<string, string>;

function splitTensors(prefix: string, split: Split, sampleShape: readonly number[]): Record<string, Tensor> {
  const out: Record<string, Tensor> = {
    [`${prefix}.inputs`]: tensor(split.inputs, { shape: [split.count, ...sampleShape] }),
    [`${prefix}.labels`]: tensor(Float64Array.from(split.labels), { shape: [split.count] }),
  };
  if (split.masks) out[`${prefix}.masks`] = tensor(split.masks, { shape: [split.count, split.masks.length / split.count] });
  return out;
}

type BundleParts = NonNullable<ReturnType<Trainer['bundleParts']>>;

/**
 * A conditional GAN's training as normkit's Trainer sets it up (Trainer.build, ganStep): the generator's and the
 * discriminator's optimizer, each with its scheduler, built from the config as the trainer builds them, the
 * architecture as bundleParts describes a classifier's, and the z of every step in the order ganStep draws them from
 * the 'noise' stream (the discriminator's generated batch, then the generator's): PyTorch cannot draw normkit's.
 */
function ganParts(trainer: Trainer): { generator: BundleParts; discriminator: BundleParts; noise: Tensor } {
  const config = trainer.config;
  const gan = trainer.model as Module & { generatorNet: Module; discriminatorNet: Module; latentDim: number };
  const { model, norms, weights } = config;
  const { inputKind, sampleShape, numClasses } = trainer.dataset;
  const architecture = JSON.parse(JSON.stringify({ model, norms, weights, data: { inputKind, sampleShape, numClasses } })) as BundleParts['architecture'];
  const partsOf = (net: Module): BundleParts => {
    const optimizer = buildOptimizer(config, net, []);
    return { architecture, optimizer, scheduler: new LRScheduler(optimizer, buildSchedule(config)) };
  };
  const stream = streamGenerator(config.seed, 'noise');
  const draw = config.batchSize * gan.latentDim;
  const noise = new Float32Array(config.steps * 2 * draw);
  for (let i = 0; i < 2 * config.steps; i++) noise.set(randn([config.batchSize, gan.latentDim], { generator: stream }).data, i * draw);
  return { generator: partsOf(gan.generatorNet), discriminator: partsOf(gan.discriminatorNet), noise: tensor(noise, { shape: [config.steps, 2, config.batchSize, gan.latentDim] }) };
}

/**
 * Writes `preset`'s runs at `seeds` into `dir` for normkit_torch.lab and returns them, or the reason
 * they cannot be replicated as declared: a run field or config field the export does not carry. A
 * conditional GAN gets two bundles (one per optimizer) and the noise of every step (ganParts). Whether normkit_torch has the
 * model, normalizers and gradient transforms is decided on the Python side.
 */
export function exportPreset(
  preset: ClaimPreset, options: { mode: PresetMode; seeds: readonly number[]; resources: ExperimentResources; dir: string; dataFiles: DataFiles },
): PresetExport {
  const plans = options.seeds.map((seed) => ({ seed, runs: preset.plan(options.mode, seed).runs }));
  for (const { runs } of plans) {
    for (const [index, run] of runs.entries()) {
      const reason = notCarried(run, resolveConfig(run.config));
      if (reason) return { preset: preset.name, unsupported: reason };
      // runPreset refuses it too (initializeFrom): the source must be trained first.
      if (run.initFrom && !runs.slice(0, index).some((r) => r.id === run.initFrom!.run)) {
        return { preset: preset.name, unsupported: `run "${run.id}" starts from run "${run.initFrom.run}", which is not planned before it` };
      }
    }
  }
  const runs: ExportedRun[] = [];
  for (const { seed, runs: planned } of plans) {
    for (const run of planned) {
      const trainer = createTrainer(run.config, options.resources);
      const gan = trainer.task === 'conditional-generation' ? ganParts(trainer) : null;
      const parts = gan?.generator ?? trainer.bundleParts()!;
      const config = trainer.config;
      const bundle = join('runs', `${preset.name}.${seed}.${run.id}`.replace(/[^A-Za-z0-9._-]/g, '_'));
      const writeBundle = (directory: string, bundleParts: typeof parts) => {
        mkdirSync(join(options.dir, directory), { recursive: true });
        for (const [name, bytes] of Object.entries(saveBundle({ model: trainer.model, ...bundleParts }))) writeFileSync(join(options.dir, directory, name), bytes);
      };
      writeBundle(bundle, parts);
      const discriminatorBundle = gan ? join(bundle, 'discriminator') : null;
      if (gan) writeBundle(discriminatorBundle!, gan.discriminator);
      const noise = gan ? join(bundle, 'noise.safetensors') : null;
      if (gan) writeFileSync(join(options.dir, noise!), saveSafetensors({ noise: gan.noise }));

      const dataKey = JSON.stringify({ dataset: config.dataset, seed: config.seed });
      let data = options.dataFiles.get(dataKey);
      if (data === undefined) {
        data = join('data', `${options.dataFiles.size}.safetensors`);
        mkdirSync(join(options.dir, 'data'), { recursive: true });
        const { train, test, sampleShape } = trainer.dataset;
        writeFileSync(join(options.dir, data), saveSafetensors({ ...splitTensors('train', train, sampleShape), ...splitTensors('test', test, sampleShape) }));
        options.dataFiles.set(dataKey, data);
      }

      // The trainer's own batch stream: same split, batch size and 'shuffle' stream (Trainer.build).
      const sampler = new BatchSampler(trainer.dataset, trainer.dataset.train, config.batchSize, streamGenerator(config.seed, 'shuffle'));
      const indices = new Float64Array(config.steps * config.batchSize);
      const epochs: number[] = [];
      for (let step = 0; step < config.steps; step++) {
        indices.set(sampler.next().indices, step * config.batchSize);
        epochs.push(sampler.epoch);
      }
      const batches = join(bundle, 'batches.safetensors');
      writeFileSync(join(options.dir, batches), saveSafetensors({ indices: tensor(indices, { shape: [config.steps, config.batchSize] }) }));
      runs.push({
        key: `${preset.name}/${seed}/${run.id}`, group: preset.name, bundle, discriminatorBundle, noise, data, batches, task: config.task, steps: config.steps,
        evalEvery: config.evalEvery, evalSamples: config.evalSamples, batchSize: config.batchSize, gradientTransforms: config.gradientTransforms,
        schedule: config.schedule,
        nonDefault: {
          model: differing(config.model.options, models[config.model.name]?.options),
          norms: Object.fromEntries(Object.entries(config.norms).map(([role, choice]) => [role, differing(choice.options, has(choice.name) ? get(choice.name).options : undefined)])),
        },
        initFrom: run.initFrom
          ? { key: `${preset.name}/${seed}/${run.initFrom.run}`, except: [...(run.initFrom.except ?? [])], rename: { ...(run.initFrom.rename ?? {}) } }
          : null,
        trace: run.trace ? { every: run.trace.every, measures: { ...run.trace.torch }, snapshots: !run.trace.torch } : null,
        preset: preset.name, seed, run, config, epochs,
      });
    }
  }
  return { preset: preset.name, runs };
}

/** Writes the run list Python reads (the specs only). */
export function writeRunList(dir: string, exports: readonly PresetExport[]): void {
  const runs: ExportedRunSpec[] = exports.flatMap((e) => ('runs' in e ? e.runs : [])).map((r) => ({
    key: r.key, group: r.group, bundle: r.bundle, discriminatorBundle: r.discriminatorBundle, noise: r.noise, data: r.data, batches: r.batches, task: r.task, steps: r.steps, evalEvery: r.evalEvery,
    evalSamples: r.evalSamples, batchSize: r.batchSize, gradientTransforms: r.gradientTransforms, schedule: r.schedule,
    nonDefault: r.nonDefault, initFrom: r.initFrom, trace: r.trace,
  }));
  writeFileSync(join(dir, RUNS_FORMAT.file), `${JSON.stringify({ format: RUNS_FORMAT.format, version: RUNS_FORMAT.version, runs }, null, 1)}\n`);
}
