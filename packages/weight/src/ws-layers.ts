import {
  Conv2d, DTypeError, Linear, Parameter, ShapeError, add, checkOptionKeys, conv2d, formatShape, matmul, ones, reshape, shapeSize, squeeze, transpose, unsqueeze,
  type Conv2dLayerOptions, type DType, type LinearOptions, type Tensor,
} from '@normkit/tensor';
import { checkUnitSize, resolveStandardization, standardizeWeight, type EpsMode } from './weight-standardization';

export interface WeightStandardizedLayerOptions {
  /** Keeps the standard deviation away from 0 (default 1e-5); must be > 0. timm's StdConv2d uses 1e-6. */
  eps?: number;
  /** 'add' (default): sqrt(var + eps); 'max': sqrt(max(var, eps)). */
  epsMode?: EpsMode;
  /**
   * Learn a per-output gain `gain`, initialised to 1 and shaped `[out, 1, 1, 1]` (conv) or
   * `[out, 1]` (linear), like timm's ScaledStdConv2d. Default false.
   */
  gain?: boolean;
  /** A fixed factor on the standardized weight (default 1), e.g. NFNets' `gamma / sqrt(fanIn)`. */
  scale?: number;
}

const WS_LAYER_KEYS = { eps: true, epsMode: true, gain: true, scale: true } as const satisfies Record<keyof WeightStandardizedLayerOptions, true>;
/** Every option key of WSConv2d and WSLinear (the compiler keeps the lists complete): the constructors refuse any other. */
const WS_CONV2D_OPTION_KEYS = Object.keys({
  inChannels: true, outChannels: true, kernelSize: true, stride: true, padding: true, dilation: true, groups: true, bias: true, dtype: true, generator: true,
  ...WS_LAYER_KEYS,
} satisfies Record<keyof (Conv2dLayerOptions & WeightStandardizedLayerOptions), true>);
const WS_LINEAR_OPTION_KEYS = Object.keys({
  inFeatures: true, outFeatures: true, bias: true, dtype: true, generator: true, ...WS_LAYER_KEYS,
} satisfies Record<keyof (LinearOptions & WeightStandardizedLayerOptions), true>);

function checkDType(op: string, x: Tensor, dtype: DType): void {
  if (x.dtype !== dtype) throw new DTypeError({ op, expected: `a ${dtype} input (the parameters' dtype)`, given: `a ${x.dtype} input` });
}

/**
 * A Conv2d whose forward convolves with the standardized weight (Qiao et al. 2019):
 * `w_hat = gain * scale * (w - mean) / sqrt(var + eps)` per output channel, over
 * `inChannels / groups * kH * kW` values, recomputed at every forward (one fused node, see
 * `standardizeWeight`). Meant to be followed by GroupNorm.
 *
 * The same maths as `weightStandardization(new Conv2d(...))`, but the weight stays a plain
 * parameter named `weight` (with `bias` and, with `gain: true`, `gain`): timm's StdConv2d and
 * ScaledStdConv2d layout, so their state dicts load as they are. Scaled WS (NFNets) is this layer
 * with `gain: true` and `scale: gamma / Math.sqrt(layer.fanIn)`.
 *
 * @example
 * const conv = new WSConv2d({ inChannels: 64, outChannels: 64, kernelSize: 3, padding: 1, bias: false });
 * const y = groupNorm.forward(conv.forward(x));
 */
export class WSConv2d extends Conv2d {
  readonly eps: number;
  readonly epsMode: EpsMode;
  readonly scale: number;
  /** `[outChannels, 1, 1, 1]`, or null without `gain: true`. */
  readonly gain: Parameter | null;

  constructor(options: Conv2dLayerOptions & WeightStandardizedLayerOptions) {
    checkOptionKeys('WSConv2d', options, WS_CONV2D_OPTION_KEYS);
    super(options);
    const op = 'WSConv2d';
    ({ eps: this.eps, epsMode: this.epsMode, scale: this.scale } = resolveStandardization(op, options));
    checkUnitSize(op, [this.outChannels, this.inChannels / this.groups, ...this.kernelSize], 0);
    this.gain = options.gain ? this.registerParameter('gain', new Parameter(ones([this.outChannels, 1, 1, 1], { dtype: this.dtype }))) : null;
  }

  /** Inputs per output channel, `inChannels / groups * kH * kW` (the fanIn of scaled WS). */
  get fanIn(): number {
    return (this.inChannels / this.groups) * this.kernelSize[0] * this.kernelSize[1];
  }

  /** The weight the convolution uses, as one node from `weight` (and `gain`). */
  standardizedWeight(): Tensor {
    return standardizeWeight(this.weight, { eps: this.eps, epsMode: this.epsMode, scale: this.scale, gain: this.gain });
  }

  override forward(x: Tensor): Tensor {
    const op = 'WSConv2d.forward';
    if ((x.ndim !== 3 && x.ndim !== 4) || x.shape[x.ndim - 3] !== this.inChannels) {
      throw new ShapeError({
        op,
        expected: `an input of shape [N, ${this.inChannels}, H, W] or [${this.inChannels}, H, W] (channels = inChannels = ${this.inChannels})`,
        given: formatShape(x.shape),
      });
    }
    checkDType(op, x, this.weight.dtype);
    const batched = x.ndim === 3 ? unsqueeze(x, 0) : x;
    const y = conv2d(batched, this.standardizedWeight(), this.bias, {
      stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups,
    });
    return x.ndim === 3 ? squeeze(y, 0) : y;
  }
}

/**
 * A Linear whose forward uses the standardized weight: `w_hat = gain * scale * (w - mean) /
 * sqrt(var + eps)` per output row, over its `inFeatures` values (see `WSConv2d`, `standardizeWeight`).
 * Parameters `weight`, `bias` and, with `gain: true`, `gain` `[outFeatures, 1]`.
 *
 * @example
 * const layer = new WSLinear({ inFeatures: 256, outFeatures: 128 });
 * layer.forward(randn([8, 256])).shape; // [8, 128]
 */
export class WSLinear extends Linear {
  readonly eps: number;
  readonly epsMode: EpsMode;
  readonly scale: number;
  /** `[outFeatures, 1]`, or null without `gain: true`. */
  readonly gain: Parameter | null;

  constructor(options: LinearOptions & WeightStandardizedLayerOptions) {
    checkOptionKeys('WSLinear', options, WS_LINEAR_OPTION_KEYS);
    super(options);
    const op = 'WSLinear';
    ({ eps: this.eps, epsMode: this.epsMode, scale: this.scale } = resolveStandardization(op, options));
    checkUnitSize(op, [this.outFeatures, this.inFeatures], 0);
    this.gain = options.gain ? this.registerParameter('gain', new Parameter(ones([this.outFeatures, 1], { dtype: this.dtype }))) : null;
  }

  /** Inputs per output unit, `inFeatures`. */
  get fanIn(): number {
    return this.inFeatures;
  }

  standardizedWeight(): Tensor {
    return standardizeWeight(this.weight, { eps: this.eps, epsMode: this.epsMode, scale: this.scale, gain: this.gain });
  }

  override forward(x: Tensor): Tensor {
    const op = 'WSLinear.forward';
    if (x.ndim === 0 || x.shape[x.ndim - 1] !== this.inFeatures) {
      throw new ShapeError({ op, expected: `an input of shape [..., ${this.inFeatures}] (last dim = inFeatures = ${this.inFeatures})`, given: formatShape(x.shape) });
    }
    checkDType(op, x, this.weight.dtype);
    const leading = x.shape.slice(0, -1);
    const rows = reshape(x, [shapeSize(leading), this.inFeatures]);
    let y = matmul(rows, transpose(this.standardizedWeight()));
    if (this.bias) y = add(y, this.bias);
    return reshape(y, [...leading, this.outFeatures]);
  }
}
