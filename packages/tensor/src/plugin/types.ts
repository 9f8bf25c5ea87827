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

export interface NormalizerPlugin<S extends OptionsSchema = OptionsSchema> extends PluginBase<S> {
  readonly kind: 'normalizer';
  traits(options: OptionValues<S>): NormalizerTraits;
  create(slot: NormalizerSlot, options: OptionValues<S>): Normalizer;
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

export interface WeightParametrizationPlugin<S extends OptionsSchema = OptionsSchema> extends PluginBase<S> {
  readonly kind: 'weight-parametrization';
  /** Builds the parametrization for `module[tensorName]`; registration is `parametrize`'s job. */
  create(module: Module, tensorName: string, options: OptionValues<S>): Parametrization;
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

export interface GradientTransformPlugin<S extends OptionsSchema = OptionsSchema> extends PluginBase<S> {
  readonly kind: 'gradient-transform';
  create(options: OptionValues<S>): GradientTransform;
}

export type AnyPlugin = NormalizerPlugin | WeightParametrizationPlugin | GradientTransformPlugin;
export type PluginKind = AnyPlugin['kind'];

/** Identity helper that checks a plugin literal against the interface and keeps its option types. */
export function defineNormalizer<S extends OptionsSchema>(plugin: NormalizerPlugin<S>): NormalizerPlugin<S> {
  return plugin;
}

export function defineWeightParametrization<S extends OptionsSchema>(plugin: WeightParametrizationPlugin<S>): WeightParametrizationPlugin<S> {
  return plugin;
}

export function defineGradientTransform<S extends OptionsSchema>(plugin: GradientTransformPlugin<S>): GradientTransformPlugin<S> {
  return plugin;
}
