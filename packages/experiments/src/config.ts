import {
  OptionError, ValueError, checkNumberOption, get, has, resolveOptions, resolvePlugin,
  type OptionValues, type OptionsSchema, type PluginKind, type PluginOfKind,
} from '@normkit/tensor';
import { datasets } from './datasets/index';
import type { TaskKind } from './datasets/dataset';
import type { ModelDefinition } from './models/model';
import { models } from './models/index';
import { NO_NORM, traitsOf, type NormChoice, type PluginChoice } from './models/norm-slot';
import { getBlockWrapper } from './models/residual';

export const CONFIG_VERSION = 1;

export const TASKS: readonly TaskKind[] = ['classification', 'sequence-classification', 'conditional-generation'];

/** A choice among the engine's own option-carrying kinds (optimizer, schedule). */
export interface NamedOptions<N extends string = string> {
  name: N;
  options?: Record<string, unknown>;
}

export type OptimizerName = 'sgd' | 'adam' | 'adamw';
export type ScheduleName = 'constant' | 'step' | 'cosine' | 'warmup' | 'warmup-cosine';

/**
 * One experiment, as plain JSON: everything needed to reproduce a run bit for bit on the same
 * machine. Option objects follow the option schemas of their owner (data set, model, plugin,
 * optimizer, schedule); `resolveConfig` fills every default and validates every value.
 */
export interface ExperimentConfig {
  task: TaskKind;
  dataset: NamedOptions;
  model: NamedOptions & { blockWrapper?: PluginChoice };
  /** A normalizer per normalization role of the model (see `models[name].normRoles`); absent roles are 'none'. */
  norms: Record<string, NormChoice>;
  /** A weight parametrization per weight role of the model (spectral norm on the discriminator, ...). */
  weights: Record<string, PluginChoice>;
  /** Registered gradient-transform plugins run after backward, in order (clipping, AGC). */
  gradientTransforms: PluginChoice[];
  optimizer: NamedOptions<OptimizerName>;
  /** Base learning rate. */
  lr: number;
  schedule: NamedOptions<ScheduleName>;
  batchSize: number;
  seed: number;
  /** Optimization steps of the whole run. */
  steps: number;
  /** Evaluate (train/test metrics, train-vs-eval gap, probes) every this many steps, and at the end. */
  evalEvery: number;
  /** At most this many samples of each split in an evaluation. */
  evalSamples: number;
}

/** What `resolveConfig` accepts: a config with any defaulted field left out. */
export type ExperimentConfigInput = Pick<ExperimentConfig, 'task' | 'dataset' | 'model'> & Partial<Omit<ExperimentConfig, 'task' | 'dataset' | 'model'>>;

export const optimizerSchemas = {
  sgd: {
    momentum: { type: 'number', default: 0.9, min: 0, max: 1, maxExclusive: true, description: 'Momentum factor (0: plain SGD)' },
    nesterov: { type: 'boolean', default: false, description: 'Nesterov momentum' },
    weightDecay: { type: 'number', default: 0, min: 0, max: 1, description: 'L2 penalty added to the gradient' },
  },
  adam: {
    beta1: { type: 'number', default: 0.9, min: 0, max: 1, maxExclusive: true, description: 'First-moment decay' },
    beta2: { type: 'number', default: 0.999, min: 0, max: 1, maxExclusive: true, description: 'Second-moment decay' },
    eps: { type: 'number', default: 1e-8, min: 0, minExclusive: true, max: 1, description: 'Added to the denominator' },
    weightDecay: { type: 'number', default: 0, min: 0, max: 1, description: 'L2 penalty added to the gradient' },
  },
  adamw: {
    beta1: { type: 'number', default: 0.9, min: 0, max: 1, maxExclusive: true, description: 'First-moment decay' },
    beta2: { type: 'number', default: 0.999, min: 0, max: 1, maxExclusive: true, description: 'Second-moment decay' },
    eps: { type: 'number', default: 1e-8, min: 0, minExclusive: true, max: 1, description: 'Added to the denominator' },
    weightDecay: { type: 'number', default: 0.01, min: 0, max: 1, description: 'Decoupled weight decay' },
  },
} as const satisfies Record<OptimizerName, OptionsSchema>;

const warmupOptions = {
  warmupSteps: { type: 'number', default: 100, integer: true, min: 1, description: 'Steps of linear warmup' },
  startFactor: { type: 'number', default: 0.01, min: 0, max: 1, description: 'Fraction of lr at step 0' },
} as const;

export const scheduleSchemas = {
  constant: {},
  step: {
    stepSize: { type: 'number', default: 100, integer: true, min: 1, description: 'Steps between decays' },
    gamma: { type: 'number', default: 0.5, min: 0, max: 1, description: 'Factor applied at each decay' },
  },
  cosine: {
    etaMin: { type: 'number', default: 0, min: 0, description: 'Final learning rate (cosine over the whole run)' },
  },
  warmup: warmupOptions,
  'warmup-cosine': {
    ...warmupOptions,
    etaMin: { type: 'number', default: 0, min: 0, description: 'Final learning rate (cosine after the warmup)' },
  },
} as const satisfies Record<ScheduleName, OptionsSchema>;

const DEFAULTS = {
  optimizer: { name: 'adam', options: {} } as NamedOptions,
  lr: 0.01,
  schedule: { name: 'constant', options: {} } as NamedOptions,
  batchSize: 32,
  seed: 0,
  steps: 1000,
  evalEvery: 100,
  evalSamples: 500,
};

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function structure(field: string, expected: string, value: unknown): never {
  let given: string;
  try {
    given = value === undefined ? 'nothing' : JSON.stringify(value).slice(0, 80);
  } catch {
    given = typeof value;
  }
  throw new ValueError({ op: 'resolveConfig', expected: `${field} to be ${expected}`, given });
}

function checkOptionsObject(field: string, value: unknown): Record<string, unknown> {
  if (value === undefined) return {};
  if (!isRecord(value)) structure(field, 'an options object', value);
  return value;
}

function checkChoice(field: string, value: unknown): { name: string; options: Record<string, unknown> } {
  if (!isRecord(value) || typeof value.name !== 'string') structure(field, 'an object { name, options? }', value);
  for (const key of Object.keys(value)) {
    if (!['name', 'options', 'mask', 'blockWrapper'].includes(key)) structure(field, 'an object { name, options? }', value);
  }
  return { name: value.name, options: checkOptionsObject(`${field}.options`, value.options) };
}

function pick<T>(field: string, table: Readonly<Record<string, T>>, name: string): T {
  const found = Object.prototype.hasOwnProperty.call(table, name) ? table[name] : undefined;
  if (found === undefined) {
    throw new OptionError({ op: 'resolveConfig', expected: `${field} among ${Object.keys(table).join(', ')}`, given: JSON.stringify(name) });
  }
  return found;
}

/** The registered plugin of a kind; an unknown name or another kind throws the registry's error, naming the field. */
function pluginOfKind<K extends PluginKind>(field: string, name: string, kind: K): PluginOfKind[K] {
  return resolvePlugin(kind, name, undefined, { op: field }).plugin;
}

function integerField(field: string, value: unknown, fallback: number, range: { min: number; max: number }): number {
  return checkNumberOption('resolveConfig', field, value ?? fallback, { ...range, integer: true });
}

/**
 * Validates a config and fills every default: data set, model, plugin, optimizer and schedule
 * options through their option schemas (`resolveOptions`), so an out-of-range value throws an
 * OptionError naming the field, the range and the value (`norms.hidden (batch-norm): expected
 * option "momentum" to be a number >= 0 <= 1 (or null), got momentum = 2`). Unknown plugin names
 * throw the registry's RegistryError listing the registered ones; malformed JSON shapes a
 * ValueError. The result is canonical: equal experiments give equal (deep-equal) configs.
 *
 * @example
 * const config = resolveConfig({ task: 'classification', dataset: { name: 'two-spirals' }, model: { name: 'mlp' }, norms: { hidden: { name: 'batch-norm' } } });
 */
export function resolveConfig(input: unknown): ExperimentConfig {
  if (!isRecord(input)) structure('the config', 'an object', input);
  const known = ['task', 'dataset', 'model', 'norms', 'weights', 'gradientTransforms', 'optimizer', 'lr', 'schedule', 'batchSize', 'seed', 'steps', 'evalEvery', 'evalSamples'];
  for (const key of Object.keys(input)) {
    if (!known.includes(key)) throw new OptionError({ op: 'resolveConfig', expected: `fields among ${known.join(', ')}`, given: `unknown field "${key}"` });
  }
  if (typeof input.task !== 'string' || !TASKS.includes(input.task as TaskKind)) {
    throw new OptionError({ op: 'resolveConfig', expected: `task among ${TASKS.join(', ')}`, given: JSON.stringify(input.task) });
  }
  const task = input.task as TaskKind;

  const datasetChoice = checkChoice('dataset', input.dataset);
  const dataset = pick('dataset.name', datasets, datasetChoice.name);
  if (dataset.task !== task) {
    throw new OptionError({ op: 'resolveConfig', expected: `a data set for task ${task}`, given: `dataset "${dataset.name}", which is for ${dataset.task}` });
  }
  const datasetOptions = resolveOptions(`dataset.options (${dataset.name})`, dataset.options, datasetChoice.options);

  const modelChoice = checkChoice('model', input.model);
  const model = pick('model.name', models, modelChoice.name);
  if (!model.tasks.includes(task) || !model.inputKinds.includes(dataset.inputKind)) {
    throw new OptionError({
      op: 'resolveConfig',
      expected: `a model for task ${task} with ${dataset.inputKind} inputs (model "${model.name}" takes ${model.tasks.join('/')} with ${model.inputKinds.join('/')} inputs)`,
      given: `model "${model.name}" with dataset "${dataset.name}"`,
    });
  }
  const modelOptions = resolveOptions(`model.options (${model.name})`, model.options, modelChoice.options);
  const resolvedModel: ExperimentConfig['model'] = { name: model.name, options: modelOptions };
  const rawWrapper = (input.model as Record<string, unknown>).blockWrapper;
  if (rawWrapper !== undefined) {
    if (model.name !== 'residual') {
      throw new OptionError({ op: 'resolveConfig', expected: 'model.blockWrapper only with model "residual"', given: `model "${model.name}"` });
    }
    const wrapperChoice = checkChoice('model.blockWrapper', rawWrapper);
    const wrapper = getBlockWrapper(wrapperChoice.name);
    resolvedModel.blockWrapper = { name: wrapper.name, options: resolveOptions(`model.blockWrapper (${wrapper.name})`, wrapper.options, wrapperChoice.options) };
  }

  const norms = resolveNorms(input.norms, model, modelOptions);
  const weights = resolveWeights(input.weights, model);
  const gradientTransforms = resolveTransforms(input.gradientTransforms);

  const optimizerChoice = input.optimizer === undefined ? DEFAULTS.optimizer : checkChoice('optimizer', input.optimizer);
  const optimizerSchema = pick('optimizer.name', optimizerSchemas as Record<string, OptionsSchema>, optimizerChoice.name);
  const optimizer = {
    name: optimizerChoice.name as OptimizerName,
    options: resolveOptions(`optimizer.options (${optimizerChoice.name})`, optimizerSchema, optimizerChoice.options ?? {}),
  };
  const scheduleChoice = input.schedule === undefined ? DEFAULTS.schedule : checkChoice('schedule', input.schedule);
  const scheduleSchema = pick('schedule.name', scheduleSchemas as Record<string, OptionsSchema>, scheduleChoice.name);
  const schedule = {
    name: scheduleChoice.name as ScheduleName,
    options: resolveOptions(`schedule.options (${scheduleChoice.name})`, scheduleSchema, scheduleChoice.options ?? {}),
  };

  const lr = checkNumberOption('resolveConfig', 'lr', input.lr ?? DEFAULTS.lr, { min: 0, minExclusive: true, max: 100 });
  const batchSize = integerField('batchSize', input.batchSize, DEFAULTS.batchSize, { min: 1, max: 4096 });
  const seed = integerField('seed', input.seed, DEFAULTS.seed, { min: 0, max: 0xffffffff });
  const steps = integerField('steps', input.steps, DEFAULTS.steps, { min: 1, max: 10_000_000 });
  const evalEvery = integerField('evalEvery', input.evalEvery, DEFAULTS.evalEvery, { min: 1, max: 10_000_000 });
  const evalSamples = integerField('evalSamples', input.evalSamples, DEFAULTS.evalSamples, { min: 1, max: 100_000 });
  const trainSize = (datasetOptions as Record<string, unknown>).trainSize;
  if (typeof trainSize === 'number' && batchSize > trainSize) {
    throw new OptionError({ op: 'resolveConfig', expected: `batchSize <= dataset.options.trainSize (${trainSize})`, given: `batchSize = ${batchSize}` });
  }
  return {
    task,
    dataset: { name: dataset.name, options: datasetOptions },
    model: resolvedModel,
    norms,
    weights,
    gradientTransforms,
    optimizer,
    lr,
    schedule,
    batchSize,
    seed,
    steps,
    evalEvery,
    evalSamples,
  };
}

function resolveNorms(value: unknown, model: ModelDefinition, modelOptions: Readonly<Record<string, unknown>>): Record<string, NormChoice> {
  const given = checkOptionsObject('norms', value);
  const roles = model.normRoles.map((r) => r.name);
  for (const role of Object.keys(given)) {
    if (!roles.includes(role)) {
      throw new OptionError({ op: 'resolveConfig', expected: `norms for the roles of model "${model.name}": ${roles.join(', ')}`, given: `role "${role}"` });
    }
  }
  const norms: Record<string, NormChoice> = {};
  for (const { name: role, only, required, default: fallback, givesClass, givesCondition } of model.normRoles) {
    const raw = given[role] ?? { name: fallback ?? NO_NORM };
    const field = `norms.${role}`;
    const choice = checkChoice(field, raw);
    if (only && !only.includes(choice.name)) {
      throw new OptionError({ op: 'resolveConfig', expected: `${field} among ${only.map((n) => `'${n}'`).join(', ')}`, given: `"${choice.name}"` });
    }
    if (required && choice.name === NO_NORM) {
      throw new OptionError({ op: 'resolveConfig', expected: `${field}: a registered normalizer (model "${model.name}" needs one there)`, given: `'${NO_NORM}'` });
    }
    const mask = (raw as Record<string, unknown>).mask;
    if (mask !== undefined && typeof mask !== 'boolean') structure(`${field}.mask`, 'true or false', mask);
    let resolved: NormChoice;
    if (choice.name === NO_NORM) {
      traitsOf({ name: NO_NORM, options: choice.options }, field);
      resolved = { name: NO_NORM };
    } else {
      const plugin = pluginOfKind(field, choice.name, 'normalizer');
      const options = resolveOptions(`${field} (${plugin.name})`, plugin.options, choice.options);
      if ('dtype' in options && options.dtype !== 'float32') {
        throw new OptionError({ op: `${field} (${plugin.name})`, expected: "dtype 'float32' (the engine trains in float32)", given: `dtype = ${JSON.stringify(options.dtype)}` });
      }
      resolved = { name: plugin.name, options };
      const traits = traitsOf(resolved, field)!;
      const condition = givesClass === true || givesCondition?.(modelOptions) === true;
      if ((traits.needsCondition && !condition) || (traits.needsLabels && !givesClass)) {
        throw new OptionError({
          op: 'resolveConfig',
          expected: `${field}: a normalizer that needs no ${traits.needsLabels ? 'class labels' : 'condition'} (model "${model.name}" has none to give here; the conditional-generation task does, and an mlp with conditionFeatures gives a condition)`,
          given: `"${plugin.name}"`,
        });
      }
    }
    if (mask === false) resolved.mask = false;
    norms[role] = resolved;
  }
  return norms;
}

function resolveWeights(value: unknown, model: ModelDefinition): Record<string, PluginChoice> {
  const given = checkOptionsObject('weights', value);
  const weights: Record<string, PluginChoice> = {};
  for (const [role, raw] of Object.entries(given)) {
    if (!model.weightRoles.includes(role)) {
      throw new OptionError({ op: 'resolveConfig', expected: `weights for the roles of model "${model.name}": ${model.weightRoles.join(', ')}`, given: `role "${role}"` });
    }
    const field = `weights.${role}`;
    const choice = checkChoice(field, raw);
    const plugin = pluginOfKind(field, choice.name, 'weight-parametrization');
    weights[role] = { name: plugin.name, options: resolveOptions(`${field} (${plugin.name})`, plugin.options, choice.options) };
  }
  return weights;
}

function resolveTransforms(value: unknown): PluginChoice[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) structure('gradientTransforms', 'a list of { name, options? }', value);
  return value.map((raw, index) => {
    const field = `gradientTransforms[${index}]`;
    const choice = checkChoice(field, raw);
    const plugin = pluginOfKind(field, choice.name, 'gradient-transform');
    return { name: plugin.name, options: resolveOptions(`${field} (${plugin.name})`, plugin.options, choice.options) };
  });
}

// ---------------------------------------------------------------------------------------------
// Shareable strings: "v1." + base64url(JSON of the config without its defaults).

const PREFIX = `v${CONFIG_VERSION}.`;

function withoutDefaults(options: Record<string, unknown> | undefined, schema: OptionsSchema | undefined): Record<string, unknown> | undefined {
  if (!options) return undefined;
  const kept: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) {
    if (schema && key in schema && schema[key]!.default === value) continue;
    kept[key] = value;
  }
  return Object.keys(kept).length > 0 ? kept : undefined;
}

function compactChoice(choice: PluginChoice & { mask?: boolean }, schema: OptionsSchema | undefined): unknown[] {
  const options = withoutDefaults(choice.options, schema);
  const out: unknown[] = [choice.name];
  if (options || choice.mask === false) out.push(options ?? 0);
  if (choice.mask === false) out.push(0);
  return out;
}

function expandChoice(field: string, value: unknown): Record<string, unknown> {
  if (!Array.isArray(value) || typeof value[0] !== 'string' || value.length > 3) structure(field, 'a [name, options?, mask?] entry', value);
  const choice: Record<string, unknown> = { name: value[0] };
  if (isRecord(value[1])) choice.options = value[1];
  if (value.length === 3) choice.mask = false;
  return choice;
}

function pluginSchema(name: string): OptionsSchema | undefined {
  return has(name) ? get(name).options : undefined;
}

function toBase64Url(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromBase64Url(text: string): string {
  const base64 = text.replace(/-/g, '+').replace(/_/g, '/');
  const binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
  return new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
}

/**
 * A compact URL-safe string for a config (letters, digits, '-', '_' and one '.'): validated and
 * resolved first, then every value equal to its schema's default is left out, the rest written as
 * positional JSON and base64url-encoded after a version prefix. `decodeConfig` gives back
 * `resolveConfig(config)` exactly.
 *
 * @example
 * location.hash = encodeConfig(config); // 'v1.WzEsImNsYXNzaWZpY2F0aW9uIi...'
 */
export function encodeConfig(input: ExperimentConfigInput | ExperimentConfig): string {
  const config = resolveConfig(input);
  const dataset = datasets[config.dataset.name]!;
  const model = models[config.model.name]!;
  const norms: Record<string, unknown[]> = {};
  for (const [role, choice] of Object.entries(config.norms)) {
    const fallback = model.normRoles.find((r) => r.name === role)?.default;
    if (choice.name === NO_NORM && choice.mask !== false && fallback === undefined) continue;
    norms[role] = compactChoice(choice, pluginSchema(choice.name));
  }
  const weights: Record<string, unknown[]> = {};
  for (const [role, choice] of Object.entries(config.weights)) weights[role] = compactChoice(choice, pluginSchema(choice.name));
  const modelEntry = compactChoice(config.model, model.options);
  if (config.model.blockWrapper) {
    if (modelEntry.length === 1) modelEntry.push(0);
    modelEntry.push(compactChoice(config.model.blockWrapper, getBlockWrapper(config.model.blockWrapper.name).options));
  }
  const packed = [
    CONFIG_VERSION,
    config.task,
    compactChoice(config.dataset, dataset.options),
    modelEntry,
    norms,
    weights,
    config.gradientTransforms.map((choice) => compactChoice(choice, pluginSchema(choice.name))),
    compactChoice(config.optimizer, optimizerSchemas[config.optimizer.name]),
    config.lr,
    compactChoice(config.schedule, scheduleSchemas[config.schedule.name]),
    config.batchSize,
    config.seed,
    config.steps,
    config.evalEvery,
    config.evalSamples,
  ];
  return PREFIX + toBase64Url(JSON.stringify(packed));
}

function decodeError(expected: string, given: string): never {
  throw new ValueError({ op: 'decodeConfig', expected, given }, 'The link may be truncated or from another version of the playground');
}

/**
 * Reads a string made by `encodeConfig` back into a resolved config. A string that is not one
 * (wrong prefix, not base64url, not the expected JSON) throws a ValueError saying what is wrong;
 * a well-formed string with an invalid value throws `resolveConfig`'s error naming the field.
 */
export function decodeConfig(text: string): ExperimentConfig {
  if (typeof text !== 'string' || !text.startsWith(PREFIX)) {
    const shown = typeof text === 'string' ? JSON.stringify(text.slice(0, 24)) + (text.length > 24 ? '...' : '') : typeof text;
    decodeError(`a config string starting with "${PREFIX}" (made by encodeConfig)`, shown);
  }
  const body = text.slice(PREFIX.length);
  if (!/^[A-Za-z0-9_-]*$/.test(body)) {
    const bad = body.match(/[^A-Za-z0-9_-]/)![0];
    decodeError('only letters, digits, "-" and "_" after the version prefix', `the character ${JSON.stringify(bad)}`);
  }
  let packed: unknown;
  try {
    packed = JSON.parse(fromBase64Url(body));
  } catch {
    decodeError('base64url-encoded JSON after the version prefix', `${body.length} characters that do not decode`);
  }
  if (!Array.isArray(packed) || packed.length !== 15 || packed[0] !== CONFIG_VERSION) {
    decodeError(`a version ${CONFIG_VERSION} config of 15 fields`, Array.isArray(packed) ? `${packed.length} fields, version ${JSON.stringify(packed[0])}` : typeof packed);
  }
  const [, task, dataset, model, norms, weights, transforms, optimizer, lr, schedule, batchSize, seed, steps, evalEvery, evalSamples] = packed as unknown[];
  const modelChoice = expandChoice('model', Array.isArray(model) ? model.slice(0, 2) : model);
  if (Array.isArray(model) && model.length === 3) modelChoice.blockWrapper = expandChoice('model.blockWrapper', model[2]);
  const expandRecord = (field: string, value: unknown): Record<string, unknown> => {
    if (!isRecord(value)) structure(field, 'an object', value);
    return Object.fromEntries(Object.entries(value).map(([role, entry]) => [role, expandChoice(`${field}.${role}`, entry)]));
  };
  if (!Array.isArray(transforms)) structure('gradientTransforms', 'a list', transforms);
  return resolveConfig({
    task,
    dataset: expandChoice('dataset', dataset),
    model: modelChoice,
    norms: expandRecord('norms', norms),
    weights: expandRecord('weights', weights),
    gradientTransforms: transforms.map((entry, i) => expandChoice(`gradientTransforms[${i}]`, entry)),
    optimizer: expandChoice('optimizer', optimizer),
    lr,
    schedule: expandChoice('schedule', schedule),
    batchSize,
    seed,
    steps,
    evalEvery,
    evalSamples,
  });
}

/** The option values of a named schema, typed (for callers that build configs in code). */
export type OptimizerOptions<N extends OptimizerName> = OptionValues<(typeof optimizerSchemas)[N]>;
