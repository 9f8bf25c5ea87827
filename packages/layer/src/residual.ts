import {
  ContextError,
  Module,
  OptionError,
  add,
  mul,
  permute,
  type Normalizer,
  type NormalizerContext,
  type Tensor,
  type TensorModule,
} from '@normkit/tensor';
import { broadcastOverTokens, isGatedNormalizer, type GatedModulation, type GatedNormalizer } from './ada-ln';

/** What a residual block's forward receives: the normalizer's context plus attention's causal flag. */
export interface ResidualContext extends NormalizerContext {
  /** Causal self-attention (for sublayers that attend). */
  causal?: boolean;
}

/** The wrapped function f: a one-tensor module, or a function that also reads the context (mask, causal). */
export type Sublayer = TensorModule | ((x: Tensor, context: ResidualContext) => Tensor);

export type Placement = 'pre' | 'post';

export interface ResidualOptions {
  /** The normalizer (any `Normalizer`: LayerNorm, RMSNorm, AdaLN, a registry plugin ...). */
  norm: Normalizer;
  /** 'pre': x + f(norm(x)) (GPT-2, Llama, ViT); 'post': norm(x + f(x)) (the original Transformer, BERT). */
  placement: Placement;
  /**
   * adaLN-Zero gating: x + gate(c) * f(norm(x; c)). Needs a gated normalizer (`AdaLNZero`, plugin
   * 'ada-ln-zero') and a condition at forward. Default false.
   */
  gate?: boolean;
  /**
   * How the normalizer wants its input: 'channels-last' (default) sees the tokens [N, L, D] as
   * they are; 'channels-first' (BatchNorm-style [N, C, L]) gets them transposed to [N, D, L] and
   * its output transposed back. `TransformerBlock` fills this from the plugin's traits.
   */
  layout?: 'channels-first' | 'channels-last';
  /** Hand `context.mask` to the normalizer (default true; false for normalizers that take none). */
  acceptsMask?: boolean;
}

/** Applies `norm` to tokens [N, ..., D], transposing for channels-first normalizers. */
function applyNorm(norm: Normalizer, x: Tensor, context: NormalizerContext, layout: 'channels-first' | 'channels-last'): Tensor {
  if (layout === 'channels-last' || x.ndim < 3) return norm.forward(x, context);
  // [N, L..., D] -> [N, D, L...] and back: the feature dim becomes the channel dim.
  const last = x.ndim - 1;
  const toChannelsFirst = [0, last, ...Array.from({ length: last - 1 }, (_, i) => i + 1)];
  const toChannelsLast = [0, ...Array.from({ length: last - 1 }, (_, i) => i + 2), 1];
  return permute(norm.forward(permute(x, toChannelsFirst), context), toChannelsLast);
}

/**
 * A residual connection around a sublayer f with a normalizer on one side of it (Xiong et al.,
 * 2020, "On Layer Normalization in the Transformer Architecture"):
 *
 *   pre:  y = x + f(norm(x))        (Pre-LN: the residual stream is never normalised, so
 *                                    gradients reach early layers undiminished; trains without warm-up)
 *   post: y = norm(x + f(x))        (Post-LN: the original Transformer; needs learning-rate warm-up)
 *
 * With `gate: true` (adaLN-Zero, DiT): y = x + gate(c) * f(modulate(LN(x), shift(c), scale(c)))
 * for pre, norm(x + gate(c) * f(x)) with the same modulation for post; the gate starts at zero,
 * so a pre block is exactly the identity at initialisation.
 *
 * The residual registers `norm` and (when it is a module) `sublayer` as children.
 *
 * @example
 * const block = residual(new Linear({ inFeatures: 64, outFeatures: 64 }), { norm: new RMSNorm({ normalizedShape: 64 }), placement: 'pre' });
 * const y = block.forward(tokens); // tokens + linear(rmsNorm(tokens))
 */
export class Residual extends Module {
  readonly norm: Normalizer;
  readonly sublayer: Sublayer;
  readonly placement: Placement;
  readonly gate: boolean;
  readonly layout: 'channels-first' | 'channels-last';
  readonly acceptsMask: boolean;

  constructor(sublayer: Sublayer, options: ResidualOptions) {
    super();
    const op = 'residual';
    if (options.placement !== 'pre' && options.placement !== 'post') {
      throw new OptionError({ op, expected: "placement 'pre' or 'post'", given: `placement = ${JSON.stringify(options.placement)}` });
    }
    const layout = options.layout ?? 'channels-last';
    if (layout !== 'channels-first' && layout !== 'channels-last') {
      throw new OptionError({ op, expected: "layout 'channels-first' or 'channels-last'", given: `layout = ${JSON.stringify(layout)}` });
    }
    this.gate = options.gate ?? false;
    if (this.gate && !isGatedNormalizer(options.norm)) {
      throw new OptionError({
        op,
        expected: "a gated normalizer with gate: true (AdaLNZero, plugin 'ada-ln-zero'), whose modulation predicts the gate",
        given: `a ${options.norm.constructor.name}`,
      });
    }
    if (this.gate && layout === 'channels-first') {
      throw new OptionError({ op, expected: 'a channels-last normalizer with gate: true', given: "layout 'channels-first'" });
    }
    this.norm = this.registerModule('norm', options.norm);
    this.sublayer = sublayer;
    if (sublayer instanceof Module) this.registerModule('sublayer', sublayer);
    this.placement = options.placement;
    this.layout = layout;
    this.acceptsMask = options.acceptsMask ?? true;
  }

  private callSublayer(x: Tensor, context: ResidualContext): Tensor {
    return typeof this.sublayer === 'function' ? this.sublayer(x, context) : this.sublayer.forward(x);
  }

  override forward(x: Tensor, context: ResidualContext = {}): Tensor {
    const normContext: NormalizerContext = { ...context };
    if (!this.acceptsMask) delete normContext.mask;
    if (!this.gate) {
      if (this.placement === 'pre') return add(x, this.callSublayer(applyNorm(this.norm, x, normContext, this.layout), context));
      return applyNorm(this.norm, add(x, this.callSublayer(x, context)), normContext, this.layout);
    }
    const norm = this.norm as GatedNormalizer;
    if (!context.condition) {
      throw new ContextError({ op: 'residual.forward', expected: 'a condition in the context with gate: true: forward(x, { condition })', given: 'no condition' });
    }
    const modulation: GatedModulation = norm.modulation(context.condition);
    const gate = broadcastOverTokens(modulation.gate, x.ndim);
    if (this.placement === 'pre') return add(x, mul(gate, this.callSublayer(norm.normalizeWith(x, modulation, normContext), context)));
    return norm.normalizeWith(add(x, mul(gate, this.callSublayer(x, context))), modulation, normContext);
  }
}

/**
 * `new Residual(sublayer, options)`: wraps f with a normalizer, Pre-LN or Post-LN, optionally
 * adaLN-Zero gated. See `Residual`.
 *
 * @example
 * const attentionBlock = residual((x, ctx) => attention.forward(x, { mask: ctx.mask }), { norm: new LayerNorm({ normalizedShape: 64 }), placement: 'post' });
 */
export function residual(sublayer: Sublayer, options: ResidualOptions): Residual {
  return new Residual(sublayer, options);
}
