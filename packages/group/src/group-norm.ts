import {
  Module, OptionError, Parameter, ShapeError, ValueError, add, checkModuleDType, checkNumberOption, checkPaddingMask, dtypeOptionSpec, formatShape, modulate, mul,
  normalize, ones, reshape, resolveModuleOptions, tensor, zeros,
  type DType, type Normalizer, type NormalizerContext, type OptionsSchema, type Tensor,
} from '@normkit/tensor';
import { channelsFirst, checkChannels, checkEps, type ChannelsFirst } from './input';

/**
 * GroupNorm's options besides numChannels: the one schema the constructor, the plugin and the docs
 * read. The constructor requires numGroups (PyTorch has no default); the plugin defaults it to 32, as Flax.
 */
export const groupNormOptionsSchema = {
  numGroups: { type: 'number', default: 32, integer: true, min: 1, description: 'Number of channel groups G (numFeatures must be divisible by it); 1 = LayerNorm over (C, *), C = InstanceNorm' },
  eps: { type: 'number', default: 1e-5, min: 0, minExclusive: true, description: 'Added to the variance' },
  affine: { type: 'boolean', default: true, description: 'Learn per-channel weight and bias' },
  dtype: dtypeOptionSpec,
} as const satisfies OptionsSchema;

/**
 * PyTorch's rule (`F.group_norm` calls `_verify_batch_size([N * C / G, G, *spatial])`): it refuses
 * an input where N * (C / G) * spatial = 1, in training and in eval alike, with "Expected more than
 * 1 value per channel when training". The variance of a single value is undefined and every output
 * would be beta. The rule counts N, so N = 2 with one value per group and sample passes (beta again).
 */
function checkValuesPerGroup(op: string, x: Tensor, numGroups: number): void {
  const spatial = x.shape.slice(2).reduce((a, b) => a * b, 1);
  if (x.shape[0]! * (x.shape[1]! / numGroups) * spatial !== 1) return;
  throw new ValueError(
    {
      op,
      expected: `more than 1 value per channel (N * C / numGroups * spatial > 1, PyTorch's "Expected more than 1 value per channel when training", raised in eval too)`,
      given: `input size ${formatShape(x.shape)}`,
    },
    'A group holding a single value has no variance: every output would be beta. Use fewer groups, a larger batch or more positions.',
  );
}

export interface GroupNormFunctionOptions {
  /** G: the channels are split into G consecutive groups of C / G channels. */
  numGroups: number;
  /** Per-channel scale gamma, [C], or null. */
  weight?: Tensor | null;
  /** Per-channel shift beta, [C], or null. */
  bias?: Tensor | null;
  /** Added to the variance (default 1e-5); must be > 0. */
  eps?: number;
  /**
   * Padding mask of the input's shape without the channel dim ([N, L] for [N, C, L] sequences):
   * 1 = real, 0 = padding. Statistics use real positions only; padded outputs are 0. Or an
   * element-wise mask of the input's shape (Flax's `mask`): each group's statistics over its
   * unmasked elements, masked outputs 0.
   */
  mask?: Tensor | null;
}

/**
 * GroupNorm with an element-wise mask: the shared kernel normalises each (sample, group) over its
 * unmasked elements (layout [N * G, 1, (C / G) * spatial], one mask value per element, masked
 * outputs 0), then the per-channel affine runs on `modulate`, with beta only where unmasked.
 */
function groupNormElementMasked(op: string, x: Tensor, mask: Tensor, options: GroupNormFunctionOptions, eps: number, numGroups: number): Tensor {
  const maskData = checkPaddingMask(op, mask, x.shape, { shapeMeaning: "an element-wise mask has the input's shape; a padding mask drops the channel axis" });
  const channels = x.shape[1]!;
  const inner = x.size === 0 ? 0 : x.size / (x.shape[0]! * numGroups);
  let y = normalize(x, {
    op,
    layout: { outer: x.shape[0]! * numGroups, groups: 1, inner },
    acrossOuter: false,
    center: true,
    eps,
    affineBlock: Math.max(1, inner),
    mask: maskData,
    maskSpatial: inner,
  }).output;
  const perChannel = [1, channels, ...x.shape.slice(2).map(() => 1)];
  if (options.weight) y = modulate(y, reshape(options.weight, perChannel), null, { form: 'direct', op });
  if (options.bias) y = add(y, mul(reshape(options.bias, perChannel), tensor(maskData, { shape: x.shape, dtype: x.dtype })));
  return y;
}

/**
 * Group Normalization as a function (Wu & He, "Group Normalization", ECCV 2018), like
 * `torch.nn.functional.group_norm`: for each sample and each group of C / G channels,
 *
 *   y = (x - mean) / sqrt(var + eps) * gamma_c + beta_c
 *
 * with mean and biased variance over the group's channels and every spatial position. One
 * fused node (the shared `normalize` kernel, layout [N, G, (C / G) * spatial]).
 *
 * @example
 * const y = groupNorm(randn([2, 8, 4, 4]), { numGroups: 4, weight: ones([8]), bias: zeros([8]) });
 */
export function groupNorm(x: Tensor, options: GroupNormFunctionOptions): Tensor {
  const op = 'groupNorm';
  const { batch, channels, spatial } = channelsFirst(op, x, 2);
  const numGroups = checkNumberOption(op, 'numGroups', options.numGroups, { min: 1, integer: true });
  if (channels % numGroups !== 0) {
    throw new ShapeError({ op, expected: `a channel count divisible by numGroups = ${numGroups}`, given: `${channels} channels (shape ${formatShape(x.shape)})` });
  }
  checkValuesPerGroup(op, x, numGroups);
  const eps = checkEps(op, options.eps ?? 1e-5);
  return runGroupNorm(x, { batch, channels, spatial }, { ...options, numGroups, eps });
}

/** The kernel call on options already checked (by `groupNorm` or by the module's constructor); the mask is checked here. */
function runGroupNorm(x: Tensor, { batch, channels, spatial }: ChannelsFirst, options: GroupNormFunctionOptions & { eps: number }): Tensor {
  const op = 'groupNorm';
  const { numGroups, eps } = options;
  if (options.mask && options.mask.ndim === x.ndim) return groupNormElementMasked(op, x, options.mask, options, eps, numGroups);
  const mask = options.mask ? checkPaddingMask(op, options.mask, [batch, ...x.shape.slice(2)], { shapeMeaning: "the input's shape without the channel axis" }) : null;
  return normalize(x, {
    op,
    layout: { outer: batch, groups: numGroups, inner: (channels / numGroups) * spatial },
    acrossOuter: false,
    center: true,
    eps,
    weight: options.weight ?? null,
    bias: options.bias ?? null,
    // Per-channel affine: each run of `spatial` elements inside a group shares one gamma and beta.
    affineBlock: spatial,
    ...(mask ? { mask, maskSpatial: spatial } : {}),
  }).output;
}

export interface GroupNormOptions {
  /** G; numChannels must be divisible by it. */
  numGroups: number;
  /** C, the input's channel dim. */
  numChannels: number;
  /** Added to the variance (default 1e-5); must be > 0. */
  eps?: number;
  /** Learn a per-channel gamma (ones) and beta (zeros) (default true). */
  affine?: boolean;
  /** Parameter dtype (default float32); inputs must have the same dtype. */
  dtype?: DType;
}

/**
 * Group Normalization (Wu & He, ECCV 2018), like `torch.nn.GroupNorm` with the same defaults and
 * state-dict names (`weight`, `bias`): normalises each sample over groups of channels and all
 * spatial positions, then applies a per-channel affine. It uses no batch statistics, so a
 * sample's output never depends on the other samples, in training and in eval alike.
 *
 * Its siblings are recipes over the same kernel: LayerNorm over (C, *) is GroupNorm with one group
 * (with per-channel rather than per-element affine), InstanceNorm is GroupNorm with C groups.
 * Flax's `GroupNorm` defaults to num_groups = 32; PyTorch's has no default: here numGroups is required.
 *
 * Accepts [N, C, *] and, for [N, C, L] sequences, `forward(x, { mask })` with a [N, L] padding mask,
 * or an element-wise mask of x's shape (Flax's `mask`: statistics over each group's unmasked
 * elements; three nodes, normalize + modulate + the masked beta, instead of one).
 * An empty batch [0, C, *] gives an empty output. Like PyTorch, an input with exactly one value per
 * group in the whole input (N * (C / G) * spatial = 1, e.g. [1, C, 1, 1] with G = C) is refused with a
 * ValueError carrying PyTorch's "Expected more than 1 value per channel when training", in training
 * and in eval alike: a single value has no variance and every output would be beta. PyTorch's rule
 * counts N, so [2, C, 1, 1] with G = C passes and returns beta, as it does there.
 *
 * @example
 * const norm = new GroupNorm({ numGroups: 32, numChannels: 64 });
 * const y = norm.forward(randn([8, 64, 16, 16]));
 */
export class GroupNorm extends Module implements Normalizer {
  readonly numGroups: number;
  readonly numChannels: number;
  readonly eps: number;
  readonly affine: boolean;
  readonly dtype: DType;
  /** gamma, [C] (ones), or null without affine. */
  weight: Tensor | null;
  /** beta, [C] (zeros), or null without affine. */
  bias: Tensor | null;

  constructor(options: GroupNormOptions) {
    super();
    const op = 'GroupNorm';
    // Checked once, here, against the plugin's schema (numGroups required); forward trusts these fields.
    const { numGroups, ...settings } = groupNormOptionsSchema;
    const resolved = resolveModuleOptions(op, options, { schema: settings, required: { numGroups, numChannels: { min: 1, integer: true } } });
    ({ numGroups: this.numGroups, numChannels: this.numChannels, eps: this.eps, affine: this.affine, dtype: this.dtype } = resolved);
    if (this.numChannels % this.numGroups !== 0) {
      throw new OptionError({
        op,
        expected: `numChannels divisible by numGroups`,
        given: `numChannels = ${this.numChannels}, numGroups = ${this.numGroups} (${this.numChannels} / ${this.numGroups} is not an integer)`,
      });
    }
    this.weight = this.affine ? this.registerParameter('weight', new Parameter(ones([this.numChannels], { dtype: this.dtype }))) : null;
    this.bias = this.affine ? this.registerParameter('bias', new Parameter(zeros([this.numChannels], { dtype: this.dtype }))) : null;
  }

  /** Sets gamma to 1 and beta to 0 (`reset_parameters`). */
  resetParameters(): void {
    this.weight?.data.fill(1);
    this.bias?.data.fill(0);
  }

  forward(x: Tensor, context?: NormalizerContext): Tensor {
    const op = 'GroupNorm.forward';
    const sizes = channelsFirst(op, x, 2);
    checkChannels(op, x, this.numChannels, 'numChannels');
    if (this.affine) checkModuleDType(op, x, this.dtype);
    checkValuesPerGroup(op, x, this.numGroups);
    return runGroupNorm(x, sizes, { numGroups: this.numGroups, weight: this.weight, bias: this.bias, eps: this.eps, mask: context?.mask ?? null });
  }
}
