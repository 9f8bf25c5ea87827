import {
  Conv2d, Linear, clamp, createParametrization, div, flatten, gelu, mul, registerParametrization, relu,
  sum, tanh, unsqueeze,
  type Generator, type Module, type OptionValues, type OptionsSchema, type PostStepHook, type Tensor,
} from '@normkit/tensor';
import type { InputKind, TaskKind } from '../datasets/dataset';
import type { NormChoice, PluginChoice } from './norm-slot';

/** What a classifier receives: the batch's inputs and, for tokens, the padding mask. */
export interface ModelInput {
  /** [N, F], [N, L, F] or [N, C, H, W]. */
  x: Tensor;
  /** [N, L] for tokens. */
  mask?: Tensor;
}

/** A model that maps a batch to class logits [N, numClasses]. */
export interface Classifier extends Module {
  forward(input: ModelInput): Tensor;
}

/** The shape of the data a model is built for. */
export interface DataSpec {
  inputKind: InputKind;
  sampleShape: readonly number[];
  numClasses: number;
}

/** A named normalization slot of a model, for documentation and the playground's form. */
export interface NormRole {
  name: string;
  description: string;
  /** The normalizer names this role takes, when it cannot take any (the Transformer's 'qk' role). */
  only?: readonly string[];
  /** The role cannot be 'none'. */
  required?: boolean;
  /** The normalizer when a config leaves the role out ('none' otherwise). */
  default?: string;
  /** Normalizers here receive the sample's class as `condition` (one-hot) and `labels`. */
  givesClass?: boolean;
  /** Normalizers here receive a `condition` (no labels) when this holds for the model's options (an mlp's conditionFeatures). */
  givesCondition?: (options: Readonly<Record<string, unknown>>) => boolean;
}

/** Everything a model builder receives. */
export interface ModelBuildContext<S extends OptionsSchema = OptionsSchema> {
  options: OptionValues<S>;
  data: DataSpec;
  /** A choice per role; roles left out are 'none'. */
  norms: Readonly<Record<string, NormChoice>>;
  /** Drives every initialisation. */
  generator: Generator;
  /** Residual nets only: wraps each residual branch into a block (see residual.ts). */
  blockWrapper?: PluginChoice;
}

/**
 * A model the engine can build by name: an option schema (the plugins' `OptionsSchema`), the tasks
 * and inputs it handles, its normalization slots and weight-parametrization roles.
 */
export interface ModelDefinition<S extends OptionsSchema = OptionsSchema> {
  readonly name: string;
  readonly description: string;
  readonly options: S;
  readonly tasks: readonly TaskKind[];
  readonly inputKinds: readonly InputKind[];
  readonly normRoles: readonly NormRole[];
  /** Parts whose Linear and Conv2d weights a weight parametrization (spectral norm, WS) can take. */
  readonly weightRoles: readonly string[];
  build(context: ModelBuildContext<S>): Module;
}

/**
 * A model whose optimizer must run post-step hooks after every update (nGPT's projection of its
 * weights back onto the unit sphere): the engine's `buildOptimizer` adds them, so a config naming
 * the model gets them without saying so, and no run can leave them out.
 */
export interface PostStepHookSource {
  /** Fresh hooks for one optimizer, in the order they run. */
  postStepHooks(): readonly PostStepHook[];
}

/** The post-step hooks `module` asks for (none unless it is a PostStepHookSource). */
export function modelPostStepHooks(module: Module): PostStepHook[] {
  const source = module as Partial<PostStepHookSource>;
  return typeof source.postStepHooks === 'function' ? [...source.postStepHooks()] : [];
}

export function defineModel<S extends OptionsSchema>(definition: ModelDefinition<S>): ModelDefinition<S> {
  return definition;
}

export type ActivationName = 'relu' | 'tanh' | 'gelu';

export const activationOption = {
  type: 'enum',
  values: ['relu', 'tanh', 'gelu'],
  default: 'relu',
  description: 'Nonlinearity after each normalization slot',
} as const;

export function activate(name: ActivationName, x: Tensor): Tensor {
  switch (name) {
    case 'relu':
      return relu(x);
    case 'tanh':
      return tanh(x);
    case 'gelu':
      return gelu(x);
  }
}

/** The choice for `role`, 'none' when the config leaves it out. */
export function normFor(norms: Readonly<Record<string, NormChoice>>, role: string): NormChoice {
  return norms[role] ?? { name: 'none' };
}

/**
 * The mean over the real tokens of each sequence, [N, L, D] -> [N, D]:
 * sum_t mask[n, t] x[n, t, :] / max(1, sum_t mask[n, t]).
 */
export function maskedMeanPool(x: Tensor, mask: Tensor | undefined): Tensor {
  if (!mask) return div(sum(x, 1), x.shape[1]!);
  const weights = unsqueeze(mask, 2);
  const counts = clamp(sum(mask, 1, { keepdim: true }), 1);
  return div(sum(mul(x, weights), 1), counts);
}

/** [N, C, H, W] -> [N, C * H * W]; other inputs unchanged. */
export function flattenImage(x: Tensor, kind: InputKind): Tensor {
  return kind === 'image' ? flatten(x, 1) : x;
}

/** The width a dense layer sees: F for vectors and tokens, C * H * W for images. */
export function inputWidth(data: DataSpec): number {
  return data.inputKind === 'tokens' ? data.sampleShape[data.sampleShape.length - 1]! : data.sampleShape.reduce((a, b) => a * b, 1);
}

/** The Linear and Conv2d layers under `module` (the layers a weight parametrization applies to). */
export function weightLayers(module: Module): Array<[string, Linear | Conv2d]> {
  return [...module.namedModules()].filter((entry): entry is [string, Linear | Conv2d] => entry[1] instanceof Linear || entry[1] instanceof Conv2d);
}

/**
 * Reparametrizes the `weight` of every Linear and Conv2d under `module` with the registered
 * weight-parametrization plugin `choice.name` (spectral norm, weight norm, scaled WS, ...).
 * Call before building the optimizer: the original parameters stay the same objects.
 */
export function applyWeightParametrization(module: Module, choice: PluginChoice, owner: string): number {
  const layers = weightLayers(module);
  for (const [, layer] of layers) registerParametrization(layer, 'weight', createParametrization(choice.name, layer, 'weight', choice.options, { op: owner }));
  return layers.length;
}
