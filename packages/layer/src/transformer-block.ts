import {
  ContextError,
  Linear,
  Module,
  MultiHeadAttention,
  OptionError,
  RegistryError,
  ShapeError,
  create,
  formatShape,
  gelu,
  get,
  getNormalizer,
  has,
  list,
  relu,
  resolveOptions,
  type Generator,
  type Normalizer,
  type NormalizerTraits,
  type Tensor,
} from '@normkit/tensor';
import { QKNorm, QK_NORM_KINDS, type QKNormKind, type QKNormOptions } from './qk-norm';
import { Residual, type Placement, type ResidualContext } from './residual';
import { isGatedNormalizer } from './ada-ln';

/** A registered normalizer by name, optionally with options for its schema. */
export type NormSpec = string | { name: string; options?: Record<string, unknown> };

export interface TransformerBlockOptions {
  /** Model width D; tokens are [N, L, D]. */
  dim: number;
  numHeads: number;
  /** Any registered normalizer: 'layer-norm', 'rms-norm', 'ada-ln-zero', a third-party plugin ... */
  norm: NormSpec;
  /** 'pre' (Pre-LN) or 'post' (Post-LN). */
  placement: Placement;
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
}

export interface TransformerBlockContext {
  /** [N, L]: 1 for a real token, 0 for padding; masks attention keys and the statistics of normalizers that span tokens. */
  mask?: Tensor;
  causal?: boolean;
  /** [N, condition.dim], for conditional normalizers. */
  condition?: Tensor;
}

function resolveNorm(op: string, spec: NormSpec): { name: string; options: Record<string, unknown> } {
  const name = typeof spec === 'string' ? spec : spec?.name;
  const options = typeof spec === 'string' ? {} : (spec?.options ?? {});
  if (typeof name !== 'string' || !has(name) || get(name).kind !== 'normalizer') {
    const known = list({ kind: 'normalizer' }).map((p) => p.name);
    throw new RegistryError({
      op,
      expected: `norm to be a registered normalizer name (${known.length ? `known: ${known.join(', ')}` : 'none are registered: call registerAll(layerPlugins)'})`,
      given: JSON.stringify(name),
    });
  }
  return { name, options };
}

/**
 * The Transformer block of the project (Vaswani et al., 2017), attention then MLP, each inside a
 * `Residual` with a normalizer from the registry, so the architecture choices are single options:
 *
 *   pre:  x = x + Attn(norm1(x));  x = x + MLP(norm2(x))        (GPT-2, ViT, Llama)
 *   post: x = norm1(x + Attn(x));  x = norm2(x + MLP(x))        (the original Transformer, BERT)
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
  readonly activation: 'gelu' | 'relu';
  private readonly attentionBlock: Residual;
  private readonly feedforwardBlock: Residual;

  constructor(options: TransformerBlockOptions) {
    super();
    const op = 'TransformerBlock';
    const { dim, numHeads } = options;
    for (const [name, value] of [['dim', dim], ['numHeads', numHeads]] as const) {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
        throw new OptionError({ op, expected: `${name} to be a positive integer`, given: `${name} = ${String(value)}` });
      }
    }
    if (options.placement !== 'pre' && options.placement !== 'post') {
      throw new OptionError({ op, expected: "placement 'pre' or 'post'", given: `placement = ${JSON.stringify(options.placement)}` });
    }
    const activation = options.activation ?? 'gelu';
    if (activation !== 'gelu' && activation !== 'relu') {
      throw new OptionError({ op, expected: "activation 'gelu' or 'relu'", given: `activation = ${JSON.stringify(activation)}` });
    }
    const feedforwardDim = options.feedforwardDim ?? 4 * dim;
    this.dim = dim;
    this.numHeads = numHeads;
    this.placement = options.placement;
    this.activation = activation;

    const norm = resolveNorm(op, options.norm);
    const plugin = getNormalizer(norm.name);
    this.normName = norm.name;
    this.normTraits = plugin.traits(resolveOptions(plugin.name, plugin.options, norm.options));
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
      qkNormFactory = (headDim) => new QKNorm({ ...qkOptions, headDim });
    }

    this.selfAttn = this.registerModule('self_attn', new MultiHeadAttention({ embedDim: dim, numHeads, qkNorm: qkNormFactory, generator: options.generator }));
    this.linear1 = this.registerModule('linear1', new Linear({ inFeatures: dim, outFeatures: feedforwardDim, generator: options.generator }));
    this.linear2 = this.registerModule('linear2', new Linear({ inFeatures: feedforwardDim, outFeatures: dim, generator: options.generator }));
    this.norm1 = this.registerModule('norm1', create(norm.name, slot, norm.options));
    this.norm2 = this.registerModule('norm2', create(norm.name, slot, norm.options));

    const gate = isGatedNormalizer(this.norm1);
    // The mask matters to normalizers whose statistics span tokens (batch-dependent or channels-first).
    // Per-token ones compute each real token alike with or without it; without it they leave padded
    // tokens exactly as PyTorch computes them.
    const traits = this.normTraits;
    const spansTokens = traits.batchDependent || traits.layout === 'channels-first';
    const residualOptions = { placement: this.placement, gate, layout: traits.layout, acceptsMask: traits.acceptsMask && spansTokens };
    // The residual wrappers stay unregistered: their norm and sublayer modules are registered above
    // under PyTorch's names.
    this.attentionBlock = new Residual((x, context) => this.selfAttn.forward(x, { mask: context.mask, causal: context.causal }), {
      ...residualOptions,
      norm: this.norm1,
    });
    this.feedforwardBlock = new Residual((x) => this.feedforward(x), { ...residualOptions, norm: this.norm2 });
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
    if (this.normTraits.needsCondition && !context.condition) {
      throw new ContextError({
        op: 'TransformerBlock.forward',
        expected: `a condition [N, ${this.conditionDim}] for norm "${this.normName}": forward(x, { condition })`,
        given: 'no condition',
      });
    }
    const residualContext: ResidualContext = { ...context };
    return this.feedforwardBlock.forward(this.attentionBlock.forward(x, residualContext), residualContext);
  }
}
