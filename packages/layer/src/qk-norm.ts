import {
  Module,
  OptionError,
  Parameter,
  checkDTypeOption,
  refuseMask,
  full,
  normalize,
  ones,
  zeros,
  type DType,
  type Normalizer,
  type NormalizerContext,
  type Tensor, checkOptionKeys,
} from '@normkit/tensor';
import { runLayerNorm } from './layer-norm';
import { runRmsNorm } from './rms-norm';
import { checkEps, rowLayout } from './row-layout';

/** `'layer'`: LayerNorm (Dehghani et al., 2023); `'rms'`: RMSNorm (OLMo 2, Qwen 3); `'l2'`: unit length (Henry et al., 2020). */
export type QKNormKind = 'layer' | 'rms' | 'l2';

export const QK_NORM_KINDS: readonly QKNormKind[] = ['layer', 'rms', 'l2'];

/** Default eps per kind: LayerNorm's 1e-5, RMSNorm's 1e-6, and 1e-6 added to |x|^2 for 'l2'. */
const DEFAULT_EPS: Record<QKNormKind, number> = { layer: 1e-5, rms: 1e-6, l2: 1e-6 };

/** Every key of QKNormOptions (the compiler keeps the list complete): the constructor refuses any other. */
const QK_NORM_OPTION_KEYS = Object.keys({
  headDim: true, kind: true, eps: true, elementwiseAffine: true, logitScale: true, dtype: true,
} satisfies Record<keyof QKNormOptions, true>);

export interface QKNormOptions {
  /** Width of one head: the dim normalised (the last dim of q and k). */
  headDim: number;
  /** Default 'layer'. */
  kind?: QKNormKind;
  /** Default per kind: 1e-5 ('layer'), 1e-6 ('rms'), 1e-6 added to |x|^2 ('l2'). */
  eps?: number;
  /**
   * 'layer' and 'rms': learn a per-dim `weight` (and for 'layer' a `bias`), default true.
   * 'l2' always learns its scalar `scale`.
   */
  elementwiseAffine?: boolean;
  /**
   * 'l2' only: the initial logit scale g of Henry et al., logits = g * cos(q, k). Default
   * sqrt(headDim), which makes scale = 1; Henry et al. start from log2(L^2 - L) for length L.
   */
  logitScale?: number;
  /** Parameter dtype (default float32). */
  dtype?: DType;
}

/**
 * QK-norm: normalises queries or keys per head over `headDim`, before the attention dot product,
 * so logits cannot grow without bound when the q/k projection weights do (the attention-entropy
 * collapse that destabilises large-model training). Build two, `q_norm` and `k_norm`; the core's
 * `MultiHeadAttention({ qkNorm: qkNormFactory({ kind }) })` does exactly that.
 *
 * - `'layer'` (Dehghani et al., 2023, ViT-22B): LayerNorm over headDim, `weight` and `bias`.
 * - `'rms'` (OLMo 2, Qwen 3): RMSNorm over headDim, `weight` (state-dict `q_norm.weight`, like theirs).
 * - `'l2'` (Henry et al., 2020, "Query-Key Normalization for Transformers"): unit-length q and k
 *   with a learnable scalar on the logits. Here each side is `scale * sqrt(headDim) * x / |x|`
 *   (|x|^2 + eps under the root), one learnable scalar `scale` per side: scale = 1 gives vectors of
 *   unit RMS, the magnitude 'layer' and 'rms' give. After the attention's 1/sqrt(headDim) the
 *   logits are g * cos(q, k) with g = sqrt(headDim) * scale_q * scale_k, Henry et al.'s learnable
 *   logit scale (a product of two scalars here, since q_norm and k_norm are separate modules).
 *
 * With unit weights every kind bounds |logit| by sqrt(headDim) (Cauchy-Schwarz), whatever the
 * size of the projection weights. Each forward is one node of the shared kernel.
 *
 * @example
 * const attention = new MultiHeadAttention({ embedDim: 64, numHeads: 4, qkNorm: qkNormFactory({ kind: 'rms' }) });
 */
export class QKNorm extends Module implements Normalizer {
  readonly headDim: number;
  readonly kind: QKNormKind;
  readonly eps: number;
  readonly dtype: DType;
  /** 'layer' and 'rms' with elementwise affine: [headDim]. */
  readonly weight: Parameter | null;
  /** 'layer' with elementwise affine: [headDim]. */
  readonly bias: Parameter | null;
  /** 'l2': the scalar gain (shape []). */
  readonly scale: Parameter | null;

  constructor(options: QKNormOptions) {
    super();
    const op = 'QKNorm';
    checkOptionKeys(op, options, QK_NORM_OPTION_KEYS);
    const headDim = options.headDim;
    if (typeof headDim !== 'number' || !Number.isInteger(headDim) || headDim < 1) {
      throw new OptionError({ op, expected: 'headDim to be a positive integer', given: `headDim = ${String(headDim)}` });
    }
    const kind = options.kind ?? 'layer';
    if (!QK_NORM_KINDS.includes(kind)) {
      throw new OptionError({ op, expected: `kind to be one of ${QK_NORM_KINDS.map((k) => `'${k}'`).join(', ')}`, given: `kind = ${JSON.stringify(kind)}` });
    }
    this.headDim = headDim;
    this.kind = kind;
    this.eps = checkEps(op, options.eps ?? DEFAULT_EPS[kind]);
    this.dtype = checkDTypeOption(op, options.dtype);
    const affine = options.elementwiseAffine ?? true;
    const dtype = { dtype: this.dtype };
    this.weight = kind !== 'l2' && affine ? this.registerParameter('weight', new Parameter(ones([headDim], dtype))) : null;
    this.bias = kind === 'layer' && affine ? this.registerParameter('bias', new Parameter(zeros([headDim], dtype))) : null;
    if (kind === 'l2') {
      const logitScale = options.logitScale ?? Math.sqrt(headDim);
      if (!(Number.isFinite(logitScale) && logitScale > 0)) {
        throw new OptionError({ op, expected: 'logitScale to be a finite number > 0', given: `logitScale = ${logitScale}` });
      }
      // g = sqrt(headDim) * scale^2 at initialisation.
      this.scale = this.registerParameter('scale', new Parameter(full([], Math.sqrt(logitScale / Math.sqrt(headDim)), dtype)));
    } else {
      if (options.logitScale !== undefined) {
        throw new OptionError({ op, expected: "logitScale only with kind 'l2'", given: `logitScale with kind '${kind}'` });
      }
      this.scale = null;
    }
  }

  override forward(x: Tensor, context?: NormalizerContext): Tensor {
    const op = 'qkNorm';
    const layout = rowLayout('QKNorm.forward', x, [this.headDim], this.dtype);
    // The plugin's traits say acceptsMask: false (each head vector is normalised on its own): refuse one rather than ignore it.
    refuseMask('QKNorm.forward', context, 'each query/key head vector is normalised on its own');
    // eps was checked by the constructor: the trusted kernel paths, not the functional forms that check again.
    if (this.kind === 'layer') return runLayerNorm(x, [this.headDim], layout, { weight: this.weight, bias: this.bias, eps: this.eps, op });
    if (this.kind === 'rms') return runRmsNorm(x, [this.headDim], layout, { weight: this.weight, eps: this.eps, op });
    // x / sqrt(mean(x^2) + eps / D) = sqrt(D) * x / sqrt(|x|^2 + eps): the RMS form, scaled by one scalar.
    const D = this.headDim;
    return normalize(x, {
      op,
      layout: { outer: x.size / D, groups: 1, inner: D },
      acrossOuter: false,
      center: false,
      eps: this.eps / D,
      weight: this.scale,
      affineBlock: D,
    }).output;
  }
}

/**
 * The factory `MultiHeadAttention`'s `qkNorm` option wants: `(headDim) => new QKNorm({ headDim, ...options })`.
 *
 * @example
 * new MultiHeadAttention({ embedDim: 256, numHeads: 8, qkNorm: qkNormFactory({ kind: 'l2' }) });
 */
export function qkNormFactory(options: Omit<QKNormOptions, 'headDim'> = {}): (headDim: number) => QKNorm {
  return (headDim) => new QKNorm({ ...options, headDim });
}
