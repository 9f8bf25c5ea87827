import { refuseMask, Module, OptionError, Parameter, checkModuleDType, dtypeOptionSpec, full, resolveOptions,
  type DType, type Normalizer, type NormalizerContext, type OptionsSchema, type Tensor,
} from '@normkit/tensor';
import { l2Norm } from './l2-norm';
import { checkNormalizedShape, rowLayout } from './row-layout';

/** ScaleNorm's options besides normalizedShape: the one schema the constructor, the plugin and the docs read. */
export const scaleNormOptionsSchema = {
  eps: { type: 'number', default: 1e-5, min: 0, minExclusive: true, description: "Lower bound of the norm (the paper's code: 1e-5)." },
  dtype: dtypeOptionSpec,
} as const satisfies OptionsSchema;

export interface ScaleNormOptions {
  /** The trailing dims normalised together (d = their product). */
  normalizedShape: number | readonly number[];
  /** Lower bound of the norm (default 1e-5). */
  eps?: number;
  /** Parameter dtype (default float32); inputs must match. */
  dtype?: DType;
}

/**
 * ScaleNorm (Nguyen & Salazar, "Transformers without Tears: Improving the Normalization of
 * Self-Attention", IWSLT 2019):
 *
 *   y = g * x / max(||x||_2, eps)      over the trailing `normalizedShape` dims, g one learned scalar
 *
 * g starts at sqrt(d), so at initialisation y = sqrt(d) * x / ||x||, which is RMSNorm without eps
 * and without a per-element weight: the paper replaces LayerNorm's 2d parameters by this one
 * scalar, projecting each token onto a sphere of learned radius. The paper's code clamps the norm
 * at eps = 1e-5. Parameter `scale` ([], the paper's code name). One node: `l2Norm` with the gain.
 *
 * @example
 * const norm = new ScaleNorm({ normalizedShape: 512 }); // g = sqrt(512)
 * const y = norm.forward(randn([2, 10, 512]));
 */
export class ScaleNorm extends Module implements Normalizer {
  readonly normalizedShape: readonly number[];
  readonly eps: number;
  readonly dtype: DType;
  /** g, a scalar parameter, initialised to sqrt(d). */
  readonly scale: Parameter;

  constructor(options: ScaleNormOptions) {
    super();
    const op = 'ScaleNorm';
    if (typeof options !== 'object' || options === null) throw new OptionError({ op, expected: 'an options object with normalizedShape', given: String(options) });
    const { normalizedShape, ...rest } = options;
    this.normalizedShape = Object.freeze(checkNormalizedShape(op, normalizedShape));
    const resolved = resolveOptions(op, scaleNormOptionsSchema, rest);
    this.eps = resolved.eps;
    this.dtype = resolved.dtype;
    this.scale = this.registerParameter('scale', new Parameter(full([], Math.sqrt(this.size()), { dtype: this.dtype })));
  }

  /** d, the number of elements normalised together. */
  size(): number {
    return this.normalizedShape.reduce((a, b) => a * b, 1);
  }

  /** g = sqrt(d). */
  resetParameters(): void {
    this.scale.data[0] = Math.sqrt(this.size());
  }

  override forward(x: Tensor, context: NormalizerContext = {}): Tensor {
    const op = 'ScaleNorm.forward';
    refuseMask(op, context, 'each token is normalised on its own');
    rowLayout(op, x, this.normalizedShape);
    checkModuleDType(op, x, this.dtype);
    const k = this.normalizedShape.length;
    const axes = Array.from({ length: k }, (_, i) => x.ndim - k + i);
    return l2Norm(x, { axes, eps: this.eps, scale: this.scale, op: 'scaleNorm' });
  }
}
