import {
  Module, OptionError, allocate, checkTensor, customOp, defineKernel, resolveOptions,
  type Normalizer, type NormalizerContext, type OptionsSchema, type OptionValues, type Tensor, type TypedArray,
} from '@normkit/tensor';
import { channelsFirst, refuseMask } from './input';

/** LocalResponseNorm's options: the one schema the constructor, the function, the plugin and the docs read. */
export const localResponseNormOptionsSchema = {
  size: { type: 'number', default: 5, integer: true, min: 1, description: 'n, the number of neighbouring channels in the window (PyTorch requires it; AlexNet: 5).' },
  alpha: { type: 'number', default: 1e-4, min: 0, description: 'Multiplies the window mean of squares (PyTorch divides alpha by n).' },
  beta: { type: 'number', default: 0.75, description: 'The exponent of the denominator.' },
  k: { type: 'number', default: 1, min: 0, minExclusive: true, description: 'Added to the scaled window mean (PyTorch 1.0; the AlexNet paper 2); > 0 keeps the denominator positive.' },
} as const satisfies OptionsSchema;

export type LocalResponseNormSettings = OptionValues<typeof localResponseNormOptionsSchema>;

export interface LocalResponseNormOptions {
  /** n, the number of channels in the window; an integer >= 1 (default 5). */
  size?: number;
  /** Scale of the window mean of squares (default 1e-4); >= 0. */
  alpha?: number;
  /** Exponent (default 0.75). */
  beta?: number;
  /** Additive constant (default 1); > 0. */
  k?: number;
}

interface LrnLoopArgs extends LocalResponseNormSettings {
  x: TypedArray;
  outer: number;
  channels: number;
  spatial: number;
}

/**
 * factor[i] = d[i]^-beta for every i < end, d > 0 (k > 0 keeps it so). Math.pow costs about 70 ns here,
 * more than the rest of the forward; beta = 0.75 (the default, AlexNet's) is 1 / (sqrt(d) sqrt(sqrt(d)))
 * (not d sqrt(d), which underflows from d = 1e-206) and beta = 0.5 is 1 / sqrt(d) (correctly rounded square
 * roots: within 3 ulp of float64, 5-9x faster),
 * any other beta exp(-beta ln d) (within about |beta ln d| + 2 ulp, 3x faster). Either error is far
 * below float32's rounding of the output (PyTorch computes this power in float32).
 */
function negativePower(d: Float64Array, factor: Float64Array, start: number, end: number, beta: number): void {
  if (beta === 0) {
    // d^0 is 1 for every d, Inf and NaN included (Math.pow's rule); exp(-0 * ln d) would be NaN there.
    factor.fill(1, start, end);
  } else if (beta === 0.75) {
    for (let i = start; i < end; i++) {
      const root = Math.sqrt(d[i]!);
      factor[i] = 1 / (root * Math.sqrt(root));
    }
  } else if (beta === 0.5) {
    for (let i = start; i < end; i++) factor[i] = 1 / Math.sqrt(d[i]!);
  } else {
    for (let i = start; i < end; i++) factor[i] = Math.exp(-beta * Math.log(d[i]!));
  }
}

/**
 * d = k + alpha / n * sum of x^2 over the window [c - floor(n/2), c + floor((n-1)/2)] (zero outside),
 * factor = d^-beta and out = x * factor. Sums are direct per window (no running sum that could drift
 * below 0); d and factor are kept for the backward.
 */
const lrnForward = defineKernel({
  name: 'localResponseNorm.forward',
  js: ({ x, outer, channels, spatial, size, alpha, beta, k, out }: LrnLoopArgs & { out: TypedArray }): { d: Float64Array; factor: Float64Array } => {
    const d = new Float64Array(x.length);
    const factor = new Float64Array(x.length);
    const before = Math.floor(size / 2);
    const after = Math.floor((size - 1) / 2);
    const scale = alpha / size;
    for (let o = 0; o < outer; o++) {
      const sample = o * channels * spatial;
      for (let c = 0; c < channels; c++) {
        const row = sample + c * spatial;
        for (let w = Math.max(0, c - before), end = Math.min(channels - 1, c + after); w <= end; w++) {
          const from = sample + w * spatial;
          for (let s = 0; s < spatial; s++) d[row + s]! += x[from + s]! * x[from + s]!;
        }
        for (let i = row; i < row + spatial; i++) d[i] = k + scale * d[i]!;
        negativePower(d, factor, row, row + spatial, beta);
        for (let i = row; i < row + spatial; i++) out[i] = x[i]! * factor[i]!;
      }
    }
    return { d, factor };
  },
});

/**
 * dx_j = g_j d_j^-beta - (2 alpha beta / n) x_j * sum over the channels c whose window holds j
 * (c in [j - floor((n-1)/2), j + floor(n/2)]) of g_c x_c d_c^(-beta-1).
 */
const lrnBackward = defineKernel({
  name: 'localResponseNorm.backward',
  js: ({ x, outer, channels, spatial, size, alpha, beta, d, factor, g, gx }: LrnLoopArgs & { d: Float64Array; factor: Float64Array; g: TypedArray; gx: TypedArray }): void => {
    const before = Math.floor(size / 2);
    const after = Math.floor((size - 1) / 2);
    const u = new Float64Array(channels * spatial);
    const acc = new Float64Array(spatial);
    for (let o = 0; o < outer; o++) {
      const sample = o * channels * spatial;
      for (let i = 0; i < channels * spatial; i++) {
        const j = sample + i;
        u[i] = (g[j]! * x[j]! * factor[j]!) / d[j]!;
      }
      for (let c = 0; c < channels; c++) {
        acc.fill(0);
        for (let w = Math.max(0, c - after), end = Math.min(channels - 1, c + before); w <= end; w++) {
          for (let s = 0; s < spatial; s++) acc[s]! += u[w * spatial + s]!;
        }
        const row = sample + c * spatial;
        for (let s = 0; s < spatial; s++) {
          const i = row + s;
          gx[i] = g[i]! * factor[i]! - ((2 * alpha * beta) / size) * x[i]! * acc[s]!;
        }
      }
    }
  },
});

/**
 * Local Response Normalization as a function (Krizhevsky, Sutskever & Hinton, "ImageNet
 * Classification with Deep Convolutional Neural Networks", NeurIPS 2012), exactly as PyTorch's
 * `F.local_response_norm(x, size, alpha, beta, k)` on an [N, C, *] input:
 *
 *   b_c = a_c * (k + alpha / n * sum_{c' = c - floor(n/2)}^{c + floor((n-1)/2)} a_{c'}^2)^(-beta)
 *
 * with channels outside [0, C) counted as zeros (the window mean always divides by n). One autograd
 * node with the analytic backward above; sums in float64. Unlike PyTorch, [N, C] is accepted too.
 *
 * @example
 * const y = localResponseNorm(randn([1, 96, 55, 55]), { size: 5, alpha: 1e-4, beta: 0.75, k: 2 });
 */
export function localResponseNorm(x: Tensor, options: LocalResponseNormOptions = {}): Tensor {
  return runLocalResponseNorm('localResponseNorm', x, resolveOptions('localResponseNorm', localResponseNormOptionsSchema, { ...options }));
}

function runLocalResponseNorm(op: string, x: Tensor, settings: LocalResponseNormSettings): Tensor {
  checkTensor(op, x, 'x');
  const { batch: outer, channels, spatial } = channelsFirst(op, x, 2);
  const args = { x: x.data, outer, channels, spatial, ...settings };
  const out = allocate(x.dtype, x.size);
  const { d, factor } = lrnForward({ ...args, out });
  return customOp({
    op: 'localResponseNorm',
    inputs: [x],
    data: out,
    shape: x.shape,
    backward: (g) => {
      const gx = allocate(x.dtype, x.size);
      lrnBackward({ ...args, d, factor, g, gx });
      return [gx];
    },
  });
}

/**
 * Local Response Normalization (Krizhevsky et al. 2012), `torch.nn.LocalResponseNorm`: each
 * activation divided by (k + alpha * mean of the squares of its `size` neighbouring channels)^beta.
 * The ancestor of the per-sample normalizers: like InstanceNorm and GroupNorm it looks at one
 * sample only, but across channels at one position instead of across positions, it subtracts no
 * mean, and it has no learned parameters. Kept for AlexNet/GoogLeNet-era models and their
 * checkpoints; modern networks use BatchNorm or GroupNorm instead.
 *
 * @example
 * const lrn = new LocalResponseNorm({ size: 5, k: 2 }); // AlexNet
 * const y = lrn.forward(randn([2, 96, 27, 27]));
 */
export class LocalResponseNorm extends Module implements Normalizer {
  readonly size: number;
  readonly alpha: number;
  readonly beta: number;
  readonly k: number;

  constructor(options: LocalResponseNormOptions = {}) {
    super();
    if (typeof options !== 'object' || options === null) throw new OptionError({ op: 'LocalResponseNorm', expected: 'an options object', given: String(options) });
    const resolved = resolveOptions('LocalResponseNorm', localResponseNormOptionsSchema, { ...options });
    this.size = resolved.size;
    this.alpha = resolved.alpha;
    this.beta = resolved.beta;
    this.k = resolved.k;
  }

  forward(x: Tensor, context?: NormalizerContext): Tensor {
    refuseMask('LocalResponseNorm.forward', context);
    return runLocalResponseNorm('LocalResponseNorm.forward', x, { size: this.size, alpha: this.alpha, beta: this.beta, k: this.k });
  }
}
