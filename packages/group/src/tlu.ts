import {
  Module, Parameter, ShapeError, allocate, checkModuleDType, customOp, dtypeOptionSpec, formatShape, resolveModuleOptions, zeros,
  type DType, type Tensor, type TypedArray,
} from '@normkit/tensor';
import { channelsFirst, checkChannels } from './input';

/**
 * The Thresholded Linear Unit as a function (Singh & Krishnan, "Filter Response Normalization
 * Layer", CVPR 2020): z = max(x, tau_c) per channel of an [N, C, *] input. Equivalently
 * ReLU(x - tau) + tau: a learned threshold that stands in for the mean centring FRN leaves out.
 *
 * One node. Where x >= tau (ties included) the gradient goes to x, elsewhere to tau, as in
 * TensorFlow's and normkit's `maximum`.
 *
 * @example
 * const z = tlu(randn([2, 3, 4, 4]), zeros([3])); // ReLU when tau = 0
 */
export function tlu(x: Tensor, tau: Tensor): Tensor {
  const op = 'tlu';
  const { batch, channels, spatial } = channelsFirst(op, x, 2);
  if (tau.size !== channels) {
    throw new ShapeError({ op, expected: `tau with ${channels} elements (one per channel)`, given: `shape ${formatShape(tau.shape)}` });
  }
  const out = allocate(x.dtype, x.size);
  const choice = new Float64Array(2);
  for (let n = 0; n < batch; n++) {
    for (let c = 0; c < channels; c++) {
      const start = (n * channels + c) * spatial;
      clipBlock(x.data, out, start, start + spatial, tau.data[c]!, choice);
    }
  }
  return customOp({
    op,
    inputs: { x, tau },
    data: out,
    shape: x.shape,
    backward: (gradOutput: TypedArray) => {
      const gradX = x.requiresGrad ? allocate(x.dtype, x.size) : null;
      const gradTau = new Float64Array(channels);
      for (let n = 0; n < batch; n++) {
        for (let c = 0; c < channels; c++) {
          const start = (n * channels + c) * spatial;
          gradTau[c]! += splitBlock(gradOutput, x.data, gradX, start, start + spatial, tau.data[c]!, choice);
        }
      }
      // The engine casts the float64 accumulator to tau's dtype (no copy when it is float64).
      return { x: gradX, tau: gradTau };
    },
  });
}

// Branch-free loops: with activations of random sign a branch on x >= tau is mispredicted half the
// time (several times slower); the comparison indexes a two-slot array instead.

/** out = max(x, t) over [start, end), ties keeping x. */
function clipBlock(xs: TypedArray, out: TypedArray, start: number, end: number, t: number, choice: Float64Array): void {
  choice[1] = t;
  for (let i = start; i < end; i++) {
    const v = xs[i]!;
    choice[0] = v;
    out[i] = choice[+(v < t)]!;
  }
}

/** gradX = g where x >= t (else 0); returns the sum of g where x < t, tau's share. */
function splitBlock(g: TypedArray, xs: TypedArray, gradX: TypedArray | null, start: number, end: number, t: number, pair: Float64Array): number {
  let below = 0;
  pair[0] = 0;
  for (let i = start; i < end; i++) {
    const keep = +(xs[i]! >= t);
    pair[1] = g[i]!;
    if (gradX !== null) gradX[i] = pair[keep]!;
    below += pair[1 - keep]!;
  }
  return below;
}

export interface TLUOptions {
  /** C, the input's channel dim. */
  numFeatures: number;
  /** Parameter dtype (default float32); inputs must have the same dtype. */
  dtype?: DType;
}

/**
 * Thresholded Linear Unit (Singh & Krishnan, CVPR 2020), `z = max(x, tau)` with a learned
 * per-channel `tau` (zeros: ReLU at initialisation), the activation that accompanies
 * FilterResponseNorm. State-dict name `tau`, [C]. `FilterResponseNormTLU` fuses both into one node.
 *
 * @example
 * const frn = new FilterResponseNorm({ numFeatures: 16 });
 * const act = new TLU({ numFeatures: 16 });
 * const z = act.forward(frn.forward(randn([1, 16, 8, 8])));
 */
export class TLU extends Module {
  readonly numFeatures: number;
  readonly dtype: DType;
  /** The threshold, [C] (zeros). */
  tau: Tensor;

  constructor(options: TLUOptions) {
    super();
    ({ numFeatures: this.numFeatures, dtype: this.dtype } = resolveModuleOptions('TLU', options, {
      schema: { dtype: dtypeOptionSpec },
      required: { numFeatures: { min: 1, integer: true } },
    }));
    this.tau = this.registerParameter('tau', new Parameter(zeros([this.numFeatures], { dtype: this.dtype })));
  }

  /** Sets tau to 0 (`reset_parameters`). */
  resetParameters(): void {
    this.tau.data.fill(0);
  }

  forward(x: Tensor): Tensor {
    const op = 'TLU.forward';
    channelsFirst(op, x, 2);
    checkChannels(op, x, this.numFeatures, 'numFeatures');
    checkModuleDType(op, x, this.dtype);
    return tlu(x, this.tau);
  }
}
