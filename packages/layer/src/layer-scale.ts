import { refuseMask, Module, OptionError, Parameter, checkModuleDType, dtypeOptionSpec, full, modulate, resolveOptions,
  type DType, type Normalizer, type NormalizerContext, type OptionsSchema, type Tensor,
} from '@normkit/tensor';
import { checkNormalizedShape, rowLayout } from './row-layout';

/** LayerScale's options besides its dim: the one schema the constructor, the plugin and the docs read. */
export const layerScaleOptionsSchema = {
  initValues: { type: 'number', default: 1e-5, description: "gamma's initial value (timm 1e-5; CaiT 0.1 to 1e-6 with depth)." },
  dtype: dtypeOptionSpec,
} as const satisfies OptionsSchema;

export interface LayerScaleOptions {
  /** The channel dims scaled (the last dims of the input): `768`, or an array. */
  dim: number | readonly number[];
  /** gamma's initial value (default 1e-5, timm's). */
  initValues?: number;
  /** Parameter dtype (default float32); inputs must match. */
  dtype?: DType;
}

/**
 * LayerScale (Touvron, Cord, Sablayrolles, Synnaeve & Jégou, "Going deeper with Image
 * Transformers" (CaiT), ICCV 2021), as timm's `LayerScale`:
 *
 *   y = gamma * x,   gamma per channel, initialised to a small `initValues` (timm 1e-5)
 *
 * Applied to a residual branch's output, `x + gamma * f(norm(x))`, it starts every block close to
 * the identity so deep Transformers train; unlike ReZero's one scalar it learns a scale per
 * channel, and unlike a normalizer it has no statistics. Parameter `gamma` (timm's name). One node
 * of the core's `modulate` kernel (`form: 'direct'`, no shift).
 *
 * As a residual sublayer: `residual(new Sequential(mlp, new LayerScale({ dim: 384 })), { norm, placement: 'pre' })`.
 *
 * @example
 * const ls = new LayerScale({ dim: 384, initValues: 1e-5 });
 * const y = ls.forward(randn([2, 197, 384]));
 */
export class LayerScale extends Module implements Normalizer {
  readonly dim: readonly number[];
  readonly initValues: number;
  readonly dtype: DType;
  /** The per-channel scale, shaped like `dim`. */
  readonly gamma: Parameter;

  constructor(options: LayerScaleOptions) {
    super();
    const op = 'LayerScale';
    if (typeof options !== 'object' || options === null) throw new OptionError({ op, expected: 'an options object with dim', given: String(options) });
    const { dim, ...rest } = options;
    this.dim = Object.freeze(checkNormalizedShape(op, dim));
    const resolved = resolveOptions(op, layerScaleOptionsSchema, rest);
    this.initValues = resolved.initValues;
    this.dtype = resolved.dtype;
    this.gamma = this.registerParameter('gamma', new Parameter(full(this.dim, this.initValues, { dtype: this.dtype })));
  }

  /** gamma = initValues. */
  resetParameters(): void {
    this.gamma.data.fill(this.initValues);
  }

  override forward(x: Tensor, context: NormalizerContext = {}): Tensor {
    const op = 'LayerScale.forward';
    refuseMask(op, context, 'LayerScale is element-wise: padded positions never reach the others');
    rowLayout(op, x, this.dim);
    checkModuleDType(op, x, this.dtype);
    return modulate(x, this.gamma, null, { form: 'direct', op: 'layerScale' });
  }
}
