import {
  ContextError,
  DTypeError,
  Linear,
  Module,
  MultiHeadAttention,
  OptionError,
  ShapeError,
  createByName,
  formatShape,
  gelu,
  get,
  has,
  normalizerTraits,
  relu,
  type Generator,
  type Normalizer,
  type NormalizerChoice,
  type NormalizerName,
  type NormalizerTraits,
  type DType,
  type Tensor, checkDTypeOption, checkOptionKeys,
} from '@normkit/tensor';
import { QKNorm, QK_NORM_KINDS, type QKNormKind, type QKNormOptions } from './qk-norm';
import { Residual, PLACEMENTS, applyNorm, type Placement, type ResidualContext } from './residual';
import { deepNormConstants, deepNormInit, type DeepNormArchitecture, type DeepNormConstants } from './deep-norm';
import { LayerScale } from './layer-scale';
import { isGatedNormalizer } from './ada-ln';

/**
 * A registered normalizer by name, optionally with options for its schema, typed by name
 * (`'rms-norm'`, `{ name: 'layer-norm', options: { eps: 1e-6 } }`); for a name known only at run
 * time, `normalizerChoice(name, options)` checks it and returns this type.
 */
export type NormSpec = NormalizerName | NormalizerChoice;

/** Every key of TransformerBlockOptions (the compiler keeps the list complete): the constructor refuses any other. */
const TRANSFORMER_BLOCK_OPTION_KEYS = Object.keys({
  dim: true, numHeads: true, norm: true, placement: true, deepNorm: true, layerScale: true, embeddingNorm: true, qkNorm: true, condition: true,
  feedforwardDim: true, activation: true, generator: true, dtype: true,
} satisfies Record<keyof TransformerBlockOptions, true>);

export interface TransformerBlockOptions {
  /** Model width D; tokens are [N, L, D]. */
  dim: number;
  numHeads: number;
  /** Any registered normalizer: 'layer-norm', 'rms-norm', 'ada-ln-zero', a third-party plugin ... */
  norm: NormSpec;
  /**
   * 'pre' (Pre-LN), 'post' (Post-LN), 'peri' (Peri-LN / sandwich: a second norm on each sublayer's
   * output), 'output' (output-only: x + norm(f(x))) or 'deepnorm' (DeepNet; needs `deepNorm`).
   */
  placement: Placement;
  /**
   * With placement 'deepnorm': the model the block belongs to (alpha and beta from the paper's
   * formulas, see `deepNormConstants`) or explicit `{ alpha, beta }`.
   */
  deepNorm?: DeepNormArchitecture | DeepNormConstants;
  /** LayerScale on both branches (timm's `ls1`, `ls2`) with this initial value, e.g. 1e-5; default none. */
  layerScale?: number;
  /**
   * Normalise the block's input first (`norm_embed`): Peri-LN's embedding norm, for the first block
   * of a stack only. Default false.
   */
  embeddingNorm?: boolean;
  /** QK-norm inside attention: a kind, or QKNorm options without headDim. */
  qkNorm?: QKNormKind | Omit<QKNormOptions, 'headDim'>;
  /** Conditioning: the width of the condition vector, for normalizers that need one (AdaLN, adaLN-Zero). */
  condition?: { dim: number };
  /** Hidden width of the MLP (default 4 * dim). */
  feedforwardDim?: number;
  /** MLP activation (default 'gelu', exact). */
  activation?: 'gelu' | 'relu';
  /** Drives the initialisation of attention and MLP weights. */
  generator?: Generator;
  /**
   * Dtype of every parameter and buffer (default 'float32', as PyTorch): attention, MLP, LayerScale,
   * QK-norm and the normalizers (given to a normalizer whose schema has a `dtype` option; a norm
   * option naming another dtype is refused). Inputs and conditions must have this dtype.
   */
  dtype?: DType;
}

export interface TransformerBlockContext {
  /** [N, L]: 1 for a real token, 0 for padding; masks attention keys and the statistics of normalizers that span tokens. */
  mask?: Tensor;
  causal?: boolean;
  /** [N, condition.dim], for conditional normalizers. */
  condition?: Tensor;
}

function resolveNorm(spec: NormSpec): { name: string; options: Readonly<Record<string, unknown>> } {
  // Plain JavaScript may pass anything: the registry names what it got.
  const given = spec as string | { name?: unknown; options?: Readonly<Record<string, unknown>> } | undefined;
  if (typeof given === 'string') return { name: given, options: {} };
  return { name: given?.name as string, options: given?.options ?? {} };
}

/**
 * The norm choice with the block's dtype: added for a normalizer whose options schema has `dtype`,
 * refused when the choice names another one (every parameter and buffer of the block shares one dtype).
 */
function withDType(op: string, norm: { name: string; options: Readonly<Record<string, unknown>> }, dtype: DType): { name: string; options: Readonly<Record<string, unknown>> } {
  const given = norm.options.dtype;
  if (given !== undefined && given !== dtype) {
    throw new OptionError({ op, expected: `norm options without a dtype or with the block's dtype '${dtype}'`, given: `norm "${norm.name}" with dtype = ${JSON.stringify(given)}` });
  }
  // An unknown name is left for normalizerTraits to refuse with the registry's message.
  const schema: Readonly<Record<string, unknown>> = typeof norm.name === 'string' && has(norm.name) ? get(norm.name, 'normalizer').options : {};
  return 'dtype' in schema ? { name: norm.name, options: { ...norm.options, dtype } } : norm;
}

/** `{ alpha, beta }` as given, or from the paper's formulas; checked. */
function resolveDeepNorm(op: string, spec: DeepNormArchitecture | DeepNormConstants): DeepNormConstants {
  if (typeof spec === 'object' && spec !== null && 'alpha' in spec) {
    for (const key of ['alpha', 'beta'] as const) {
      const value = spec[key];
      if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
        throw new OptionError({ op, expected: `deepNorm.${key} to be a finite number > 0`, given: `deepNorm.${key} = ${String(value)}` });
      }
    }
    return { alpha: spec.alpha, beta: spec.beta };
  }
  return deepNormConstants(spec);
}

/**
 * The Transformer block of the project (Vaswani et al., 2017), attention then MLP, each inside a
 * `Residual` with a normalizer from the registry, so the architecture choices are single options:
 *
 *   pre:      x = x + Attn(norm1(x));  x = x + MLP(norm2(x))        (GPT-2, ViT, Llama)
 *   post:     x = norm1(x + Attn(x));  x = norm2(x + MLP(x))        (the original Transformer, BERT)
 *   peri:     x = x + norm1_post(Attn(norm1(x)));  x = x + norm2_post(MLP(norm2(x)))   (Peri-LN, Gemma)
 *   output:   x = x + norm1(Attn(x));  x = x + norm2(MLP(x))        (OLMo 2, Swin V2)
 *   deepnorm: x = norm1(alpha x + Attn(x));  x = norm2(alpha x + MLP(x)), with the MLP, value and
 *             output projections initialised Xavier-normal with gain beta (query and key gain 1)
 *             (DeepNet; `deepNorm` gives the architecture and depth, or alpha and beta)
 *
 * `layerScale: 1e-5` adds timm's LayerScale (`ls1`, `ls2`) on both branches; `embeddingNorm: true`
 * normalises the block's input first (`norm_embed`, Peri-LN's embedding norm, first block only).
 *
 * `norm` names any registered normalizer (`create(name, { numFeatures: dim, normalizedShape: [dim],
 * conditionDim }, options)`), so LayerNorm vs RMSNorm vs a third-party norm is one option. The block
 * works on tokens [N, L, D]: a plugin whose traits say `layout: 'channels-first'` (BatchNorm-style,
 * expecting [N, C, L]) gets them transposed to [N, D, L] and its output transposed back, so it
 * normalises each feature over the batch and the sequence. The [N, L] mask masks attention keys,
 * and goes to normalizers that accept masks and whose statistics span tokens (batch-dependent or
 * channels-first), where padding would otherwise leak into the statistics; per-token normalizers
 * (LayerNorm, RMSNorm) do not need it and leave padded tokens as PyTorch computes them. With norm 'ada-ln-zero' and
 * `condition`, the block is DiT's adaLN-Zero block: both residuals gated, exactly the identity
 * at initialisation. `qkNorm` adds QK-norm to attention.
 *
 * Children carry `nn.TransformerEncoderLayer`'s names: `self_attn` (load PyTorch weights through
 * `fromTorchAttentionStateDict`), `linear1`, `linear2`, `norm1`, `norm2`; PyTorch's `norm_first`
 * is placement 'pre' (its default activation is relu: pass `activation: 'relu'`).
 *
 * @example
 * registerAll(layerPlugins);
 * const block = new TransformerBlock({ dim: 64, numHeads: 4, norm: 'rms-norm', placement: 'pre', qkNorm: 'rms' });
 * const y = block.forward(tokens, { mask, causal: true }); // tokens [N, L, 64]
 */
export class TransformerBlock extends Module {
  readonly dim: number;
  readonly numHeads: number;
  readonly placement: Placement;
  readonly normName: string;
  readonly normTraits: NormalizerTraits;
  /** Width of the condition vector, when the block has one. */
  readonly conditionDim: number | null;
  readonly selfAttn: MultiHeadAttention;
  readonly linear1: Linear;
  readonly linear2: Linear;
  readonly norm1: Normalizer;
  readonly norm2: Normalizer;
  /** 'peri': the normalizers on the attention and MLP outputs (`norm1_post`, `norm2_post`), else null. */
  readonly norm1Post: Normalizer | null = null;
  readonly norm2Post: Normalizer | null = null;
  /** The embedding norm (`norm_embed`), or null. */
  readonly normEmbed: Normalizer | null;
  /** LayerScale on the attention and MLP branches (`ls1`, `ls2`), or undefined. */
  readonly ls1: LayerScale | undefined;
  readonly ls2: LayerScale | undefined;
  /** 'deepnorm': the alpha and beta in use, else null. */
  readonly deepNorm: DeepNormConstants | null;
  readonly activation: 'gelu' | 'relu';
  /** Dtype of every parameter and buffer. */
  readonly dtype: DType;
  private readonly attentionBlock: Residual;
  private readonly feedforwardBlock: Residual;

  constructor(options: TransformerBlockOptions) {
    super();
    const op = 'TransformerBlock';
    checkOptionKeys(op, options, TRANSFORMER_BLOCK_OPTION_KEYS);
    const { dim, numHeads } = options;
    for (const [name, value] of [['dim', dim], ['numHeads', numHeads]] as const) {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
        throw new OptionError({ op, expected: `${name} to be a positive integer`, given: `${name} = ${String(value)}` });
      }
    }
    if (!PLACEMENTS.includes(options.placement)) {
      throw new OptionError({ op, expected: `placement ${PLACEMENTS.map((p) => `'${p}'`).join(', ')}`, given: `placement = ${JSON.stringify(options.placement)}` });
    }
    if ((options.placement === 'deepnorm') !== (options.deepNorm !== undefined)) {
      throw new OptionError(
        options.placement === 'deepnorm'
          ? { op, expected: "deepNorm ({ architecture, layers } or { alpha, beta }) with placement 'deepnorm'", given: 'no deepNorm option' }
          : { op, expected: "deepNorm only with placement 'deepnorm'", given: `deepNorm with placement '${options.placement}'` },
      );
    }
    const deepNorm = options.deepNorm === undefined ? null : resolveDeepNorm(op, options.deepNorm);
    if (options.layerScale !== undefined && (typeof options.layerScale !== 'number' || !Number.isFinite(options.layerScale))) {
      throw new OptionError({ op, expected: 'layerScale to be a finite number (the initial value of gamma)', given: `layerScale = ${String(options.layerScale)}` });
    }
    if (options.embeddingNorm !== undefined && typeof options.embeddingNorm !== 'boolean') {
      throw new OptionError({ op, expected: 'embeddingNorm to be true or false', given: `embeddingNorm = ${String(options.embeddingNorm)}` });
    }
    const activation = options.activation ?? 'gelu';
    if (activation !== 'gelu' && activation !== 'relu') {
      throw new OptionError({ op, expected: "activation 'gelu' or 'relu'", given: `activation = ${JSON.stringify(activation)}` });
    }
    const feedforwardDim = options.feedforwardDim ?? 4 * dim;
    const dtype = checkDTypeOption(op, options.dtype);
    this.dtype = dtype;
    this.dim = dim;
    this.numHeads = numHeads;
    this.placement = options.placement;
    this.activation = activation;

    const norm = withDType(op, resolveNorm(options.norm), dtype);
    this.normTraits = normalizerTraits(norm.name, norm.options, { op: `${op}: norm` });
    this.normName = norm.name;
    if (this.normTraits.needsLabels) {
      throw new OptionError({ op, expected: 'a normalizer that needs no class labels (the block has none to give)', given: `norm "${norm.name}"` });
    }
    const conditionDim = options.condition?.dim;
    if (this.normTraits.needsCondition && conditionDim === undefined) {
      throw new OptionError({ op, expected: `condition: { dim } for norm "${norm.name}", which needs a condition`, given: 'no condition option' });
    }
    this.conditionDim = conditionDim ?? null;
    const slot = { numFeatures: dim, normalizedShape: [dim], ...(conditionDim !== undefined ? { conditionDim } : {}) };

    const qkNorm = options.qkNorm;
    let qkNormFactory: ((headDim: number) => QKNorm) | undefined;
    if (qkNorm !== undefined) {
      const qkOptions = typeof qkNorm === 'string' ? { kind: qkNorm } : qkNorm;
      if (typeof qkNorm === 'string' && !QK_NORM_KINDS.includes(qkNorm)) {
        throw new OptionError({ op, expected: `qkNorm to be one of ${QK_NORM_KINDS.map((k) => `'${k}'`).join(', ')} or QKNorm options`, given: `qkNorm = ${JSON.stringify(qkNorm)}` });
      }
      if (qkOptions.dtype !== undefined && qkOptions.dtype !== dtype) {
        throw new OptionError({ op, expected: `qkNorm without a dtype or with the block's dtype '${dtype}'`, given: `qkNorm dtype = ${JSON.stringify(qkOptions.dtype)}` });
      }
      qkNormFactory = (headDim) => new QKNorm({ ...qkOptions, headDim, dtype });
    }

    this.selfAttn = this.registerModule('self_attn', new MultiHeadAttention({ embedDim: dim, numHeads, qkNorm: qkNormFactory, generator: options.generator, dtype }));
    this.linear1 = this.registerModule('linear1', new Linear({ inFeatures: dim, outFeatures: feedforwardDim, generator: options.generator, dtype }));
    this.linear2 = this.registerModule('linear2', new Linear({ inFeatures: feedforwardDim, outFeatures: dim, generator: options.generator, dtype }));
    const makeNorm = (): Normalizer => createByName(norm.name, slot, norm.options, { op: `${op}: norm` });
    this.norm1 = this.registerModule('norm1', makeNorm());
    this.norm2 = this.registerModule('norm2', makeNorm());

    if (this.placement === 'peri') {
      this.norm1Post = this.registerModule('norm1_post', makeNorm());
      this.norm2Post = this.registerModule('norm2_post', makeNorm());
    }
    this.normEmbed = options.embeddingNorm ? this.registerModule('norm_embed', makeNorm()) : null;
    const layerScale = (): LayerScale | undefined => (options.layerScale === undefined ? undefined : new LayerScale({ dim, initValues: options.layerScale, dtype }));
    this.ls1 = layerScale();
    this.ls2 = layerScale();
    if (deepNorm) deepNormInit({ attention: this.selfAttn, feedforward: [this.linear1, this.linear2] }, deepNorm.beta, options.generator);
    this.deepNorm = deepNorm;

    const gate = isGatedNormalizer(this.norm1);
    // The mask matters to normalizers whose statistics span tokens (batch-dependent or channels-first).
    // Per-token ones compute each real token alike with or without it; without it they leave padded
    // tokens exactly as PyTorch computes them.
    const traits = this.normTraits;
    const spansTokens = traits.batchDependent || traits.layout === 'channels-first';
    const residualOptions = {
      placement: this.placement,
      gate,
      layout: traits.layout,
      acceptsMask: traits.acceptsMask && spansTokens,
      ...(deepNorm ? { alpha: deepNorm.alpha } : {}),
    };
    // The residual wrappers stay unregistered: their norm and sublayer modules are registered above
    // under PyTorch's names.
    this.attentionBlock = new Residual((x, context) => this.selfAttn.forward(x, { mask: context.mask, causal: context.causal }), {
      ...residualOptions,
      norm: this.norm1,
      ...(this.norm1Post ? { outputNorm: this.norm1Post } : {}),
      ...(this.ls1 ? { layerScale: this.ls1 } : {}),
    });
    this.feedforwardBlock = new Residual((x) => this.feedforward(x), {
      ...residualOptions,
      norm: this.norm2,
      ...(this.norm2Post ? { outputNorm: this.norm2Post } : {}),
      ...(this.ls2 ? { layerScale: this.ls2 } : {}),
    });
    // Registered under timm's names after the residuals checked them.
    if (this.ls1 && this.ls2) {
      this.registerModule('ls1', this.ls1);
      this.registerModule('ls2', this.ls2);
    }
    // A normalizer without a dtype option builds its own: refuse one that does not follow the block's.
    // Batch counters (num_batches_tracked) are float64 in every dtype, as PyTorch keeps them int64.
    for (const [name, t] of [...this.namedParameters(), ...this.namedBuffers()]) {
      if (t.dtype !== dtype && !name.endsWith('num_batches_tracked')) {
        throw new OptionError({ op, expected: `a norm whose parameters and buffers follow the block's dtype '${dtype}'`, given: `norm "${norm.name}" with ${name} in ${t.dtype}` });
      }
    }
  }

  /** linear2(activation(linear1(x))). */
  feedforward(x: Tensor): Tensor {
    const hidden = this.linear1.forward(x);
    return this.linear2.forward(this.activation === 'gelu' ? gelu(hidden) : relu(hidden));
  }

  override forward(x: Tensor, context: TransformerBlockContext = {}): Tensor {
    if (x.ndim !== 3 || x.shape[2] !== this.dim) {
      throw new ShapeError({ op: 'TransformerBlock.forward', expected: `tokens of shape [N, L, ${this.dim}] (dim = ${this.dim})`, given: formatShape(x.shape) });
    }
    for (const [name, t] of [['tokens', x], ['condition', context.condition]] as const) {
      if (t && t.dtype !== this.dtype) {
        throw new DTypeError({ op: 'TransformerBlock.forward', expected: `${name} in the block's dtype ${this.dtype}`, given: `${name} in ${t.dtype}` });
      }
    }
    if (this.normTraits.needsCondition && !context.condition) {
      throw new ContextError({
        op: 'TransformerBlock.forward',
        expected: `a condition [N, ${this.conditionDim}] for norm "${this.normName}": forward(x, { condition })`,
        given: 'no condition',
      });
    }
    const residualContext: ResidualContext = { ...context };
    const normContext: ResidualContext = { ...context };
    if (!this.feedforwardBlock.acceptsMask) delete normContext.mask;
    const input = this.normEmbed ? applyNorm(this.normEmbed, x, normContext, this.normTraits.layout) : x;
    return this.feedforwardBlock.forward(this.attentionBlock.forward(input, residualContext), residualContext);
  }
}
