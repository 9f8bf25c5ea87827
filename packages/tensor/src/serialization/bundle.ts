/**
 * A training bundle: everything needed to continue a run elsewhere (in normkit-torch, the PyTorch
 * package in `python/normkit_torch`, or in normkit again), as three files:
 *
 *   bundle.json            the manifest: format and version, an architecture description (any JSON,
 *                          e.g. the experiment config's model, norms, weights and data shape), the
 *                          optimizer's type, parameter groups (hyperparameters in PyTorch's names, with
 *                          parameter *names* instead of indices) and scalar state (Adam's `step`), and
 *                          the learning-rate schedule with the scheduler's position
 *   model.safetensors      the model's state dict, PyTorch's keys (what `module.stateDict()` gives)
 *   optimizer.safetensors  the optimizer's per-parameter buffers as F64, keyed `<parameter>.<field>`
 *                          in PyTorch's field names (`layers.0.linear.weight.exp_avg`, `.exp_avg_sq`,
 *                          `.momentum_buffer`); absent without an optimizer
 *
 * Parameters are named, not numbered, so the bundle does not depend on the order in which two
 * frameworks enumerate parameters. normkit-torch reads and writes the same files
 * (`normkit_torch.bundle.load_bundle` / `save_bundle`), so a run can go normkit -> PyTorch -> normkit.
 */
import { StateDictError, ValueError } from '../errors';
import type { Module, StateDict } from '../nn/module';
import type { Optimizer, OptimizerHyperparameters, OptimizerStateDict, OptimizerStateValueInput } from '../optim/optimizer';
import { CosineAnnealingLR, LinearWarmup, SequentialLR, StepLR, type LRSchedule, type LRScheduler } from '../optim/schedules';
import { Tensor } from '../tensor';
import { parseSafetensors, saveSafetensors } from './safetensors';

export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue };

export const BUNDLE_FORMAT = 'normkit-bundle';
export const BUNDLE_VERSION = 1;

/** The file names of a bundle. */
export const BUNDLE_FILES = { manifest: 'bundle.json', model: 'model.safetensors', optimizer: 'optimizer.safetensors' } as const;

/** A bundle as files: name -> bytes (write them into one directory). */
export type BundleFiles = Record<string, Uint8Array>;

/** The optimizer part of a manifest, in PyTorch's names (`weight_decay`, `initial_lr`). */
export interface BundleOptimizer {
  /** The optimizer class: 'Adam', 'AdamW' or 'SGD' (torch.optim's class names). */
  type: string;
  param_groups: Array<{ [key: string]: JsonValue; params: string[] }>;
  /** Scalar per-parameter state by parameter name (Adam's `step`); buffers are in optimizer.safetensors. */
  state: Record<string, Record<string, number>>;
}

export interface BundleManifest {
  format: typeof BUNDLE_FORMAT;
  version: typeof BUNDLE_VERSION;
  /** Who wrote it: 'normkit' or 'normkit_torch'. */
  producer: string;
  /** What the writer said the model is (null when not given); normkit-torch builds the playground/lab families from it. */
  architecture: JsonValue;
  optimizer: BundleOptimizer | null;
  /** The scheduler's position and, when it is one of the built-in schedules, the schedule itself. */
  scheduler: { last_step: number; schedule: JsonValue } | null;
}

export interface SaveBundleOptions {
  model: Module;
  /** Any JSON describing the model, stored as given (e.g. `{ model, norms, weights, data }` of an experiment config). */
  architecture?: JsonValue;
  optimizer?: Optimizer<OptimizerHyperparameters, object>;
  scheduler?: LRScheduler;
}

export interface LoadBundleTargets {
  model: Module;
  optimizer?: Optimizer<OptimizerHyperparameters, object>;
  scheduler?: LRScheduler;
}

/** A parsed bundle. */
export interface Bundle {
  manifest: BundleManifest;
  stateDict: StateDict;
  /** The optimizer buffers by `<parameter>.<field>` (empty without an optimizer). */
  optimizerTensors: StateDict;
}

const toSnake = (name: string): string => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const toCamel = (name: string): string => name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/**
 * The JSON description of a built-in schedule (StepLR, CosineAnnealingLR, LinearWarmup,
 * SequentialLR), in PyTorch's option names; null for any other schedule (a custom function cannot be
 * described: the reader then has to supply the schedule itself).
 */
export function describeSchedule(schedule: LRSchedule): JsonValue {
  if (schedule instanceof StepLR) return { type: 'StepLR', step_size: schedule.stepSize, gamma: schedule.gamma };
  if (schedule instanceof CosineAnnealingLR) return { type: 'CosineAnnealingLR', t_max: schedule.tMax, eta_min: schedule.etaMin };
  if (schedule instanceof LinearWarmup) {
    return { type: 'LinearWarmup', warmup_steps: schedule.warmupSteps, start_factor: schedule.startFactor, then: schedule.then ? describeSchedule(schedule.then) : null };
  }
  if (schedule instanceof SequentialLR) {
    return { type: 'SequentialLR', schedules: schedule.schedules.map(describeSchedule), milestones: [...schedule.milestones] };
  }
  return null;
}

function json(value: unknown): JsonValue {
  return JSON.parse(JSON.stringify(value)) as JsonValue;
}

/** Parameter -> its name in `model` (the state-dict key), for naming the optimizer's parameters. */
function parameterNames(model: Module): Map<Tensor, string> {
  const names = new Map<Tensor, string>();
  for (const [name, p] of model.namedParameters()) names.set(p, name);
  return names;
}

/**
 * Writes a bundle of `model` (its state dict), and optionally its optimizer (hyperparameters and
 * state, every parameter of which must belong to `model`) and scheduler (position and schedule).
 *
 * @example
 * const files = saveBundle({ model, architecture: { model: config.model, norms: config.norms }, optimizer, scheduler });
 * for (const [name, bytes] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), bytes);
 */
export function saveBundle(options: SaveBundleOptions): BundleFiles {
  const op = 'saveBundle';
  const { model, optimizer, scheduler } = options;
  if (typeof model?.stateDict !== 'function' || typeof model.namedParameters !== 'function') {
    throw new ValueError({ op, expected: 'options.model to be a Module', given: typeof model });
  }
  if (scheduler !== undefined && optimizer !== undefined && scheduler.optimizer !== optimizer) {
    throw new ValueError({ op, expected: 'options.scheduler to be attached to options.optimizer', given: 'a scheduler of another optimizer' });
  }
  const files: BundleFiles = { [BUNDLE_FILES.model]: saveSafetensors(model.stateDict()) };
  let optimizerPart: BundleOptimizer | null = null;
  if (optimizer !== undefined) {
    const names = parameterNames(model);
    const entries = optimizer.entries();
    const nameOf = entries.map(({ parameter, name }) => {
      const own = names.get(parameter);
      if (own === undefined) {
        throw new ValueError({ op, expected: 'every parameter of options.optimizer to be a parameter of options.model', given: `optimizer parameter "${name}", not in the model` });
      }
      return own;
    });
    const dict = optimizer.stateDict();
    const tensors: StateDict = {};
    const state: BundleOptimizer['state'] = {};
    for (const [index, fields] of Object.entries(dict.state)) {
      const name = nameOf[Number(index)]!;
      const shape = entries[Number(index)]!.parameter.shape;
      for (const [field, value] of Object.entries(fields)) {
        if (typeof value === 'number') (state[name] ??= {})[toSnake(field)] = value;
        else if (value instanceof Float64Array) tensors[`${name}.${toSnake(field)}`] = new Tensor(value.slice(), [...shape]);
      }
    }
    optimizerPart = {
      type: optimizer.constructor.name,
      param_groups: dict.paramGroups.map(({ params, names: _names, ...hyperparameters }) => {
        const group: { [key: string]: JsonValue; params: string[] } = { params: params.map((i) => nameOf[i]!) };
        for (const [key, value] of Object.entries(hyperparameters)) if (value !== undefined) group[toSnake(key)] = json(value);
        return group;
      }),
      state,
    };
    files[BUNDLE_FILES.optimizer] = saveSafetensors(tensors);
  }
  const manifest: BundleManifest = {
    format: BUNDLE_FORMAT,
    version: BUNDLE_VERSION,
    producer: 'normkit',
    architecture: options.architecture === undefined ? null : json(options.architecture),
    optimizer: optimizerPart,
    scheduler: scheduler === undefined ? null : { last_step: scheduler.lastStep, schedule: describeSchedule(scheduler.schedule) },
  };
  files[BUNDLE_FILES.manifest] = new TextEncoder().encode(`${JSON.stringify(manifest, null, 2)}\n`);
  return files;
}

/** Parses a bundle's files (checking the manifest's format and version) without loading anything. */
export function readBundle(files: BundleFiles): Bundle {
  const op = 'readBundle';
  const file = (name: string): Uint8Array => {
    const bytes = files?.[name];
    if (!(bytes instanceof Uint8Array)) throw new ValueError({ op, expected: `the bundle file "${name}" as bytes`, given: bytes === undefined ? 'no such file' : typeof bytes });
    return bytes;
  };
  let manifest: BundleManifest;
  try {
    manifest = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(file(BUNDLE_FILES.manifest))) as BundleManifest;
  } catch (error) {
    if (error instanceof ValueError) throw error;
    throw new ValueError({ op, expected: `${BUNDLE_FILES.manifest} to be UTF-8 JSON`, given: (error as Error).message });
  }
  if (manifest?.format !== BUNDLE_FORMAT || manifest.version !== BUNDLE_VERSION) {
    throw new ValueError({ op, expected: `a manifest of format "${BUNDLE_FORMAT}" version ${BUNDLE_VERSION}`, given: `format ${JSON.stringify(manifest?.format)} version ${JSON.stringify(manifest?.version)}` });
  }
  const stateDict = parseSafetensors(file(BUNDLE_FILES.model)).tensors;
  const optimizerTensors = manifest.optimizer ? parseSafetensors(file(BUNDLE_FILES.optimizer)).tensors : ({} as StateDict);
  return { manifest, stateDict, optimizerTensors };
}

/** The bundle's optimizer part as `optimizer.loadStateDict` takes it, parameters matched by name. */
function optimizerStateFor(op: string, bundle: Bundle, model: Module, optimizer: Optimizer<OptimizerHyperparameters, object>): OptimizerStateDict {
  const saved = bundle.manifest.optimizer;
  if (saved === null) throw new StateDictError(op, ['the bundle has no optimizer state, but an optimizer was given']);
  if (saved.type !== optimizer.constructor.name) throw new StateDictError(op, [`the bundle holds ${saved.type} state, the optimizer is ${optimizer.constructor.name}`]);
  const names = parameterNames(model);
  const indexOf = new Map<string, number>();
  optimizer.entries().forEach(({ parameter, name }, i) => indexOf.set(names.get(parameter) ?? name, i));
  const problems: string[] = [];
  const state: OptimizerStateDict['state'] = {};
  const fieldsOf = (name: string): Record<string, OptimizerStateValueInput> => {
    const index = indexOf.get(name);
    if (index === undefined) {
      problems.push(`state for parameter "${name}", which the optimizer does not hold`);
      return {};
    }
    return (state[index] ??= {});
  };
  for (const [name, scalars] of Object.entries(saved.state ?? {})) {
    for (const [field, value] of Object.entries(scalars)) fieldsOf(name)[toCamel(field)] = value;
  }
  for (const [key, t] of Object.entries(bundle.optimizerTensors)) {
    const dot = key.lastIndexOf('.');
    const name = key.slice(0, dot);
    if (dot < 0) {
      problems.push(`optimizer tensor "${key}" is not named <parameter>.<field>`);
      continue;
    }
    fieldsOf(name)[toCamel(key.slice(dot + 1))] = Float64Array.from(t.data);
  }
  // Buffers the bundle leaves out (amsgrad's max before its first use) are null, as at creation.
  const paramGroups = saved.param_groups.map((group) => {
    const { params, ...rest } = group;
    const hyperparameters: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(rest)) hyperparameters[toCamel(key)] = value;
    const indices = (Array.isArray(params) ? params : []).map((name) => {
      const index = indexOf.get(name);
      if (index === undefined) problems.push(`parameter group lists "${name}", which the optimizer does not hold`);
      return index ?? -1;
    });
    return { ...hyperparameters, params: indices } as OptimizerStateDict['paramGroups'][number];
  });
  paramGroups.forEach((group, g) => {
    const own = optimizer.paramGroups[g];
    const all = optimizer.entries();
    const mine = new Set(own?.entries.map((e) => all.indexOf(e)));
    // The order within a group does not matter (state is per parameter); which parameters it holds does.
    if (own && (group.params.length !== mine.size || group.params.some((index) => !mine.has(index)))) {
      problems.push(`parameter group ${g} holds other parameters than the optimizer's group ${g}`);
    }
  });
  if (problems.length > 0) throw new StateDictError(op, problems);
  return { state, paramGroups };
}

/**
 * Loads a bundle into `model` and, when given, `optimizer` and `scheduler`, all or nothing: if any
 * part does not fit (missing or extra keys, shapes, another optimizer type, state for parameters the
 * optimizer does not hold), nothing is changed and the error names every problem it found in that part.
 * Returns the manifest (its `architecture` says what the writer described).
 *
 * @example
 * const manifest = loadBundle(files, { model, optimizer, scheduler });
 */
export function loadBundle(files: BundleFiles, targets: LoadBundleTargets): BundleManifest {
  const op = 'loadBundle';
  const { model, optimizer, scheduler } = targets;
  if (typeof model?.loadStateDict !== 'function') throw new ValueError({ op, expected: 'targets.model to be a Module', given: typeof model });
  const bundle = readBundle(files);
  const saved = bundle.manifest.scheduler;
  if (scheduler !== undefined) {
    if (saved === null) throw new StateDictError(op, ['the bundle has no scheduler position, but a scheduler was given']);
    if (!Number.isInteger(saved.last_step) || saved.last_step < 0) throw new StateDictError(op, [`scheduler.last_step must be a non-negative integer, got ${String(saved.last_step)}`]);
  }
  const optimizerState = optimizer ? optimizerStateFor(op, bundle, model, optimizer) : undefined;
  const before = optimizer?.stateDict();
  const initialLrs = optimizer?.paramGroups.map((g) => g.initialLr);
  if (optimizer && optimizerState) optimizer.loadStateDict(optimizerState);
  try {
    model.loadStateDict(bundle.stateDict);
  } catch (error) {
    if (optimizer && before) {
      optimizer.loadStateDict(before);
      optimizer.paramGroups.forEach((g, i) => (g.initialLr = initialLrs![i]));
    }
    throw error;
  }
  if (scheduler !== undefined && saved !== null) scheduler.loadStateDict({ lastStep: saved.last_step });
  return bundle.manifest;
}
