import { zeros } from '../creation';
import type { DType } from '../dtype';
import { ContextError, DTypeError, ShapeError, checkNumberOption, formatShape } from '../errors';
import { linear } from '../ops/linear';
import type { Generator } from '../random';
import { checkTensor, type Tensor } from '../tensor';
import { defaultLayerInit } from './init';
import { Module, Parameter } from './module';

export interface LinearOptions {
  inFeatures: number;
  outFeatures: number;
  /** Learn an additive bias (default true). */
  bias?: boolean;
  /** Parameter dtype (default float32); inputs must have the same dtype. */
  dtype?: DType;
  /** Drives the initialisation; the default generator otherwise. */
  generator?: Generator;
}

/**
 * Checks that `x` is `[..., features]` with the module's dtype, naming the module in the error.
 * Shared by the layers that act on the last dim.
 */
export function checkLastDim(op: string, x: Tensor, features: number, name: string, dtype: DType): void {
  if (x.ndim === 0 || x.shape[x.ndim - 1] !== features) {
    throw new ShapeError({
      op,
      expected: `an input of shape [..., ${features}] (last dim = ${name} = ${features})`,
      given: formatShape(x.shape),
    });
  }
  if (x.dtype !== dtype) {
    throw new DTypeError({ op, expected: `a ${dtype} input (the parameters' dtype)`, given: `a ${x.dtype} input` });
  }
}

/**
 * Fully connected layer, `y = x W^T + b`, like `torch.nn.Linear`: accepts `[..., inFeatures]` and
 * returns `[..., outFeatures]`. Parameters `weight` `[outFeatures, inFeatures]` and `bias`
 * `[outFeatures]` carry PyTorch's names and default initialisation (kaiming uniform with a = sqrt(5),
 * bias U(-1/sqrt(inFeatures), 1/sqrt(inFeatures))), so state dicts load both ways.
 *
 * `forward` reads `this.weight` at call time: a weight parametrization (spectral norm, weight norm)
 * replaces that property with a getter on the instance.
 *
 * @example
 * const layer = new Linear({ inFeatures: 4, outFeatures: 2, generator: new Generator(0) });
 * layer.forward(randn([8, 4])).shape; // [8, 2]
 */
export class Linear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly dtype: DType;
  /** `[outFeatures, inFeatures]`. */
  weight: Tensor;
  /** `[outFeatures]`, or null when built with `bias: false`. */
  bias: Tensor | null;

  constructor(options: LinearOptions) {
    super();
    this.inFeatures = checkNumberOption('Linear', 'inFeatures', options.inFeatures, { min: 0, integer: true });
    this.outFeatures = checkNumberOption('Linear', 'outFeatures', options.outFeatures, { min: 0, integer: true });
    this.dtype = options.dtype ?? 'float32';
    this.weight = this.registerParameter('weight', new Parameter(zeros([this.outFeatures, this.inFeatures], { dtype: this.dtype })));
    this.bias = (options.bias ?? true) ? this.registerParameter('bias', new Parameter(zeros([this.outFeatures], { dtype: this.dtype }))) : null;
    this.resetParameters({ generator: options.generator });
  }

  /** Re-draws the registered parameters with PyTorch's default initialisation. */
  resetParameters(options: { generator?: Generator } = {}): void {
    const weight = this.getParameter('weight');
    if (!weight) {
      throw new ContextError({
        op: 'Linear.resetParameters',
        expected: 'a plain `weight` parameter',
        given: 'a parametrized weight; initialise the parametrization originals instead',
      });
    }
    defaultLayerInit(weight, this.getParameter('bias') ?? null, options);
  }

  override forward(x: Tensor): Tensor {
    checkTensor('Linear.forward', x, 'x');
    const weight = this.weight;
    checkLastDim('Linear.forward', x, this.inFeatures, 'inFeatures', weight.dtype);
    return linear(x, weight, this.bias);
  }
}
