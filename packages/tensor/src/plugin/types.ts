import type { PostStepHook } from '../optim/post-step-hook';
import type { Tensor } from '../tensor';
import type { Module, Parameter } from '../nn/module';

/** The literal version of the plugin specification; plugins and core evolve on separate schedules. */
export const SPECIFICATION_VERSION = 'v1' as const;
export type SpecificationVersion = typeof SPECIFICATION_VERSION;

/** What a normalizer may receive besides its input. */
export interface NormalizerContext {
  /** 1 for real positions, 0 for padding; [N, L] for sequence inputs. */
  mask?: Tensor;
  /** A conditioning tensor (class embedding, timestep embedding, segmentation map, ...). */
  condition?: Tensor;
  /** Integer class ids, one per sample. */
  labels?: Tensor | readonly number[];
}

/** An activation normalizer: a Module whose output has the input's shape. */
export interface Normalizer extends Module {
  forward(x: Tensor, context?: NormalizerContext): Tensor;
}

/** The slot a normalizer fills in a model, so any plugin can be built by name anywhere. */
export interface NormalizerSlot {
  /** Channels (channels-first layouts) or the last dim (channels-last layouts). */
  numFeatures: number;
  /** Trailing dims normalised by layer-style plugins; defaults to [numFeatures]. */
  normalizedShape?: readonly number[];
  /** Width of the `condition` vector, for conditional plugins. */
  conditionDim?: number;
  /** Number of classes, for label-conditional plugins. */
  numClasses?: number;
  /** Channels of a segmentation-map condition (SPADE). */
  conditionChannels?: number;
}

export interface NumberOptionSpec {
  type: 'number';
  default: number | null;
  description: string;
  min?: number;
  max?: number;
  minExclusive?: boolean;
  maxExclusive?: boolean;
  integer?: boolean;
  /** null is allowed (e.g. BatchNorm's momentum: null = cumulative average). */
  nullable?: boolean;
}

export interface BooleanOptionSpec {
  type: 'boolean';
  default: boolean;
  description: string;
}

export interface EnumOptionSpec {
  type: 'enum';
  values: readonly string[];
  default: string;
  description: string;
}

export type OptionSpec = NumberOptionSpec | BooleanOptionSpec | EnumOptionSpec;
export type OptionsSchema = Readonly<Record<string, OptionSpec>>;

/** The option values a schema describes. */
export type OptionValues<S extends OptionsSchema> = {
  -readonly [K in keyof S]: S[K] extends NumberOptionSpec
    ? S[K]['nullable'] extends true
      ? number | null
      : number
    : S[K] extends BooleanOptionSpec
      ? boolean
      : S[K] extends EnumOptionSpec
        ? S[K]['values'][number]
        : never;
};

/** What the playground and the testkit read about a configured normalizer. */
export interface NormalizerTraits {
  /** Outputs depend on other samples in the batch (in training). */
  batchDependent: boolean;
  needsCondition: boolean;
  needsLabels: boolean;
  acceptsMask: boolean;
  hasRunningStats: boolean;
  /** 'channels-first': [N, C, *]; 'channels-last': [..., C] (layer-style, Transformer tokens). */
  layout: 'channels-first' | 'channels-last';
}

interface PluginBase<S extends OptionsSchema> {
  readonly specificationVersion: SpecificationVersion;
  /** Unique kebab-case name, e.g. `batch-norm`. */
  readonly name: string;
  /** The package or family it comes from, e.g. `batch`. */
  readonly family: string;
  /** One line. */
  readonly description: string;
  readonly options: S;
}

/**
 * How the modules a normalizer plugin creates export to ONNX: an optional field of specification v1,
 * read by `@normkit/onnx` (which builds it with `defineLowering`). The core does not depend on the
 * exporter, so the lowering is typed structurally here; `loweringVersion` versions the lowering
 * interface on its own schedule.
 */
export interface NormalizerOnnxLowering {
  readonly loweringVersion: 'v1';
  /** The class `create` returns; matched exactly (a subclass may override forward). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a constructor of any arity
  readonly module: abstract new (...args: any[]) => Module;
  /** `(module, inputs, ctx) => output`: see `@normkit/onnx`'s LowerFunction. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the exporter's types live in @normkit/onnx
  readonly lower: (module: any, inputs: readonly any[], ctx: any) => unknown;
}

export interface NormalizerPlugin<S extends OptionsSchema = OptionsSchema, M extends Normalizer = Normalizer> extends PluginBase<S> {
  readonly kind: 'normalizer';
  traits(options: OptionValues<S>): NormalizerTraits;
  create(slot: NormalizerSlot, options: OptionValues<S>): M;
  /** Optional: how its modules lower to ONNX, so `exportOnnx` exports a model using it once it is registered. */
  readonly onnx?: NormalizerOnnxLowering;
}

/**
 * Recomputes a tensor (usually a weight) from underlying ones at each forward, like a
 * `torch.nn.utils.parametrize` parametrization. A Module so it can hold buffers (spectral norm's
 * u and v) that appear in the state dict as `parametrizations.<name>.<index>.<buffer>`.
 */
export interface Parametrization extends Module {
  /** The effective tensor from the originals (one original unless rightInverse returns several). */
  forward(...originals: Tensor[]): Tensor;
  /** Originals that produce `value`; used at registration and on assignment. */
  rightInverse?(value: Tensor): Tensor[];
}

export interface WeightParametrizationPlugin<S extends OptionsSchema = OptionsSchema, P extends Parametrization = Parametrization>
  extends PluginBase<S> {
  readonly kind: 'weight-parametrization';
  /** Builds the parametrization for `module[tensorName]`; registration is `parametrize`'s job. */
  create(module: Module, tensorName: string, options: OptionValues<S>): P;
}

/** A named parameter as the optimizer sees it, with the module that owns it. */
export interface GradientEntry {
  name: string;
  parameter: Parameter;
  module?: Module;
}

/** What a gradient transform reports for one step (e.g. the total norm before clipping). */
export interface GradientTransformReport {
  [key: string]: number | string | boolean | undefined;
}

/** Runs on gradients after backward and before the optimizer update (clipping, AGC). */
export interface GradientTransform {
  readonly name: string;
  apply(entries: readonly GradientEntry[]): GradientTransformReport | void;
}

export interface GradientTransformPlugin<S extends OptionsSchema = OptionsSchema, T extends GradientTransform = GradientTransform>
  extends PluginBase<S> {
  readonly kind: 'gradient-transform';
  create(options: OptionValues<S>): T;
}

/** Builds a post-step hook: runs after the optimizer update (nGPT's weight renormalisation); gradient transforms run before it. */
export interface PostStepHookPlugin<S extends OptionsSchema = OptionsSchema, H extends PostStepHook = PostStepHook> extends PluginBase<S> {
  readonly kind: 'post-step-hook';
  create(options: OptionValues<S>): H;
}

export type AnyPlugin = NormalizerPlugin | WeightParametrizationPlugin | GradientTransformPlugin | PostStepHookPlugin;
export type PluginKind = AnyPlugin['kind'];

/** What a plugin author writes: the `define*` helpers fill in `kind` and `specificationVersion` (older literals that spell them out still work). */
interface LiteralBase<S extends OptionsSchema> extends Omit<PluginBase<S>, 'specificationVersion'> {
  readonly specificationVersion?: SpecificationVersion;
}
export interface NormalizerLiteral<S extends OptionsSchema, M extends Normalizer> extends LiteralBase<S> {
  readonly kind?: 'normalizer';
  traits(options: OptionValues<S>): NormalizerTraits;
  create(slot: NormalizerSlot, options: OptionValues<S>): M;
  readonly onnx?: NormalizerOnnxLowering;
}
export interface WeightParametrizationLiteral<S extends OptionsSchema, P extends Parametrization> extends LiteralBase<S> {
  readonly kind?: 'weight-parametrization';
  create(module: Module, tensorName: string, options: OptionValues<S>): P;
}
export interface GradientTransformLiteral<S extends OptionsSchema, T extends GradientTransform> extends LiteralBase<S> {
  readonly kind?: 'gradient-transform';
  create(options: OptionValues<S>): T;
}
export interface PostStepHookLiteral<S extends OptionsSchema, H extends PostStepHook> extends LiteralBase<S> {
  readonly kind?: 'post-step-hook';
  create(options: OptionValues<S>): H;
}

function complete<P extends AnyPlugin>(kind: P['kind'], plugin: { readonly kind?: string; readonly specificationVersion?: string }): P {
  // A complete literal is returned as is (same object, getters untouched); otherwise a copy with both filled in.
  if (plugin.kind !== undefined && plugin.specificationVersion !== undefined) return plugin as unknown as P;
  return { ...plugin, specificationVersion: plugin.specificationVersion ?? SPECIFICATION_VERSION, kind: plugin.kind ?? kind } as unknown as P;
}

/**
 * Declares a normalizer plugin: checks the literal against the interface, keeps its option types
 * and the type of the module it builds, and fills in `kind` and `specificationVersion`.
 *
 * @example
 * export const dytPlugin = defineNormalizer({
 *   name: 'dyt', family: 'acme', description: 'Dynamic Tanh', options: { alpha: { type: 'number', default: 0.5, description: 'initial alpha' } },
 *   traits: () => ({ batchDependent: false, needsCondition: false, needsLabels: false, acceptsMask: false, hasRunningStats: false, layout: 'channels-last' }),
 *   create: (slot, { alpha }) => new DyT(slot.numFeatures, alpha),
 * });
 */
export function defineNormalizer<const S extends OptionsSchema, M extends Normalizer = Normalizer>(
  plugin: NormalizerLiteral<S, M>,
): NormalizerPlugin<S, M> {
  return complete<NormalizerPlugin<S, M>>('normalizer', plugin);
}

/** Declares a weight parametrization plugin; fills in `kind` and `specificationVersion`. */
export function defineWeightParametrization<const S extends OptionsSchema, P extends Parametrization = Parametrization>(
  plugin: WeightParametrizationLiteral<S, P>,
): WeightParametrizationPlugin<S, P> {
  return complete<WeightParametrizationPlugin<S, P>>('weight-parametrization', plugin);
}

/** Declares a gradient transform plugin; fills in `kind` and `specificationVersion`. */
export function defineGradientTransform<const S extends OptionsSchema, T extends GradientTransform = GradientTransform>(
  plugin: GradientTransformLiteral<S, T>,
): GradientTransformPlugin<S, T> {
  return complete<GradientTransformPlugin<S, T>>('gradient-transform', plugin);
}

/** Declares a post-step hook plugin; fills in `kind` and `specificationVersion`. */
export function definePostStepHook<const S extends OptionsSchema, H extends PostStepHook = PostStepHook>(plugin: PostStepHookLiteral<S, H>): PostStepHookPlugin<S, H> {
  return complete<PostStepHookPlugin<S, H>>('post-step-hook', plugin);
}

/**
 * Names the registry knows at compile time, by kind: each family package (and any third-party
 * plugin) extends these interfaces by declaration merging, so `create('layer-norm', slot, { eps })`
 * returns `LayerNorm` and a misspelt name or option fails to compile:
 *
 * ```ts
 * declare module '@normkit/tensor' {
 *   interface NormalizerRegistry { 'acme-dyt': typeof dytPlugin }
 * }
 * ```
 * Names known only at run time go through `createByName`.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface NormalizerRegistry {}
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface WeightParametrizationRegistry {}
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface GradientTransformRegistry {}
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface PostStepHookRegistry {}

/** The options a caller may pass for a plugin: any subset of its schema's keys, each of the schema's type. */
export type OptionsInput<S extends OptionsSchema> = { readonly [K in keyof S]?: OptionValues<S>[K] };
/** The options a plugin accepts, as a caller passes them. */
export type PluginOptions<P> = P extends { readonly options: infer S extends OptionsSchema } ? OptionsInput<S> : never;
/** What a plugin's `create` returns. */
export type PluginProduct<P> = P extends { create(...args: never[]): infer R } ? R : never;

export type NormalizerName = Extract<keyof NormalizerRegistry, string>;
export type WeightParametrizationName = Extract<keyof WeightParametrizationRegistry, string>;
export type GradientTransformName = Extract<keyof GradientTransformRegistry, string>;
export type PostStepHookName = Extract<keyof PostStepHookRegistry, string>;

/**
 * A `{ name, options }` pair naming a registered normalizer, typed by name (TransformerBlock's
 * norms, the mixture's candidates): `{ name: 'rms-norm', options: { eps: 1e-6 } }`.
 */
export type NormalizerChoice = {
  [N in NormalizerName]: { readonly name: N; readonly options?: PluginOptions<NormalizerRegistry[N]> };
}[NormalizerName];

/** A `{ name, options }` pair whose name is known only at run time (validated when used). */
export interface NormalizerChoiceByName {
  readonly name: string;
  readonly options?: Readonly<Record<string, unknown>>;
}

/** The plugin type of each kind. */
export interface PluginOfKind {
  normalizer: NormalizerPlugin;
  'weight-parametrization': WeightParametrizationPlugin;
  'gradient-transform': GradientTransformPlugin;
  'post-step-hook': PostStepHookPlugin;
}
