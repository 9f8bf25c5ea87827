import {
  Module, OptionError, Parameter, ShapeError, allocate, checkModuleDType, isGradEnabled, checkTensor, checkNumberOption, computeStatistics, customOp, dtypeOptionSpec, formatShape,
  ones, resolveOptions, zeros,
  type DType, type Normalizer, type NormalizerContext, type OptionsSchema, type Tensor, type TypedArray,
} from '@normkit/tensor';
import { channelsFirst, checkChannels, refuseMask } from './input';

/** EvoNorm-S0's options besides numFeatures: the one schema the constructor, the plugin and the docs read. */
export const evoNormS0OptionsSchema = {
  groups: { type: 'number', default: 32, integer: true, min: 1, description: 'Channel groups of the standard deviation (timm: 32); numFeatures must be divisible by it.' },
  eps: { type: 'number', default: 1e-5, min: 0, minExclusive: true, description: 'Added to the group variance (timm: 1e-5).' },
  dtype: dtypeOptionSpec,
} as const satisfies OptionsSchema;

export interface EvoNormS0Options {
  /** C, the channel axis 1. */
  numFeatures: number;
  /** Channel groups of the standard deviation (default 32); must divide numFeatures. */
  groups?: number;
  /** Added to the group variance (default 1e-5); > 0. */
  eps?: number;
  /** Parameter dtype (default float32); inputs must match. */
  dtype?: DType;
}

function sigmoid(t: number): number {
  return 1 / (1 + Math.exp(-t));
}

/**
 * EvoNorm-S0 (Liu, Brock, Simonyan & Le, "Evolving Normalization-Activation Layers", NeurIPS 2020),
 * as timm's `EvoNorm2dS0` (`evo_norm.py`), on an [N, C, *] input:
 *
 *   y = x * sigmoid(v_c * x) / sqrt(groupVar(x) + eps) * weight_c + bias_c
 *
 * groupVar is the biased variance per sample over each of `groups` groups of C / groups channels
 * and every spatial position, as GroupNorm's; but x is not centred, and the activation (a SiLU
 * with a learned per-channel slope v) comes before the division: a normalization and activation
 * in one layer, meant to replace "GroupNorm + ReLU". Batch-independent. Its batch sibling
 * EvoNorm-B0 replaces the group statistics by a max of batch and instance ones.
 *
 * Parameters carry timm's names: `weight` (ones), `bias` (zeros), `v` (ones). One fused autograd
 * node with an analytic backward; statistics from the core's `computeStatistics` in float64.
 * timm asserts a 4-D input; any [N, C, *] is accepted here.
 *
 * @example
 * const evo = new EvoNormS0({ numFeatures: 64, groups: 8 });
 * const y = evo.forward(randn([2, 64, 16, 16]));
 */
export class EvoNormS0 extends Module implements Normalizer {
  readonly numFeatures: number;
  readonly groups: number;
  readonly eps: number;
  readonly dtype: DType;
  /** Per-channel scale, [C] (ones). */
  weight: Parameter;
  /** Per-channel shift, [C] (zeros). */
  bias: Parameter;
  /** The activation's per-channel slope, [C] (ones): x * sigmoid(v * x). */
  v: Parameter;

  constructor(options: EvoNormS0Options) {
    super();
    const op = 'EvoNormS0';
    if (typeof options !== 'object' || options === null) throw new OptionError({ op, expected: 'an options object with numFeatures', given: String(options) });
    const { numFeatures, ...rest } = options;
    this.numFeatures = checkNumberOption(op, 'numFeatures', numFeatures, { min: 1, integer: true });
    const resolved = resolveOptions(op, evoNormS0OptionsSchema, rest);
    if (this.numFeatures % resolved.groups !== 0) {
      throw new OptionError({ op, expected: `groups dividing numFeatures = ${this.numFeatures}`, given: `groups = ${resolved.groups}` });
    }
    this.groups = resolved.groups;
    this.eps = resolved.eps;
    this.dtype = resolved.dtype;
    const c = this.numFeatures;
    const dtype = this.dtype;
    this.weight = this.registerParameter('weight', new Parameter(ones([c], { dtype })));
    this.bias = this.registerParameter('bias', new Parameter(zeros([c], { dtype })));
    this.v = this.registerParameter('v', new Parameter(ones([c], { dtype })));
  }

  /** weight 1, bias 0, v 1 (timm's `reset_parameters`). */
  resetParameters(): void {
    this.weight.data.fill(1);
    this.bias.data.fill(0);
    this.v.data.fill(1);
  }

  forward(x: Tensor, context?: NormalizerContext): Tensor {
    const op = 'EvoNormS0.forward';
    checkTensor(op, x, 'x');
    refuseMask(op, context);
    channelsFirst(op, x, 2);
    checkChannels(op, x, this.numFeatures, 'numFeatures');
    checkModuleDType(op, x, this.dtype);
    return evoNormS0(x, { weight: this.weight, bias: this.bias, v: this.v, groups: this.groups, eps: this.eps });
  }
}

/**
 * EvoNorm-S0 as a function: `x * sigmoid(v * x) / groupStd(x) * weight + bias`, one node (see `EvoNormS0`).
 *
 * @example
 * const y = evoNormS0(randn([2, 8, 4, 4]), { weight: ones([8]), bias: zeros([8]), v: ones([8]), groups: 2, eps: 1e-5 });
 */
export function evoNormS0(x: Tensor, options: { weight: Tensor; bias: Tensor; v: Tensor; groups: number; eps: number }): Tensor {
  const op = 'evoNormS0';
  checkTensor(op, x, 'x');
  const { batch, channels, spatial } = channelsFirst(op, x, 2);
  const { weight, bias, v, groups, eps } = options;
  for (const [name, t] of [['weight', weight], ['bias', bias], ['v', v]] as const) {
    if (t.size !== channels) throw new ShapeError({ op, expected: `${name} with ${channels} elements (one per channel)`, given: `shape ${formatShape(t.shape)}` });
  }
  if (channels % groups !== 0) throw new ShapeError({ op, expected: `a channel count divisible by groups = ${groups}`, given: `shape ${formatShape(x.shape)}` });
  const perGroup = (channels / groups) * spatial;
  const { mean, variance } = computeStatistics(x.data, { layout: { outer: batch, groups, inner: perGroup }, acrossOuter: false, center: true });
  const rstd = variance.map((value) => 1 / Math.sqrt(value + eps));
  const xs = x.data;
  const [w, b, vs] = [weight.data, bias.data, v.data];
  const out = allocate(x.dtype, x.size);
  // sigmoid(v x) per element, in float64, kept for the backward's two passes (an exp costs more than
  // reading 8 bytes back): the same bits as computing it again there. Only when a backward can follow
  // (8 bytes per element held until then); without one, nothing is kept.
  const recorded = isGradEnabled() && [x, weight, bias, v].some((t) => t.requiresGrad);
  const gates = recorded ? (allocate('float64', x.size) as Float64Array) : null;
  const channelsPerGroup = channels / groups;
  for (let n = 0; n < batch; n++) {
    for (let c = 0; c < channels; c++) {
      const r = rstd[n * groups + Math.floor(c / channelsPerGroup)]!;
      const base = (n * channels + c) * spatial;
      const [slope, scale, shift] = [vs[c]!, r * w[c]!, b[c]!];
      for (let i = base; i < base + spatial; i++) {
        const s = sigmoid(slope * xs[i]!);
        if (gates !== null) gates[i] = s;
        out[i] = xs[i]! * s * scale + shift;
      }
    }
  }

  // z = x * sigmoid(v x), y = z * r * w + b, r = (groupVar + eps)^(-1/2):
  //   dz = dy * w * r;  R = sum over the group of dy * w * z;  dr/dx_i = -r^3 (x_i - mean) / M
  //   dx = dz * (s + v x s (1 - s)) - R r^3 (x - mean) / M;  dv = sum dz * x^2 s (1 - s)
  const backward = (gy: TypedArray) => {
    const slots = batch * groups;
    const groupSum = new Float64Array(slots);
    const [gw, gb, gv] = [new Float64Array(channels), new Float64Array(channels), new Float64Array(channels)];
    for (let n = 0; n < batch; n++) {
      for (let c = 0; c < channels; c++) {
        const slot = n * groups + Math.floor(c / channelsPerGroup);
        const r = rstd[slot]!;
        const base = (n * channels + c) * spatial;
        // Per (sample, channel) sums in locals, added into the per-channel gradients in sample order.
        let rs = 0;
        let sw = 0;
        let sb = 0;
        let sv = 0;
        const scale = w[c]! * r;
        for (let i = base; i < base + spatial; i++) {
          const xi = xs[i]!;
          const s = gates![i]!;
          const g = gy[i]!;
          const z = xi * s;
          rs += g * z;
          sw += g * z * r;
          sb += g;
          sv += g * scale * xi * xi * s * (1 - s);
        }
        gw[c]! += sw;
        gb[c]! += sb;
        gv[c]! += sv;
        groupSum[slot]! += rs * w[c]!;
      }
    }
    const gx = allocate(x.dtype, x.size);
    for (let n = 0; n < batch; n++) {
      for (let c = 0; c < channels; c++) {
        const slot = n * groups + Math.floor(c / channelsPerGroup);
        const r = rstd[slot]!;
        const varianceTerm = (groupSum[slot]! * r * r * r) / perGroup;
        const m = mean[slot]!;
        const base = (n * channels + c) * spatial;
        const [slope, scale] = [vs[c]!, w[c]! * r];
        for (let i = base; i < base + spatial; i++) {
          const xi = xs[i]!;
          const s = gates![i]!;
          gx[i] = gy[i]! * scale * (s + slope * xi * s * (1 - s)) - varianceTerm * (xi - m);
        }
      }
    }
    // The engine casts each gradient to its input's dtype.
    return { x: gx, weight: gw, bias: gb, v: gv };
  };
  return customOp({ op, inputs: { x, weight, bias, v }, data: out, shape: x.shape, backward });
}
