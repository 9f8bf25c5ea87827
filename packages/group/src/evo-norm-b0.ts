import {
  Module, OptionError, Parameter, ValueError, allocate, checkModuleDType, checkTensor, checkNumberOption, computeStatistics, customOp, dtypeOptionSpec, formatShape,
  noGrad, ones, resolveOptions, updateRunningStatistics, zeros,
  type DType, type Normalizer, type NormalizerContext, type OptionsSchema, type Tensor, type TypedArray,
} from '@normkit/tensor';
import { channelsFirst, checkChannels, refuseMask } from './input';

/** EvoNorm-B0's options besides numFeatures: the one schema the constructor, the plugin and the docs read. */
export const evoNormB0OptionsSchema = {
  eps: { type: 'number', default: 1e-3, min: 0, minExclusive: true, description: 'Added to the batch, running and instance variances (timm: 1e-3).' },
  momentum: { type: 'number', default: 0.1, min: 0, max: 1, description: "Weight of the new batch variance in running_var (PyTorch's convention, as timm)." },
  dtype: dtypeOptionSpec,
} as const satisfies OptionsSchema;

export interface EvoNormB0Options {
  /** C, the channel axis 1. */
  numFeatures: number;
  /** Added to every variance (default 1e-3); > 0. */
  eps?: number;
  /** running_var = (1 - momentum) * running_var + momentum * unbiased batch variance (default 0.1). */
  momentum?: number;
  /** Parameter and buffer dtype (default float32); inputs must match. */
  dtype?: DType;
}

/**
 * EvoNorm-B0 (Liu, Brock, Simonyan & Le, "Evolving Normalization-Activation Layers", NeurIPS 2020),
 * as timm's `EvoNorm2dB0` (`evo_norm.py`), on an [N, C, *] input:
 *
 *   y = x / max(sqrt(var_c + eps), v_c * x + sqrt(instanceVar_nc(x) + eps)) * weight_c + bias_c
 *
 * var_c is the biased batch variance per channel over (N, *spatial) in training (gradients flow
 * through it, as in BatchNorm) and `running_var` in eval; instanceVar is the biased variance per
 * sample and channel over the spatial positions (InstanceNorm's). Neither x nor the output is
 * centred: the max acts as the layer's nonlinearity, replacing "BatchNorm + ReLU". As timm keeps
 * it, only `running_var` is tracked (no running mean, no batch count): in training
 * `running_var = (1 - momentum) * running_var + momentum * var_c * n / (n - 1)`, n = N * spatial.
 * Batch-dependent in training like BatchNorm; its batch-free sibling is EvoNorm-S0.
 *
 * Ties of the max go to the batch side (normkit's `maximum`; PyTorch splits a tie's gradient in
 * two). Parameters carry timm's names: `weight` (ones), `bias` (zeros), `v` (ones); buffer
 * `running_var` (ones). One fused node with an analytic backward; statistics from the core's
 * `computeStatistics`, the running update through `updateRunningStatistics`.
 *
 * @example
 * const evo = new EvoNormB0({ numFeatures: 64 });
 * const y = evo.forward(randn([8, 64, 16, 16])); // training: batch variance, running_var moves
 * evo.eval().forward(randn([1, 64, 16, 16]));    // eval: running_var
 */
export class EvoNormB0 extends Module implements Normalizer {
  readonly numFeatures: number;
  readonly eps: number;
  readonly momentum: number;
  readonly dtype: DType;
  weight: Parameter;
  bias: Parameter;
  /** The per-channel slope of the instance branch, [C] (ones). */
  v: Parameter;

  constructor(options: EvoNormB0Options) {
    super();
    const op = 'EvoNormB0';
    if (typeof options !== 'object' || options === null) throw new OptionError({ op, expected: 'an options object with numFeatures', given: String(options) });
    const { numFeatures, ...rest } = options;
    this.numFeatures = checkNumberOption(op, 'numFeatures', numFeatures, { min: 1, integer: true });
    const resolved = resolveOptions(op, evoNormB0OptionsSchema, rest);
    this.eps = resolved.eps;
    this.momentum = resolved.momentum;
    this.dtype = resolved.dtype;
    const c = this.numFeatures;
    const dtype = this.dtype;
    this.weight = this.registerParameter('weight', new Parameter(ones([c], { dtype })));
    this.bias = this.registerParameter('bias', new Parameter(zeros([c], { dtype })));
    this.v = this.registerParameter('v', new Parameter(ones([c], { dtype })));
    this.registerBuffer('running_var', ones([c], { dtype }));
  }

  /** The running (unbiased) batch variance, [C]. */
  get runningVar(): Tensor {
    return this.getBuffer('running_var')!;
  }

  /** weight 1, bias 0, v 1, running_var 1. */
  resetParameters(): void {
    this.weight.data.fill(1);
    this.bias.data.fill(0);
    this.v.data.fill(1);
    this.runningVar.data.fill(1);
  }

  forward(x: Tensor, context?: NormalizerContext): Tensor {
    const op = 'EvoNormB0.forward';
    checkTensor(op, x, 'x');
    refuseMask(op, context);
    const { batch, channels, spatial } = channelsFirst(op, x, 2);
    checkChannels(op, x, this.numFeatures, 'numFeatures');
    checkModuleDType(op, x, this.dtype);
    const layout = { outer: batch, groups: channels, inner: spatial };
    let batchStatistics = null;
    if (this.training) {
      if (batch * spatial <= 1) {
        throw new ValueError({ op, expected: 'more than 1 value per channel in training (the batch variance)', given: `input of shape ${formatShape(x.shape)}` });
      }
      batchStatistics = computeStatistics(x.data, { layout, acrossOuter: true, center: true });
    }
    const output = evoNormB0Kernel(x, layout, this, batchStatistics?.mean ?? null, batchStatistics?.variance ?? Float64Array.from(this.runningVar.data));
    if (batchStatistics) {
      const stats = batchStatistics;
      // timm keeps no running mean or batch count: the shared update blends the variance alone.
      noGrad(() => updateRunningStatistics(
        { runningMean: null, runningVar: this.runningVar.data, numBatchesTracked: null },
        stats,
        this.momentum,
      ));
    }
    return output;
  }
}

/**
 * The fused node. `batchMean` is null in eval (`variance` is then running_var, a constant).
 *
 *   left_c = sqrt(variance_c + eps), right_i = v_c x_i + s_nc, s_nc = sqrt(instanceVar_nc + eps)
 *   den = max(left, right), y = x / den * w + b
 *   dx = dy w / den + dden * (v if right wins) + dS_nc / s_nc * (x - mu_nc) / S
 *        + (training) dLeft_c / left_c * (x - mean_c) / (N S),   dden = -dy w x / den^2
 */
function evoNormB0Kernel(
  x: Tensor, layout: { outer: number; groups: number; inner: number }, module: EvoNormB0, batchMean: Float64Array | null, variance: Float64Array,
): Tensor {
  const { outer: batch, groups: channels, inner: spatial } = layout;
  const { weight, bias, v, eps } = module;
  const instance = computeStatistics(x.data, { layout, acrossOuter: false, center: true });
  const left = variance.map((value) => Math.sqrt(value + eps));
  const instanceStd = instance.variance.map((value) => Math.sqrt(value + eps));
  const xs = x.data;
  const [w, b, vs] = [weight.data, bias.data, v.data];
  const out = allocate(x.dtype, x.size);
  const den = new Float64Array(x.size);
  const rightWins = new Uint8Array(x.size);
  for (let n = 0; n < batch; n++) {
    for (let c = 0; c < channels; c++) {
      const base = (n * channels + c) * spatial;
      const s = instanceStd[n * channels + c]!;
      for (let i = base; i < base + spatial; i++) {
        const right = vs[c]! * xs[i]! + s;
        rightWins[i] = right > left[c]! ? 1 : 0;
        den[i] = rightWins[i] ? right : left[c]!;
        out[i] = (xs[i]! / den[i]!) * w[c]! + b[c]!;
      }
    }
  }
  const backward = (gy: TypedArray) => {
    const [gw, gb, gv, gLeft] = [new Float64Array(channels), new Float64Array(channels), new Float64Array(channels), new Float64Array(channels)];
    const gInstance = new Float64Array(batch * channels);
    const gx = allocate(x.dtype, x.size);
    for (let n = 0; n < batch; n++) {
      for (let c = 0; c < channels; c++) {
        const base = (n * channels + c) * spatial;
        for (let i = base; i < base + spatial; i++) {
          const xi = xs[i]!;
          const d = den[i]!;
          const gDen = (-gy[i]! * w[c]! * xi) / (d * d);
          gw[c]! += (gy[i]! * xi) / d;
          gb[c]! += gy[i]!;
          gx[i] = (gy[i]! * w[c]!) / d;
          if (rightWins[i]) {
            gx[i]! += gDen * vs[c]!;
            gv[c]! += gDen * xi;
            gInstance[n * channels + c]! += gDen;
          } else {
            gLeft[c]! += gDen;
          }
        }
      }
    }
    for (let n = 0; n < batch; n++) {
      for (let c = 0; c < channels; c++) {
        const slot = n * channels + c;
        const instanceTerm = gInstance[slot]! / instanceStd[slot]! / spatial;
        const batchTerm = batchMean ? gLeft[c]! / left[c]! / (batch * spatial) : 0;
        const mu = instance.mean[slot]!;
        const mean = batchMean ? batchMean[c]! : 0;
        const base = slot * spatial;
        for (let i = base; i < base + spatial; i++) gx[i]! += instanceTerm * (xs[i]! - mu) + batchTerm * (xs[i]! - mean);
      }
    }
    // The engine casts each gradient to its input's dtype.
    return { x: gx, weight: gw, bias: gb, v: gv };
  };
  return customOp({ op: 'evoNormB0', inputs: { x, weight, bias, v }, data: out, shape: x.shape, backward });
}
