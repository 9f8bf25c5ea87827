import {
  Generator, createFromPlugin, ones, randn,
  type DType, type Normalizer, type NormalizerContext, type NormalizerPlugin, type NormalizerSlot, type NormalizerTraits,
  type OptionsSchema, type OptionValues, type Tensor,
} from '@normkit/tensor';
import { formatShapeList } from '../../result';
import { cloneDict, defaultTolerance, resolveSuiteOptions, type SuiteOptions } from '../shared';

/** Absolute and relative tolerance: |actual - expected| <= atol + rtol * |expected|. */
export interface Tolerance {
  atol: number;
  rtol: number;
}

/** What the `context` factory is asked for: the context to pass with an input of this shape and dtype. */
export interface ContextRequest {
  shape: readonly number[];
  dtype: DType;
  /** Seeded; draw conditions and labels from it so runs are reproducible. */
  generator: Generator;
}

/**
 * An invariance of the family: transforming the input by constants drawn per `per` group leaves the
 * output unchanged (within `tolerance.invariance`).
 * - `per: 'sample'`: one constant per sample (index on axis 0): layer-, group- and RMS-style normalizers.
 * - `per: 'channel'`: one constant per channel: batch-style normalizers in training.
 * - `per: 'sample-channel'`: one per (sample, channel): instance-style normalizers.
 * - `per: 'tensor'`: one constant for the whole input.
 * `transform: 'shift'` adds c ~ U(-3, 3); `'scale'` multiplies by s ~ U(0.5, 2).
 */
export interface InvarianceSpec {
  transform: 'shift' | 'scale';
  per: 'sample' | 'channel' | 'sample-channel' | 'tensor';
  /** Module mode in which the invariance holds (default 'train'). */
  mode?: 'train' | 'eval';
}

export type NormalizerCheckName =
  | 'shape-and-dtype'
  | 'gradients'
  | 'train-eval'
  | 'batch-independence'
  | 'invariances'
  | 'state-dict'
  | 'context'
  | 'finite';

export interface NormalizerSuiteConfig {
  /** The slot the normalizer fills (numFeatures, normalizedShape, conditionDim, ...). */
  slot: NormalizerSlot;
  /** Input shapes to test, small ones (gradcheck is element by element). Include one with batch size >= 2. */
  inputShapes: readonly (readonly number[])[];
  /**
   * Plugin options. A function receives the dtype under test, for plugins whose parameter dtype is an
   * option under another name. With a plain object and an enum option named `dtype` in the schema,
   * the testkit sets `dtype` itself.
   */
  options?: SuiteOptions;
  /** Context for every forward (condition, labels, mask). Required when the plugin needs a condition or labels. */
  context?: (request: ContextRequest) => NormalizerContext;
  /** Shape of the mask for an input (default: channels-first [N, C, *S] -> [N, *S]; channels-last [..., C] -> [...]). */
  maskShape?: (inputShape: readonly number[]) => readonly number[];
  /** Invariances that hold for this normalizer (none by default: the testkit cannot guess the family). */
  invariances?: readonly InvarianceSpec[];
  tolerance?: {
    /** Mask-of-ones comparison in float32 (default atol 1e-6, rtol 1e-5). */
    float32?: Tolerance;
    /** Mask-of-ones comparison in float64 (default atol 1e-12, rtol 1e-10). */
    float64?: Tolerance;
    /** Invariance comparison, in float64 (default atol 1e-4, rtol 1e-4: eps breaks scale invariance slightly). */
    invariance?: Tolerance;
    /** Gradcheck tolerance and finite-difference step (default atol 1e-5, rtol 1e-4, eps 1e-6). */
    gradcheck?: Partial<Tolerance> & { eps?: number };
  };
  /** Seed of every random input (default 0). */
  seed?: number;
  /** Training forwards run before state is compared or eval is tested (default 3). */
  trainingSteps?: number;
  /** Dtypes tested by shape-and-dtype and finite (default both). Gradients are always checked in float64. */
  dtypes?: readonly DType[];
  /** Checks to skip, each with the reason shown in the test title. */
  skip?: Partial<Record<NormalizerCheckName, string>>;
}

export type Mode = 'train' | 'eval';

/** The plugin and config resolved once, shared by every check. */
export class NormalizerHarness {
  readonly traits: NormalizerTraits;
  readonly trainingSteps: number;
  readonly dtypes: readonly DType[];
  readonly float64Options: OptionValues<OptionsSchema>;

  constructor(
    readonly plugin: NormalizerPlugin,
    readonly config: NormalizerSuiteConfig,
  ) {
    this.float64Options = this.optionsFor('float64');
    this.traits = plugin.traits(this.float64Options);
    this.trainingSteps = config.trainingSteps ?? 3;
    this.dtypes = config.dtypes ?? ['float32', 'float64'];
  }

  /** Resolved options for a dtype (see `NormalizerSuiteConfig.options`). */
  optionsFor(dtype: DType): OptionValues<OptionsSchema> {
    return resolveSuiteOptions(this.plugin, this.config.options, dtype);
  }

  create(dtype: DType, mode: Mode = 'train'): Normalizer {
    // Through the registry's builder (the plugin need not be registered): the checks `create` makes apply here too.
    const module = createFromPlugin(this.plugin, this.config.slot, this.optionsFor(dtype), { op: `testkit (${this.plugin.name})` });
    return mode === 'train' ? module.train() : module.eval();
  }

  /** A fresh instance holding a copy of `module`'s state, in the same mode. */
  replicate(module: Normalizer, dtype: DType): Normalizer {
    const copy = this.create(dtype, module.training ? 'train' : 'eval');
    copy.loadStateDict(cloneDict(module.stateDict()));
    return copy;
  }

  /** A module warmed up on `shape` (running statistics moved) then put in `mode`, and a replica with its state. */
  warmedUpPair(shape: readonly number[], dtype: DType, mode: Mode, generator: Generator): [Normalizer, Normalizer] {
    const first = this.create(dtype);
    this.warmUp(first, shape, dtype, generator);
    first.train(mode === 'train');
    return [first, this.replicate(first, dtype)];
  }

  generator(salt: number): Generator {
    return new Generator((this.config.seed ?? 0) * 7919 + salt);
  }

  /** x = 0.5 + 1.5 * N(0, 1): a nonzero mean and non-unit variance, so centring and scaling matter. */
  input(shape: readonly number[], dtype: DType, generator: Generator): Tensor {
    const x = randn(shape, { dtype, generator });
    for (let i = 0; i < x.size; i++) x.data[i] = 0.5 + 1.5 * x.data[i]!;
    return x;
  }

  context(shape: readonly number[], dtype: DType, generator: Generator): NormalizerContext | undefined {
    return this.config.context?.({ shape, dtype, generator });
  }

  /** Runs `trainingSteps` training forwards on fresh inputs of `shape`, so running statistics move. */
  warmUp(module: Normalizer, shape: readonly number[], dtype: DType, generator: Generator): void {
    const wasTraining = module.training;
    module.train();
    for (let step = 0; step < this.trainingSteps; step++) {
      module.forward(this.input(shape, dtype, generator), this.context(shape, dtype, generator));
    }
    module.train(wasTraining);
  }

  channelAxis(rank: number): number {
    return this.traits.layout === 'channels-first' ? 1 : rank - 1;
  }

  maskShape(shape: readonly number[]): readonly number[] {
    if (this.config.maskShape) return this.config.maskShape(shape);
    if (this.traits.layout === 'channels-first') return [shape[0]!, ...shape.slice(2)];
    return shape.slice(0, -1);
  }

  onesMask(shape: readonly number[], dtype: DType): Tensor {
    return ones([...this.maskShape(shape)], { dtype });
  }

  /** Shapes with at least two samples, for batch (in)dependence. */
  batchedShapes(): (readonly number[])[] {
    return this.config.inputShapes.filter((shape) => (shape[0] ?? 0) >= 2);
  }

  describeCase(shape: readonly number[], dtype: DType, mode?: Mode): string {
    return `${formatShapeList(shape)} ${dtype}${mode ? ` ${mode}` : ''}`;
  }

  tolerance(dtype: DType): Tolerance {
    return this.config.tolerance?.[dtype] ?? defaultTolerance(dtype);
  }
}
