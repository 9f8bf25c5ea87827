import type { BatchNorm } from '@normkit/batch';
import type { InstanceNorm } from '@normkit/group';
import {
  Conv2d, OptionError, ReLU, Sequential, ShapeError, checkModuleDType, formatShape, interpolate, resolveModuleOptions,
  type DType, type Generator, type NormalizerContext, type OptionsSchema, type Tensor,
} from '@normkit/tensor';
import {
  ModulatedNorm, checkChannelsFirstInput, createParamFreeNorm, dtypeOption, epsOption, momentumOption, normalizeWithoutAffine,
  refuseMask, requireCondition, type ConditionalModulation,
} from './modulated-norm';

/** SPADE's options besides normChannels and labelChannels: the one schema the constructor, the plugin and the docs read. */
export const spadeOptionsSchema = {
  hiddenChannels: { type: 'number', default: 128, min: 1, integer: true, description: 'Channels of the shared conv (GauGAN: 128).' },
  kernelSize: { type: 'number', default: 3, min: 1, integer: true, description: 'Kernel size of the three convs; odd.' },
  paramFreeNorm: { type: 'enum', values: ['batch', 'instance'], default: 'batch', description: 'The parameter-free normalizer before the modulation.' },
  eps: epsOption,
  momentum: momentumOption,
  dtype: dtypeOption,
} as const satisfies OptionsSchema;

export interface SPADEOptions {
  /** C, the channels of the normalised input x [N, C, H, W] (GauGAN's `norm_nc`). */
  normChannels: number;
  /** Channels of the segmentation map [N, labelChannels, H', W'] (GauGAN's `label_nc`). */
  labelChannels: number;
  /** Channels of the shared conv's output (default 128, GauGAN's `nhidden`). */
  hiddenChannels?: number;
  /** Kernel size of the three convs (default 3); odd, so padding kernelSize // 2 keeps H and W. */
  kernelSize?: number;
  /** The parameter-free normalizer (default 'batch', GauGAN's default; 'instance' as in `spadeinstance3x3`). */
  paramFreeNorm?: 'batch' | 'instance';
  /** Added to the variance (default 1e-5); must be > 0. */
  eps?: number;
  /** Running-average factor of the normalizer's statistics (default 0.1, PyTorch's convention). */
  momentum?: number;
  /** Parameter and buffer dtype (default float32); x and the map must have the same dtype. */
  dtype?: DType;
  /** Drives the convs' initialisation (PyTorch's default init); the default generator otherwise. */
  generator?: Generator;
}

/**
 * SPADE, spatially-adaptive (de)normalization (Park et al., "Semantic Image Synthesis with
 * Spatially-Adaptive Normalization", CVPR 2019, the normalization of GauGAN): x normalised without
 * affine, then modulated per pixel by a gamma and beta predicted from a segmentation map m:
 *
 *   m' = resize_nearest(m, [H, W])
 *   a = ReLU(conv_shared(m'));  gamma = conv_gamma(a);  beta = conv_beta(a)
 *   y = norm(x) * (1 + gamma) + beta
 *
 * `norm` is `@normkit/batch`'s BatchNorm (running statistics; eval uses them) or `@normkit/group`'s
 * InstanceNorm, without affine, one fused node; the modulation is the core's `modulate` in its
 * one-plus form, one node, shared with AdaLN. Unlike ConditionalBatchNorm and FiLM, whose gamma and
 * beta are one value per sample and channel, SPADE's vary over space, so the layout of the map
 * survives normalisation. With kernelSize 1 and a map constant over space it is FiLM on the map's
 * vector (with gamma = 1 + SPADE's gamma).
 *
 * Input x [N, normChannels, H, W]; `forward(x, { condition })` with the map [N, labelChannels,
 * H', W'] of any size (resized to H x W). State-dict names are GauGAN's: `param_free_norm.*`
 * (BatchNorm's running statistics), `mlp_shared.0.weight`, `mlp_shared.0.bias`, `mlp_gamma.*`,
 * `mlp_beta.*`.
 *
 * @example
 * const spade = new SPADE({ normChannels: 64, labelChannels: 8 });
 * const y = spade.forward(randn([2, 64, 32, 32]), { condition: oneHotSegmentation }); // map [2, 8, 256, 256]
 */
export class SPADE extends ModulatedNorm<Tensor> {
  readonly normChannels: number;
  readonly labelChannels: number;
  readonly hiddenChannels: number;
  readonly kernelSize: number;
  readonly paramFreeNorm: 'batch' | 'instance';
  readonly eps: number;
  readonly momentum: number;
  readonly dtype: DType;
  /** The parameter-free normalizer, `param_free_norm`. */
  readonly normalizer: BatchNorm | InstanceNorm;
  /** `mlp_shared`: Sequential(Conv2d(labelChannels, hiddenChannels), ReLU). */
  readonly mlpShared: Sequential;
  /** `mlp_gamma`: Conv2d(hiddenChannels, normChannels). */
  readonly mlpGamma: Conv2d;
  /** `mlp_beta`: Conv2d(hiddenChannels, normChannels). */
  readonly mlpBeta: Conv2d;

  constructor(options: SPADEOptions) {
    super('SPADE', 'spadeModulate', 'one-plus');
    const op = 'SPADE';
    // Checked once, here, against the schema the plugin uses too; forward trusts these fields.
    const resolved = resolveModuleOptions(op, options, {
      schema: spadeOptionsSchema,
      required: { normChannels: { min: 1, integer: true }, labelChannels: { min: 1, integer: true } },
      other: ['generator'],
    });
    ({ normChannels: this.normChannels, labelChannels: this.labelChannels, hiddenChannels: this.hiddenChannels, kernelSize: this.kernelSize } = resolved);
    ({ eps: this.eps, momentum: this.momentum, dtype: this.dtype } = resolved);
    this.paramFreeNorm = resolved.paramFreeNorm;
    if (this.kernelSize % 2 === 0) {
      throw new OptionError({ op, expected: 'an odd kernelSize (padding kernelSize // 2 then keeps the spatial size)', given: `kernelSize = ${this.kernelSize}` });
    }
    this.normalizer = this.registerModule('param_free_norm', createParamFreeNorm(this.paramFreeNorm, { ...resolved, numFeatures: this.normChannels })!);
    const conv = (inChannels: number, outChannels: number) =>
      new Conv2d({ inChannels, outChannels, kernelSize: this.kernelSize, padding: (this.kernelSize - 1) / 2, dtype: this.dtype, generator: options.generator });
    this.mlpShared = this.registerModule('mlp_shared', new Sequential(conv(this.labelChannels, this.hiddenChannels), new ReLU()));
    this.mlpGamma = this.registerModule('mlp_gamma', conv(this.hiddenChannels, this.normChannels));
    this.mlpBeta = this.registerModule('mlp_beta', conv(this.hiddenChannels, this.normChannels));
  }

  protected override checkInput(op: string, x: Tensor, context: NormalizerContext): Tensor {
    const example = `[N, ${this.normChannels}, H, W]`;
    checkChannelsFirstInput(op, x, this.normChannels, 'normChannels', this.dtype, { min: 4, max: 4, example });
    refuseMask(op, context);
    const needed = `a segmentation map [N, ${this.labelChannels}, H', W'] as the condition`;
    const map = requireCondition(op, context, needed);
    if (map.ndim !== 4) {
      throw new ShapeError({ op, expected: `${needed}, a rank-4 tensor`, given: `shape ${formatShape(map.shape)} (rank ${map.ndim})` });
    }
    if (map.shape[0] !== x.shape[0] || map.shape[1] !== this.labelChannels) {
      throw new ShapeError({
        op,
        expected: `a segmentation map [${x.shape[0]}, ${this.labelChannels}, H', W'] (the input's batch size, labelChannels = ${this.labelChannels})`,
        given: `shape ${formatShape(map.shape)}`,
      });
    }
    if (map.shape[2] === 0 || map.shape[3] === 0) {
      throw new ShapeError({ op, expected: 'a segmentation map with non-empty spatial dims', given: `shape ${formatShape(map.shape)}` });
    }
    checkModuleDType(op, map, this.dtype, 'segmentation map');
    return map;
  }

  protected override predictModulation(x: Tensor, map: Tensor): ConditionalModulation {
    const [height, width] = [x.shape[2]!, x.shape[3]!];
    const resized = map.shape[2] === height && map.shape[3] === width ? map : interpolate(map, { size: [height, width] }, 'nearest');
    const hidden = this.mlpShared.forward(resized);
    return { scale: this.mlpGamma.forward(hidden), shift: this.mlpBeta.forward(hidden) };
  }

  protected override normalize(x: Tensor): Tensor {
    return normalizeWithoutAffine(this.paramFreeNorm, this.normalizer, x, this.eps);
  }
}
