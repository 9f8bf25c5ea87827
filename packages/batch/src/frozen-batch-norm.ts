import {
  checkChannels, Module, OptionError, ShapeError, ValueError, checkModuleDType, checkNumberOption, checkPaddingMask, checkTensor, dtypeOptionSpec, formatShape,
  normalize, ones, resolveOptions, zeros,
  type DType, type LoadStateDictOptions, type LoadStateDictResult, type Normalizer, type NormalizerContext, type OptionsSchema, type StateDict, type Tensor,
} from '@normkit/tensor';
import { BatchNorm, emptyNormOutput } from './batch-norm';
import { replaceModules } from './replace-modules';

/** FrozenBatchNorm's options besides numFeatures: the one schema the constructor, the plugin and the docs read. */
export const frozenBatchNormOptionsSchema = {
  eps: { type: 'number', default: 1e-5, min: 0, minExclusive: true, description: 'Added to running_var (torchvision: 1e-5).' },
  dtype: dtypeOptionSpec,
} as const satisfies OptionsSchema;

export interface FrozenBatchNormOptions {
  /** C, the size of the channel axis (axis 1). */
  numFeatures: number;
  /** Added to running_var (default 1e-5); must be > 0. */
  eps?: number;
  /** Buffer dtype (default float32); inputs must have the same dtype. */
  dtype?: DType;
}

/** The state-dict key torchvision drops on load: a frozen layer counts no batches. */
const DROPPED_KEY = 'num_batches_tracked';

/**
 * BatchNorm with fixed statistics and affine, as `torchvision.ops.FrozenBatchNorm2d` (and timm's
 * FrozenBatchNorm2d): for any [N, C, *] input,
 *
 *   scale = weight * rsqrt(running_var + eps)
 *   shift = bias - running_mean * scale
 *   y     = x * scale + shift
 *
 * which is BatchNorm's eval formula, in training too. `weight`, `bias`, `running_mean` and
 * `running_var` are buffers under torchvision's keys, not parameters: an optimizer sees none of
 * them and no gradient reaches them; only x gets one (dx = dy * scale). There is no
 * `num_batches_tracked`: loading a BatchNorm state dict drops it, as torchvision does (for a
 * FrozenBatchNorm nested in a model, use `dropFrozenNumBatchesTracked(model, dict)` first).
 *
 * The usual use is fine-tuning a pretrained detector or backbone at a small batch size, where batch
 * statistics would be noise: `freezeBatchNorm(model)` swaps every BatchNorm for one of these and
 * `unfreezeBatchNorm(model)` swaps back. Siblings: BatchNorm in eval mode computes the same output
 * (bit-identical, same fused kernel) but still trains gamma and beta and updates its statistics in
 * training; GroupNorm (another package) is the batch-independent alternative that keeps learning.
 *
 * One fused node: the shared `normalize` kernel with the running buffers as fixed statistics.
 * A padding mask ([N, *S]) is accepted for parity with BatchNorm: padded outputs are 0.
 *
 * @example
 * const frozen = new FrozenBatchNorm({ numFeatures: 64 });
 * frozen.loadStateDict(pretrainedBatchNorm.stateDict()); // num_batches_tracked is dropped
 * const y = frozen.forward(randn([2, 64, 56, 56]));
 */
export class FrozenBatchNorm extends Module implements Normalizer {
  readonly numFeatures: number;
  readonly eps: number;
  readonly dtype: DType;

  constructor(options: FrozenBatchNormOptions) {
    super();
    const op = 'FrozenBatchNorm';
    if (typeof options !== 'object' || options === null) throw new OptionError({ op, expected: 'an options object with numFeatures', given: String(options) });
    const { numFeatures, ...rest } = options;
    this.numFeatures = checkNumberOption(op, 'numFeatures', numFeatures, { min: 1, integer: true });
    const resolved = resolveOptions(op, frozenBatchNormOptionsSchema, rest);
    this.eps = resolved.eps;
    this.dtype = resolved.dtype;
    const c = this.numFeatures;
    const dtype = this.dtype;
    this.registerBuffer('weight', ones([c], { dtype }));
    this.registerBuffer('bias', zeros([c], { dtype }));
    this.registerBuffer('running_mean', zeros([c], { dtype }));
    this.registerBuffer('running_var', ones([c], { dtype }));
  }

  /** gamma, [C], a buffer. */
  get weight(): Tensor {
    return this.getBuffer('weight')!;
  }

  /** beta, [C], a buffer. */
  get bias(): Tensor {
    return this.getBuffer('bias')!;
  }

  /** The fixed mean, [C]. */
  get runningMean(): Tensor {
    return this.getBuffer('running_mean')!;
  }

  /** The fixed variance, [C]. */
  get runningVar(): Tensor {
    return this.getBuffer('running_var')!;
  }

  /**
   * A FrozenBatchNorm holding copies of a BatchNorm's gamma, beta (ones and zeros without affine)
   * and running statistics, with its eps and dtype. A BatchNorm without running statistics has no
   * fixed statistics to freeze and is refused.
   */
  static fromBatchNorm(source: BatchNorm): FrozenBatchNorm {
    if (!source.trackRunningStats) {
      throw new ValueError({ op: 'FrozenBatchNorm.fromBatchNorm', expected: 'a BatchNorm with running statistics (trackRunningStats: true)', given: 'trackRunningStats: false' });
    }
    const frozen = new FrozenBatchNorm({ numFeatures: source.numFeatures, eps: source.eps, dtype: source.dtype });
    if (source.weight) frozen.weight.data.set(source.weight.data);
    if (source.bias) frozen.bias.data.set(source.bias.data);
    frozen.runningMean.data.set(source.runningMean!.data);
    frozen.runningVar.data.set(source.runningVar!.data);
    frozen.training = source.training;
    return frozen;
  }

  /**
   * A trainable BatchNorm (affine, with running statistics) starting from copies of this module's
   * values: its eval output is bit-identical to this module's. `num_batches_tracked` starts at 0.
   */
  toBatchNorm(options: { momentum?: number | null } = {}): BatchNorm {
    const bn = new BatchNorm({ numFeatures: this.numFeatures, eps: this.eps, dtype: this.dtype, momentum: options.momentum === undefined ? 0.1 : options.momentum });
    bn.weight!.data.set(this.weight.data);
    bn.bias!.data.set(this.bias.data);
    bn.runningMean!.data.set(this.runningMean.data);
    bn.runningVar!.data.set(this.runningVar.data);
    bn.training = this.training;
    return bn;
  }

  forward(x: Tensor, context: NormalizerContext = {}): Tensor {
    const op = 'FrozenBatchNorm.forward';
    checkTensor(op, x, 'x');
    if (x.ndim < 2) throw new ShapeError({ op, expected: 'an input of rank 2 or more, [N, C, *]', given: `shape ${formatShape(x.shape)} (rank ${x.ndim})` });
    checkChannels(op, x, this.numFeatures, 'numFeatures');
    checkModuleDType(op, x, this.dtype);
    const spatial = x.shape.slice(2).reduce((a, b) => a * b, 1);
    const mask = context.mask
      ? { mask: checkPaddingMask(op, context.mask, [x.shape[0]!, ...x.shape.slice(2)], { shapeMeaning: "the input's shape without the channel axis" }), maskSpatial: spatial }
      : {};
    if (x.size === 0) return emptyNormOutput('frozenBatchNorm', x, null, null);
    return normalize(x, {
      op: 'frozenBatchNorm',
      layout: { outer: x.shape[0]!, groups: this.numFeatures, inner: spatial },
      acrossOuter: true,
      center: true,
      eps: this.eps,
      weight: this.weight,
      bias: this.bias,
      affineBlock: spatial,
      // Fixed statistics: the kernel folds them with gamma and beta into one scale and shift per channel.
      statistics: { mean: Float64Array.from(this.runningMean.data), variance: Float64Array.from(this.runningVar.data) },
      ...mask,
    }).output;
  }

  /** Loads as `Module.loadStateDict`, after dropping `num_batches_tracked` (torchvision's `_load_from_state_dict`). */
  override loadStateDict(dict: StateDict, options: LoadStateDictOptions = {}): LoadStateDictResult {
    if (typeof dict !== 'object' || dict === null || !Object.hasOwn(dict, DROPPED_KEY)) return super.loadStateDict(dict, options);
    const kept = Object.create(null) as StateDict;
    for (const [key, value] of Object.entries(dict)) if (key !== DROPPED_KEY) kept[key] = value;
    return super.loadStateDict(kept, options);
  }
}

/**
 * A copy of `dict` without the `num_batches_tracked` entries of `model`'s FrozenBatchNorms, so a
 * checkpoint saved from the BatchNorm version of a model loads strictly into the frozen one (what
 * torchvision's FrozenBatchNorm2d does in `_load_from_state_dict`).
 */
export function dropFrozenNumBatchesTracked(model: Module, dict: StateDict): StateDict {
  const dropped = new Set<string>();
  for (const [name, module] of model.namedModules()) {
    if (module instanceof FrozenBatchNorm) dropped.add(name ? `${name}.${DROPPED_KEY}` : DROPPED_KEY);
  }
  const kept = Object.create(null) as StateDict;
  for (const [key, value] of Object.entries(dict)) if (!dropped.has(key)) kept[key] = value;
  return kept;
}

/**
 * Swaps every BatchNorm of a model (GhostBatchNorm and SyncBatchNorm included) for a
 * FrozenBatchNorm holding copies of its values, and returns the model (or, when `model` is itself a
 * BatchNorm, its replacement). The frozen layers' gamma and beta leave `model.parameters()`: build
 * the optimizer after freezing. Eval outputs are unchanged, bit for bit; training outputs become
 * the eval ones. Refuses, before changing anything, a BatchNorm without running statistics.
 *
 * @example
 * const backbone = freezeBatchNorm(pretrained); // fine-tune at batch size 2
 * const optimizer = new SGD(backbone, { lr: 1e-3 });
 */
export function freezeBatchNorm<M extends Module>(model: M): M {
  for (const [name, module] of model.namedModules()) {
    if (module instanceof BatchNorm && !module.trackRunningStats) {
      throw new ValueError(
        { op: 'freezeBatchNorm', expected: 'every BatchNorm to have running statistics (trackRunningStats: true)', given: `module "${name || '(root)'}" with trackRunningStats: false` },
        'Nothing was changed. Such a layer normalises with batch statistics even in eval; it has no fixed statistics to freeze.',
      );
    }
  }
  return replaceModules('freezeBatchNorm', model, (module) => (module instanceof BatchNorm ? FrozenBatchNorm.fromBatchNorm(module) : null));
}

/**
 * Swaps every FrozenBatchNorm of a model back for a trainable BatchNorm (affine, with running
 * statistics, `momentum` 0.1 unless given) starting from its values, and returns the model (or the
 * replacement of a root FrozenBatchNorm). New parameters appear: build the optimizer after it.
 */
export function unfreezeBatchNorm<M extends Module>(model: M, options: { momentum?: number | null } = {}): M {
  return replaceModules('unfreezeBatchNorm', model, (module) => (module instanceof FrozenBatchNorm ? module.toBatchNorm(options) : null));
}

