import {
  ContextError,
  DTypeError,
  Linear,
  Module,
  OptionError,
  SiLU,
  Sequential,
  ShapeError,
  checkDTypeOption,
  formatShape,
  init,
  modulate,
  reshape,
  slice,
  type DType,
  type Generator,
  type Normalizer,
  type NormalizerContext,
  type Tensor, checkOptionKeys,
} from '@normkit/tensor';
import { runLayerNorm } from './layer-norm';
import { checkEps, checkNormalizedShape, rowLayout } from './row-layout';

/** Shift and scale predicted from a condition, each [N, ...normalizedShape]. */
export interface Modulation {
  shift: Tensor;
  scale: Tensor;
}

/** adaLN-Zero's shift, scale and residual gate, each [N, ...normalizedShape]. */
export interface GatedModulation extends Modulation {
  gate: Tensor;
}

/**
 * A normalizer whose modulation also predicts a residual gate (adaLN-Zero). `residual(..., { gate: true })`
 * calls `modulation` once per forward, normalises with its shift and scale and multiplies the
 * sublayer's output by its gate.
 */
export interface GatedNormalizer extends Normalizer {
  /** Marks the modulation as predicting a gate (AdaLN has `modulation` too, without one). */
  readonly gated: true;
  modulation(condition: Tensor): GatedModulation;
  /** LayerNorm without affine, then `x * (1 + scale) + shift`. */
  normalizeWith(x: Tensor, modulation: Modulation, context?: NormalizerContext): Tensor;
}

/** True for normalizers with a gate (adaLN-Zero), which `residual` can gate with. */
export function isGatedNormalizer(norm: Normalizer): norm is GatedNormalizer {
  const loose = norm as unknown as Record<string, unknown>;
  return loose.gated === true && typeof loose.modulation === 'function' && typeof loose.normalizeWith === 'function';
}

/**
 * Reshapes a per-sample [N, ...normalizedShape] tensor to [N, 1, ..., 1, ...normalizedShape] with
 * `rank` dims, so it broadcasts over the token dims of x (DiT's `unsqueeze(1)`).
 */
export function broadcastOverTokens(t: Tensor, rank: number): Tensor {
  const missing = rank - t.ndim;
  if (missing === 0) return t;
  return reshape(t, [t.shape[0]!, ...new Array<number>(missing).fill(1), ...t.shape.slice(1)]);
}

/** Every key of AdaLNOptions (the compiler keeps the list complete): the constructors refuse any other. */
const ADALN_OPTION_KEYS = Object.keys({
  normalizedShape: true, conditionDim: true, eps: true, zeroInit: true, dtype: true, generator: true,
} satisfies Record<keyof AdaLNOptions, true>);

export interface AdaLNOptions {
  /** The trailing dims normalised (usually the model width). */
  normalizedShape: number | readonly number[];
  /** Width of the condition vector (timestep plus class embedding in DiT). */
  conditionDim: number;
  /** Added to the variance (default 1e-6, DiT's). */
  eps?: number;
  /** Start the modulation Linear at zero, so the layer starts as LayerNorm without affine (default false: Linear's init). */
  zeroInit?: boolean;
  /** Parameter dtype (default float32). */
  dtype?: DType;
  /** Drives the Linear's initialisation. */
  generator?: Generator;
}

/** What AdaLN and AdaLNZero share: the options check, the SiLU -> Linear predictor and the forward. */
abstract class AdaptiveLayerNorm extends Module implements Normalizer {
  readonly normalizedShape: readonly number[];
  readonly conditionDim: number;
  readonly eps: number;
  readonly dtype: DType;
  /** `Sequential(SiLU, Linear(conditionDim, chunks * features))`, DiT's `adaLN_modulation`. */
  readonly adaLNModulation: Sequential;
  protected readonly linear: Linear;
  protected readonly features: number;

  protected constructor(private readonly opName: string, options: AdaLNOptions, chunks: number, zeroInit: boolean) {
    super();
    // AdaLN-Zero always starts at zero: zeroInit is AdaLN's option only.
    checkOptionKeys(opName, options, opName === 'AdaLN' ? ADALN_OPTION_KEYS : ADALN_OPTION_KEYS.filter((k) => k !== 'zeroInit'));
    this.normalizedShape = Object.freeze(checkNormalizedShape(opName, options.normalizedShape));
    const conditionDim = options.conditionDim;
    if (typeof conditionDim !== 'number' || !Number.isInteger(conditionDim) || conditionDim < 1) {
      throw new OptionError({ op: opName, expected: 'conditionDim to be a positive integer (the width of the condition vector)', given: `conditionDim = ${String(conditionDim)}` });
    }
    this.conditionDim = conditionDim;
    this.eps = checkEps(opName, options.eps ?? 1e-6);
    this.dtype = checkDTypeOption(opName, options.dtype);
    this.features = this.normalizedShape.reduce((a, b) => a * b, 1);
    this.linear = new Linear({ inFeatures: conditionDim, outFeatures: chunks * this.features, dtype: this.dtype, generator: options.generator });
    if (zeroInit) {
      init.zeros(this.linear.weight);
      if (this.linear.bias) init.zeros(this.linear.bias);
    }
    this.adaLNModulation = this.registerModule('adaLN_modulation', new Sequential(new SiLU(), this.linear));
  }

  /** The predictor's output split into `chunks` tensors of [N, ...normalizedShape], in order. */
  protected predict(condition: Tensor, chunks: number): Tensor[] {
    const op = `${this.opName}.modulation`;
    if (condition.ndim !== 2 || condition.shape[1] !== this.conditionDim) {
      throw new ShapeError({ op, expected: `a condition of shape [N, ${this.conditionDim}] (conditionDim = ${this.conditionDim})`, given: formatShape(condition.shape) });
    }
    if (condition.dtype !== this.dtype) {
      throw new DTypeError({ op, expected: `a ${this.dtype} condition (the parameters' dtype)`, given: `a ${condition.dtype} condition` });
    }
    const predicted = this.adaLNModulation.forward(condition);
    const n = condition.shape[0]!;
    return Array.from({ length: chunks }, (_, i) =>
      reshape(slice(predicted, 1, i * this.features, (i + 1) * this.features), [n, ...this.normalizedShape]),
    );
  }

  /** LayerNorm without affine over `normalizedShape`, then `x * (1 + scale) + shift` per sample. */
  normalizeWith(x: Tensor, modulation: Modulation, context: NormalizerContext = {}): Tensor {
    const op = `${this.opName}.forward`;
    const layout = rowLayout(op, x, this.normalizedShape, this.dtype);
    const n = modulation.scale.shape[0];
    if (x.ndim < this.normalizedShape.length + 1 || x.shape[0] !== n) {
      throw new ShapeError({
        op,
        expected: `an input [N, ..., ${this.normalizedShape.join(', ')}] with the condition's batch N = ${n}`,
        given: formatShape(x.shape),
      });
    }
    // eps was checked by the constructor: the trusted LayerNorm path.
    const normalized = runLayerNorm(x, this.normalizedShape, layout, { eps: this.eps, mask: context.mask, op: 'adaLN' });
    return modulate(normalized, broadcastOverTokens(modulation.scale, x.ndim), broadcastOverTokens(modulation.shift, x.ndim), {
      form: 'one-plus',
      op: 'adaLNModulate',
    });
  }

  abstract modulation(condition: Tensor): Modulation;

  protected requireCondition(context: NormalizerContext): Tensor {
    if (!context.condition) {
      throw new ContextError({
        op: `${this.opName}.forward`,
        expected: `a condition [N, ${this.conditionDim}] in the context: forward(x, { condition })`,
        given: 'no condition',
      });
    }
    return context.condition;
  }

  override forward(x: Tensor, context: NormalizerContext = {}): Tensor {
    return this.normalizeWith(x, this.modulation(this.requireCondition(context)), context);
  }
}

/**
 * Adaptive Layer Normalization (Perez et al.'s FiLM applied to LayerNorm; the adaLN of DiT,
 * Peebles and Xie, 2023): LayerNorm without its own affine, modulated per sample by a scale and
 * shift regressed from a condition vector c:
 *
 *   (shift, scale) = Linear(SiLU(c))
 *   y = LayerNorm_noaffine(x) * (1 + scale) + shift
 *
 * The `1 + scale` form (the core's `modulate(..., { form: 'one-plus' })`, shared with
 * @normkit/conditional) makes a zero predictor the plain normalisation. State-dict names follow
 * DiT: `adaLN_modulation.1.weight` [2 * D, conditionDim], output chunks in the order shift, scale.
 * A mask ([N, L] for [N, L, D]) keeps padded rows out of the normalisation's gradient; their
 * output is `shift(c)`, since modulation applies to every row.
 *
 * @example
 * const norm = new AdaLN({ normalizedShape: 384, conditionDim: 384 });
 * const y = norm.forward(tokens, { condition: timestepEmbedding }); // tokens [N, L, 384], condition [N, 384]
 */
export class AdaLN extends AdaptiveLayerNorm {
  constructor(options: AdaLNOptions) {
    super('AdaLN', options, 2, options.zeroInit ?? false);
  }

  /** shift and scale, each [N, ...normalizedShape]. */
  override modulation(condition: Tensor): Modulation {
    const [shift, scale] = this.predict(condition, 2) as [Tensor, Tensor];
    return { shift, scale };
  }
}

export type AdaLNZeroOptions = Omit<AdaLNOptions, 'zeroInit'>;

/**
 * adaLN-Zero (Peebles and Xie, 2023, DiT): AdaLN whose predictor also regresses a residual gate,
 * and starts at zero:
 *
 *   (shift, scale, gate) = Linear(SiLU(c)),  Linear initialised to 0
 *   x <- x + gate * f(LayerNorm_noaffine(x) * (1 + scale) + shift)
 *
 * The gating happens in `residual(f, { norm: adaLNZero, placement: 'pre', gate: true })` (and in
 * `TransformerBlock` with norm 'ada-ln-zero'): at initialisation gate = 0, so every block is
 * exactly the identity, which DiT found trains best. `forward(x, { condition })` alone gives the
 * modulated normalisation (the gate is then unused). Names follow DiT (`adaLN_modulation.1.weight`
 * [3 * D, conditionDim], chunks shift, scale, gate); DiT packs both sub-blocks' six chunks into
 * one Linear, here each residual has its own (the same function, split in two).
 *
 * @example
 * const norm = new AdaLNZero({ normalizedShape: 384, conditionDim: 384 });
 * const block = residual(mlp, { norm, placement: 'pre', gate: true });
 * block.forward(tokens, { condition }); // === tokens at initialisation
 */
export class AdaLNZero extends AdaptiveLayerNorm implements GatedNormalizer {
  readonly gated = true as const;

  constructor(options: AdaLNZeroOptions) {
    super('AdaLNZero', options, 3, true);
  }

  /** shift, scale and gate, each [N, ...normalizedShape]; all zero at initialisation. */
  override modulation(condition: Tensor): GatedModulation {
    const [shift, scale, gate] = this.predict(condition, 3) as [Tensor, Tensor, Tensor];
    return { shift, scale, gate };
  }
}
