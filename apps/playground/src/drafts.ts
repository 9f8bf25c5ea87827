// The configuration of one run as the editor holds it, and the choices the pickers offer.
//
// A draft has the shape of the engine's `ExperimentConfig` with every option filled in (so the
// forms show every value), but it may be invalid while someone is typing; `validateDraft` runs
// the engine's own `resolveConfig`, so the page shows exactly the engine's error.
import {
  NO_NORM, datasets, listBlockWrappers, models, optimizerSchemas, resolveConfig, scheduleSchemas,
  type DatasetDefinition, type ExperimentConfig, type ModelDefinition, type NormChoice, type NormRole,
  type OptimizerName, type ScheduleName, type TaskKind,
} from '@normkit/experiments';
import {
  describeOptionRange, get, list, type NormalizerTraits, type OptionSpec, type OptionsSchema,
} from '@normkit/tensor';
import { schemaDefaults } from './options';

/** An editable config: an `ExperimentConfig` whose values may not be valid yet. */
export type Draft = ExperimentConfig;

/** The most runs training side by side. */
export const MAX_RUNS = 4;

/** Labels and colours of the run slots (Okabe-Ito inspired, distinguishable for colour-blind readers). */
export const RUN_LABELS = ['A', 'B', 'C', 'D'] as const;
export const RUN_COLORS = ['#0072b2', '#d55e00', '#009e73', '#cc79a7'] as const;

export const TASK_TITLES: Record<TaskKind, string> = {
  classification: 'Classification',
  'sequence-classification': 'Sequences (padding matters)',
  'conditional-generation': 'Class-conditional generation',
};

/**
 * The run fields that are not option objects, as an `OptionsSchema` so the same form code draws
 * them. The ranges repeat the engine's checks in `resolveConfig` to guide typing; a test checks
 * the two agree at every boundary, and `resolveConfig` stays the judge.
 */
export const trainingSchema = {
  lr: { type: 'number', default: 0.01, min: 0, minExclusive: true, max: 100, description: 'Base learning rate' },
  batchSize: { type: 'number', default: 32, integer: true, min: 1, max: 4096, description: 'Samples per training batch' },
  seed: { type: 'number', default: 0, integer: true, min: 0, max: 0xffffffff, description: 'Seeds the data, the initialisation and the batch order' },
  steps: { type: 'number', default: 2000, integer: true, min: 1, max: 10_000_000, description: 'Optimization steps of the whole run' },
  evalEvery: { type: 'number', default: 25, integer: true, min: 1, max: 10_000_000, description: 'Evaluate (curves, probes) every this many steps' },
  evalSamples: { type: 'number', default: 256, integer: true, min: 1, max: 100_000, description: 'Samples per split in an evaluation' },
} as const satisfies OptionsSchema;

export type TrainingField = keyof typeof trainingSchema;

/** The config a new run starts from: the two spirals, an MLP and the normalizer given. */
export function defaultDraft(normalizer: string = NO_NORM): Draft {
  const training = schemaDefaults(trainingSchema) as Record<TrainingField, number>;
  const draft: Draft = {
    task: 'classification',
    dataset: { name: 'two-spirals', options: schemaDefaults(datasets['two-spirals']!.options) },
    model: { name: 'mlp', options: { ...schemaDefaults(models.mlp!.options), width: 32, depth: 3 } },
    norms: {},
    weights: {},
    gradientTransforms: [],
    optimizer: { name: 'adam', options: schemaDefaults(optimizerSchemas.adam) },
    schedule: { name: 'constant', options: {} },
    ...training,
  };
  draft.norms = defaultNorms(models.mlp!, {});
  draft.norms.hidden = normChoice(normalizer);
  return draft;
}

/** The runs of a page opened without a link: BatchNorm against no normalization. */
export function initialDrafts(): Draft[] {
  return [defaultDraft('batch-norm'), defaultDraft(NO_NORM)];
}

/** A normalizer choice with every option at its default. */
export function normChoice(name: string): NormChoice {
  if (name === NO_NORM) return { name: NO_NORM };
  return { name, options: schemaDefaults(get(name, 'normalizer').options) };
}

/** A resolved config as a draft: every option present. */
export function draftFromConfig(config: ExperimentConfig): Draft {
  return structuredClone(config);
}

export function datasetsForTask(task: TaskKind): DatasetDefinition[] {
  return Object.values(datasets).filter((d) => d.task === task);
}

export function modelsFor(task: TaskKind, dataset: DatasetDefinition): ModelDefinition[] {
  return Object.values(models).filter((m) => m.tasks.includes(task) && m.inputKinds.includes(dataset.inputKind));
}

function defaultNorms(model: ModelDefinition, previous: Record<string, NormChoice>): Record<string, NormChoice> {
  const norms: Record<string, NormChoice> = {};
  for (const role of model.normRoles) {
    const kept = previous[role.name];
    const allowed = kept && (!role.only || role.only.includes(kept.name)) && !(role.required && kept.name === NO_NORM);
    norms[role.name] = allowed ? kept : normChoice(role.default ?? NO_NORM);
  }
  return norms;
}

/** The draft for another task: its first data set and first fitting model, normalizers kept where they fit. */
export function withTask(draft: Draft, task: TaskKind): Draft {
  const dataset = datasetsForTask(task)[0]!;
  return withDataset({ ...draft, task }, dataset.name);
}

/** The draft with another data set (the model changes only if it cannot take the new data). */
export function withDataset(draft: Draft, name: string): Draft {
  const dataset = datasets[name]!;
  const next: Draft = { ...draft, task: dataset.task, dataset: { name, options: schemaDefaults(dataset.options) } };
  const fitting = modelsFor(dataset.task, dataset);
  const model = fitting.find((m) => m.name === draft.model.name) ?? fitting[0]!;
  const trainSize = next.dataset.options?.trainSize;
  if (typeof trainSize === 'number' && next.batchSize > trainSize) next.batchSize = trainSize;
  return model.name === draft.model.name ? { ...next, norms: defaultNorms(model, draft.norms) } : withModel(next, model.name);
}

/** The draft with another model: its default options, normalizers kept per role where they fit. */
export function withModel(draft: Draft, name: string): Draft {
  const model = models[name]!;
  const weights = Object.fromEntries(Object.entries(draft.weights).filter(([role]) => model.weightRoles.includes(role)));
  const next: Draft = { ...draft, model: { name, options: schemaDefaults(model.options) }, norms: defaultNorms(model, draft.norms), weights };
  return next;
}

export function withOptimizer(draft: Draft, name: OptimizerName): Draft {
  return { ...draft, optimizer: { name, options: schemaDefaults(optimizerSchemas[name]) } };
}

export function withSchedule(draft: Draft, name: ScheduleName): Draft {
  return { ...draft, schedule: { name, options: schemaDefaults(scheduleSchemas[name]) } };
}

export function withBlockWrapper(draft: Draft, name: string): Draft {
  const wrapper = listBlockWrappers().find((w) => w.name === name)!;
  const model = { ...draft.model };
  if (name === 'plain') delete model.blockWrapper;
  else model.blockWrapper = { name, options: schemaDefaults(wrapper.options) };
  return { ...draft, model };
}

/** What a normalization picker shows for one plugin in one role. */
export interface NormalizerOption {
  name: string;
  family: string;
  description: string;
  /** Traits with the default options (null for 'none'). */
  traits: NormalizerTraits | null;
  /** Why this role cannot take it, or null when it can. */
  unavailable: string | null;
}

/**
 * Every registered normalizer (and 'none') for a role of the draft's model, each marked available
 * or not with the engine's reason: a candidate is available when `resolveConfig` accepts the draft
 * with it in that role (so the Transformer's 'qk' role offers 'qk-norm' only, and normalizers that
 * need a class only appear usable where the model hands one over).
 */
export function normalizerOptions(draft: Draft, role: NormRole): NormalizerOption[] {
  const plugins = list({ kind: 'normalizer' });
  const candidates: NormalizerOption[] = [
    { name: NO_NORM, family: '', description: 'No normalization (the identity)', traits: null, unavailable: null },
    ...plugins.map((plugin) => {
      let traits: NormalizerTraits | null;
      try {
        traits = plugin.traits(schemaDefaults(plugin.options) as never);
      } catch {
        traits = null; // traits that need other options than the defaults: no badges
      }
      return { name: plugin.name, family: plugin.family, description: plugin.description, traits, unavailable: null };
    }),
  ];
  for (const candidate of candidates) {
    const trial: Draft = { ...draft, norms: { ...draft.norms, [role.name]: normChoice(candidate.name) } };
    try {
      resolveConfig(trial);
    } catch (error) {
      const message = errorMessage(error);
      // Only errors about this role make the candidate unavailable; others belong to other fields.
      if (message.includes(`norms.${role.name}`)) candidate.unavailable = message;
    }
  }
  return candidates;
}

/** Short labels for a normalizer's traits, shown as badges beside the picker. */
export function traitBadges(traits: NormalizerTraits | null): string[] {
  if (!traits) return [];
  const badges: string[] = [];
  if (traits.batchDependent) badges.push('batch-dependent');
  if (traits.hasRunningStats) badges.push('running stats');
  if (traits.acceptsMask) badges.push('takes the mask');
  if (traits.needsCondition) badges.push('needs a condition');
  if (traits.needsLabels) badges.push('needs labels');
  badges.push(traits.layout);
  return badges;
}

export type DraftCheck = { ok: true; config: ExperimentConfig } | { ok: false; message: string };

/** Runs the engine's `resolveConfig` on the draft: the config to train, or the engine's message. */
export function validateDraft(draft: Draft): DraftCheck {
  try {
    return { ok: true, config: resolveConfig(draft) };
  } catch (error) {
    return { ok: false, message: errorMessage(error) };
  }
}

/** A one-line summary of a config for a run card's header and the exports. */
export function describeDraft(draft: Draft): string {
  const norms = Object.entries(draft.norms)
    .filter(([, choice]) => choice.name !== NO_NORM)
    .map(([role, choice]) => `${role}: ${choice.name}${choice.mask === false ? ' (padding counted)' : ''}`);
  const weights = Object.entries(draft.weights).map(([role, choice]) => `${role}: ${choice.name}`);
  const parts = [norms.length ? norms.join(', ') : 'no normalization', ...weights, `${draft.model.name} on ${draft.dataset.name}`, `batch ${draft.batchSize}`, `lr ${draft.lr}`];
  if (draft.seed !== 0) parts.push(`seed ${draft.seed}`);
  return parts.join(' · ');
}

/** The text of any thrown value (normkit errors already name the op, the expectation and the value). */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === 'object' && error !== null && 'message' in error) return String(error.message);
  return String(error);
}

/** The range text for a spec, for tooltips. */
export function rangeHint(spec: OptionSpec): string {
  return describeOptionRange(spec);
}
