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
  type TensorModule, checkOptionKeys,
} from '@normkit/tensor';
import { broadcastOverTokens, isGatedNormalizer, type GatedModulation, type GatedNormalizer } from './ada-ln';
import { LayerScale } from './layer-scale';

/** What a residual block's forward receives: the normalizer's context plus attention's causal flag. */
export interface ResidualContext extends NormalizerContext {
  /** Causal self-attention (for sublayers that attend). */
  causal?: boolean;
}

/** The wrapped function f: a one-tensor module, or a function that also reads the context (mask, causal). */
export type Sublayer = TensorModule | ((x: Tensor, context: ResidualContext) => Tensor);

/** Where the normalizer sits around the sublayer f; see `Residual`. */
export type Placement = 'pre' | 'post' | 'peri' | 'output' | 'deepnorm';

/** Every placement, in the order the docs list them. */
export const PLACEMENTS: readonly Placement[] = ['pre', 'post', 'peri', 'output', 'deepnorm'];

/** Every key of ResidualOptions (the compiler keeps the list complete): the constructor refuses any other. */
const RESIDUAL_OPTION_KEYS = Object.keys({
  norm: true, placement: true, outputNorm: true, alpha: true, layerScale: true, gate: true, layout: true, acceptsMask: true,
} satisfies Record<keyof ResidualOptions, true>);

export interface ResidualOptions {
  /** The normalizer (any `Normalizer`: LayerNorm, RMSNorm, AdaLN, a registry plugin ...). */
  norm: Normalizer;
  /**
   * 'pre': x + f(norm(x)) (GPT-2, Llama, ViT); 'post': norm(x + f(x)) (the original Transformer,
   * BERT); 'peri': x + outputNorm(f(norm(x))) (Peri-LN / sandwich); 'output': x + norm(f(x)) (OLMo 2,
   * Swin V2's res-post-norm); 'deepnorm': norm(alpha * x + f(x)) (DeepNet).
   */
  placement: Placement;
  /** 'peri' only: the normalizer on f's output (the input one is `norm`). */
  outputNorm?: Normalizer;
  /** 'deepnorm' only: the skip-path scale alpha (> 0); `deepNormConstants` gives the paper's values. */
  alpha?: number;
  /** A LayerScale on the branch, applied just before it joins the skip path: x + ls(branch). Registered as `layer_scale`. */
  layerScale?: LayerScale;
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

/** Applies `norm` to tokens [N, ..., D], transposing for channels-first normalizers (internal to the package). */
export function applyNorm(norm: Normalizer, x: Tensor, context: NormalizerContext, layout: 'channels-first' | 'channels-last'): Tensor {
  if (layout === 'channels-last' || x.ndim < 3) return norm.forward(x, context);
  // [N, L..., D] -> [N, D, L...] and back: the feature dim becomes the channel dim.
  const last = x.ndim - 1;
  const toChannelsFirst = [0, last, ...Array.from({ length: last - 1 }, (_, i) => i + 1)];
  const toChannelsLast = [0, ...Array.from({ length: last - 1 }, (_, i) => i + 2), 1];
  return permute(norm.forward(permute(x, toChannelsFirst), context), toChannelsLast);
}

/**
 * A residual connection around a sublayer f with normalizers placed around it (Xiong et al.,
 * 2020, "On Layer Normalization in the Transformer Architecture", for pre and post):
 *
 *   pre:      y = x + f(norm(x))        (Pre-LN: the residual stream is never normalised, so
 *                                        gradients reach early layers undiminished; trains without warm-up)
 *   post:     y = norm(x + f(x))        (Post-LN: the original Transformer; needs learning-rate warm-up)
 *   peri:     y = x + outputNorm(f(norm(x)))   (Peri-LN / sandwich: CogView, Gemma 2 and 3, Kim et al.
 *                                        2025, "Peri-LN"; bounds what each block adds to the stream)
 *   output:   y = x + norm(f(x))        (output-only: OLMo 2, Swin V2's res-post-norm)
 *   deepnorm: y = norm(alpha * x + f(x))   (DeepNorm, Wang et al. 2022, "DeepNet": Post-LN with the
 *                                        skip scaled by alpha > 1 and a beta-scaled init of f, see
 *                                        `deepNormConstants`; TransformerBlock applies that init)
 *
 * `layerScale` (a `LayerScale`, Touvron et al. 2021) scales the branch just before it joins the
 * skip: pre x + ls(f(norm(x))), peri x + ls(outputNorm(f(norm(x)))), output x + ls(norm(f(x))),
 * post norm(x + ls(f(x))), deepnorm norm(alpha * x + ls(f(x))).
 *
 * With `gate: true` (adaLN-Zero, DiT): y = x + gate(c) * f(modulate(LN(x), shift(c), scale(c)))
 * for pre, norm(x + gate(c) * f(x)) with the same modulation for post; the gate starts at zero,
 * so a pre block is exactly the identity at initialisation.
 *
 * The residual registers `norm`, `output_norm`, `layer_scale` and (when it is a module) `sublayer` as children.
 *
 * @example
 * const block = residual(new Linear({ inFeatures: 64, outFeatures: 64 }), { norm: new RMSNorm({ normalizedShape: 64 }), placement: 'pre' });
 * const y = block.forward(tokens); // tokens + linear(rmsNorm(tokens))
 */
export class Residual extends Module {
  readonly norm: Normalizer;
  /** The normalizer on f's output ('peri'), or null. */
  readonly outputNorm: Normalizer | null;
  readonly sublayer: Sublayer;
  readonly placement: Placement;
  /** The skip-path scale ('deepnorm'; 1 otherwise). */
  readonly alpha: number;
  readonly layerScale: LayerScale | null;
  readonly gate: boolean;
  readonly layout: 'channels-first' | 'channels-last';
  readonly acceptsMask: boolean;

  constructor(sublayer: Sublayer, options: ResidualOptions) {
    super();
    const op = 'residual';
    checkOptionKeys(op, options, RESIDUAL_OPTION_KEYS);
    if (!PLACEMENTS.includes(options.placement)) {
      throw new OptionError({ op, expected: `placement ${PLACEMENTS.map((p) => `'${p}'`).join(', ')}`, given: `placement = ${JSON.stringify(options.placement)}` });
    }
    const placement = options.placement;
    if ((placement === 'peri') !== (options.outputNorm !== undefined)) {
      throw new OptionError(
        placement === 'peri'
          ? { op, expected: "outputNorm (the normalizer on f's output) with placement 'peri'", given: 'no outputNorm' }
          : { op, expected: "outputNorm only with placement 'peri'", given: `outputNorm with placement '${placement}'` },
      );
    }
    if (placement === 'deepnorm') {
      if (typeof options.alpha !== 'number' || !Number.isFinite(options.alpha) || options.alpha <= 0) {
        throw new OptionError({ op, expected: "alpha, a finite number > 0, with placement 'deepnorm' (see deepNormConstants)", given: `alpha = ${String(options.alpha)}` });
      }
    } else if (options.alpha !== undefined) {
      throw new OptionError({ op, expected: "alpha only with placement 'deepnorm'", given: `alpha = ${String(options.alpha)} with placement '${placement}'` });
    }
    if (options.layerScale !== undefined && !(options.layerScale instanceof LayerScale)) {
      throw new OptionError({ op, expected: 'layerScale to be a LayerScale module', given: String(options.layerScale) });
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
    if (this.gate && placement !== 'pre' && placement !== 'post') {
      throw new OptionError({ op, expected: "placement 'pre' or 'post' with gate: true (adaLN-Zero)", given: `placement '${placement}'` });
    }
    if (this.gate && layout === 'channels-first') {
      throw new OptionError({ op, expected: 'a channels-last normalizer with gate: true', given: "layout 'channels-first'" });
    }
    this.norm = this.registerModule('norm', options.norm);
    this.outputNorm = options.outputNorm ? this.registerModule('output_norm', options.outputNorm) : null;
    this.sublayer = sublayer;
    if (sublayer instanceof Module) this.registerModule('sublayer', sublayer);
    this.layerScale = options.layerScale ? this.registerModule('layer_scale', options.layerScale) : null;
    this.alpha = placement === 'deepnorm' ? options.alpha! : 1;
    this.placement = placement;
    this.layout = layout;
    this.acceptsMask = options.acceptsMask ?? true;
  }

  private callSublayer(x: Tensor, context: ResidualContext): Tensor {
    return typeof this.sublayer === 'function' ? this.sublayer(x, context) : this.sublayer.forward(x);
  }

  /** The branch as it joins the skip path: through the LayerScale, when there is one. */
  private scaled(branch: Tensor): Tensor {
    return this.layerScale ? this.layerScale.forward(branch) : branch;
  }

  override forward(x: Tensor, context: ResidualContext = {}): Tensor {
    const normContext: NormalizerContext = { ...context };
    if (!this.acceptsMask) delete normContext.mask;
    const norm = (h: Tensor, which: Normalizer = this.norm): Tensor => applyNorm(which, h, normContext, this.layout);
    if (!this.gate) {
      switch (this.placement) {
        case 'pre':
          return add(x, this.scaled(this.callSublayer(norm(x), context)));
        case 'post':
          return norm(add(x, this.scaled(this.callSublayer(x, context))));
        case 'peri':
          return add(x, this.scaled(norm(this.callSublayer(norm(x), context), this.outputNorm!)));
        case 'output':
          return add(x, this.scaled(norm(this.callSublayer(x, context))));
        case 'deepnorm':
          return norm(add(mul(x, this.alpha), this.scaled(this.callSublayer(x, context))));
      }
    }
    return this.gatedForward(x, context, normContext);
  }

  /** adaLN-Zero: pre x + gate * f(modulated LN(x)), post modulated LN(x + gate * f(x)). */
  private gatedForward(x: Tensor, context: ResidualContext, normContext: NormalizerContext): Tensor {
    const norm = this.norm as GatedNormalizer;
    if (!context.condition) {
      throw new ContextError({ op: 'residual.forward', expected: 'a condition in the context with gate: true: forward(x, { condition })', given: 'no condition' });
    }
    const modulation: GatedModulation = norm.modulation(context.condition);
    const gate = broadcastOverTokens(modulation.gate, x.ndim);
    if (this.placement === 'pre') return add(x, mul(gate, this.scaled(this.callSublayer(norm.normalizeWith(x, modulation, normContext), context))));
    return norm.normalizeWith(add(x, mul(gate, this.scaled(this.callSublayer(x, context)))), modulation, normContext);
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
