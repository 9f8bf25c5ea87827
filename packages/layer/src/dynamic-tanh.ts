import { refuseMask, Module, OptionError, Parameter, checkModuleDType, checkTensor, dtypeOptionSpec, full, modulate, mul, ones, resolveOptions, tanh, zeros,
  type DType, type Normalizer, type NormalizerContext, type OptionsSchema, type Tensor,
} from '@normkit/tensor';
import { checkNormalizedShape, rowLayout } from './row-layout';

/** DynamicTanh's options besides its shape: the one schema the constructor, the plugin and the docs read. */
export const dynamicTanhOptionsSchema = {
  alphaInit: {
    type: 'number',
    default: 0.5,
    min: 0,
    minExclusive: true,
    description: "alpha's initial value (the paper's default 0.5; its LLMs use larger values in attention blocks).",
  },
  elementwiseAffine: { type: 'boolean', default: true, description: 'Learn a per-element weight (ones) and bias (zeros), as LayerNorm.' },
  dtype: dtypeOptionSpec,
} as const satisfies OptionsSchema;

export interface DynamicTanhOptions {
  /** The trailing dims the affine covers: `768`, or an array (LayerNorm's normalizedShape). */
  normalizedShape: number | readonly number[];
  /** alpha's initial value (default 0.5); > 0. */
  alphaInit?: number;
  /** Learn weight and bias (default true). */
  elementwiseAffine?: boolean;
  /** Parameter dtype (default float32); inputs must match. */
  dtype?: DType;
}

/**
 * Dynamic Tanh, DyT (Zhu, Chen, He, LeCun & Liu, "Transformers without Normalization", CVPR 2025):
 * an element-wise replacement for LayerNorm in Transformers,
 *
 *   y = weight * tanh(alpha * x) + bias
 *
 * with one learned scalar alpha (initialised to `alphaInit`, 0.5) and LayerNorm's per-element
 * weight and bias over the trailing `normalizedShape` dims. It computes no statistics, so it is
 * independent of the batch and of the other tokens, has no state, and costs one pass; the paper
 * finds the tanh's squashing of extreme activations is what LayerNorm contributes in trained
 * Transformers. Parameter names are the official code's (`alpha`, `weight`, `bias`); unlike
 * LayerNorm, a constant row is not mapped to zero.
 *
 * The supported, first-party version (plugin `dyt`); `examples/plugin-dyt` is the guide to writing
 * such a plugin outside normkit. Runs on the core's kernels: `tanh` from the kernel table (js and
 * wasm) on alpha * x, then the shared `modulate` for weight and bias.
 *
 * @example
 * const dyt = new DynamicTanh({ normalizedShape: 768 });
 * const y = dyt.forward(randn([2, 16, 768]));
 */
export class DynamicTanh extends Module implements Normalizer {
  readonly normalizedShape: readonly number[];
  readonly alphaInit: number;
  readonly elementwiseAffine: boolean;
  readonly dtype: DType;
  /** The learned scalar, shape [1]. */
  readonly alpha: Parameter;

  constructor(options: DynamicTanhOptions) {
    super();
    const op = 'DynamicTanh';
    if (typeof options !== 'object' || options === null) throw new OptionError({ op, expected: 'an options object with normalizedShape', given: String(options) });
    const { normalizedShape, ...rest } = options;
    this.normalizedShape = Object.freeze(checkNormalizedShape(op, normalizedShape));
    const resolved = resolveOptions(op, dynamicTanhOptionsSchema, rest);
    this.alphaInit = resolved.alphaInit;
    this.elementwiseAffine = resolved.elementwiseAffine;
    this.dtype = resolved.dtype;
    const dtype = this.dtype;
    this.alpha = this.registerParameter('alpha', new Parameter(full([1], this.alphaInit, { dtype })));
    if (this.elementwiseAffine) {
      this.registerParameter('weight', new Parameter(ones(this.normalizedShape, { dtype })));
      this.registerParameter('bias', new Parameter(zeros(this.normalizedShape, { dtype })));
    }
  }

  /** The per-element scale, or null without `elementwiseAffine`. */
  get weight(): Parameter | null {
    return this.getParameter('weight') ?? null;
  }

  /** The per-element shift, or null without `elementwiseAffine`. */
  get bias(): Parameter | null {
    return this.getParameter('bias') ?? null;
  }

  /** alpha = alphaInit, weight = 1, bias = 0. */
  resetParameters(): void {
    this.alpha.data.fill(this.alphaInit);
    this.weight?.data.fill(1);
    this.bias?.data.fill(0);
  }

  override forward(x: Tensor, context: NormalizerContext = {}): Tensor {
    const op = 'DynamicTanh.forward';
    checkTensor(op, x, 'x');
    refuseMask(op, context, 'DyT is element-wise: padded positions never reach the others');
    rowLayout(op, x, this.normalizedShape);
    checkModuleDType(op, x, this.dtype);
    const squashed = tanh(mul(x, this.alpha));
    return this.weight ? modulate(squashed, this.weight, this.bias, { form: 'direct', op: 'dynamicTanh' }) : squashed;
  }
}
