import {
  Linear, Module, MultiHeadAttention, OptionError, Parameter, ShapeError, add, checkTensor, definePostStepHook, formatShape, full, mul, noGrad, reshape, silu, sub,
  checkDTypeOption, type DType, type GradientEntry, type Generator, type PostStepHook, type Tensor, type TensorModule, checkOptionKeys,
} from '@normkit/tensor';
import { l2Norm } from './l2-norm';

/** A learned scale as nGPT stores it: the parameter starts at `scale` and the value used is param * init / scale. */
export interface ScaledInit {
  /** The value at initialisation. */
  init: number;
  /** The parameter's stored initial value (its effective learning rate is scaled by init / scale). */
  scale: number;
}

/** Every key of NGPTBlockOptions (the compiler keeps the list complete): the constructor refuses any other. */
const NGPT_BLOCK_OPTION_KEYS = Object.keys({
  dim: true, numHeads: true, feedforwardDim: true, alpha: true, sqk: true, su: true, sv: true, generator: true, dtype: true,
} satisfies Record<keyof NGPTBlockOptions, true>);

export interface NGPTBlockOptions {
  /** Model width d_model; tokens are [N, L, d_model], on the unit sphere. */
  dim: number;
  numHeads: number;
  /** Hidden width of the gated MLP (default 4 * dim). */
  feedforwardDim?: number;
  /** Eigen learning rates alpha_A and alpha_M (default init 0.05, scale 1 / sqrt(dim), the paper's). */
  alpha?: Partial<ScaledInit>;
  /** s_qk, per head and head dim (default init 1, scale 1 / sqrt(dim)). */
  sqk?: Partial<ScaledInit>;
  /** s_u and s_v of the MLP (default init 1, scale 1). */
  su?: Partial<ScaledInit>;
  sv?: Partial<ScaledInit>;
  /** Drives the initialisation of the projections. */
  generator?: Generator;
  /** Parameter dtype (default float32). */
  dtype?: DType;
}

export interface NGPTBlockContext {
  /** [N, L]: 1 for a real key, 0 for padding (attention keys). */
  mask?: Tensor;
  causal?: boolean;
}

/** The axis of each weight matrix nGPT keeps at unit norm, the one of size d_model (set by `markUnitNormWeight`). */
const UNIT_NORM_AXIS = new WeakMap<Tensor, 0 | 1>();

/**
 * Marks a [rows, cols] weight to be kept at unit L2 norm along `axis` by `ngptWeightNormalization()`
 * (nGPT: along the embedding dimension: axis 1 for d_model -> * projections and embeddings stored
 * [vocab, d_model], axis 0 for * -> d_model output projections), and normalises it now.
 */
export function markUnitNormWeight(weight: Tensor, axis: 0 | 1): void {
  if (weight.ndim !== 2 || (axis !== 0 && axis !== 1)) {
    throw new ShapeError({ op: 'markUnitNormWeight', expected: 'a 2-D weight and axis 0 or 1', given: `shape ${formatShape(weight.shape)}, axis ${String(axis)}` });
  }
  UNIT_NORM_AXIS.set(weight, axis);
  normalizeAlong(weight, axis);
}

/** w / ||w|| along `axis` of a [rows, cols] matrix, in place (float64 sums; an all-zero vector stays zero). */
function normalizeAlong(weight: Tensor, axis: 0 | 1): void {
  const [rows, cols] = weight.shape as [number, number];
  const data = weight.data;
  const vectors = axis === 1 ? rows : cols;
  const length = axis === 1 ? cols : rows;
  const index = (v: number, i: number): number => (axis === 1 ? v * cols + i : i * cols + v);
  for (let v = 0; v < vectors; v++) {
    let sumSquares = 0;
    for (let i = 0; i < length; i++) sumSquares += data[index(v, i)]! ** 2;
    if (sumSquares === 0) continue;
    const inverse = 1 / Math.sqrt(sumSquares);
    for (let i = 0; i < length; i++) data[index(v, i)]! *= inverse;
  }
  weight.bumpVersion();
}

/**
 * nGPT's projection after every optimizer step (Loshchilov et al. 2024, section 2.6): the weights
 * marked with `markUnitNormWeight` (every NGPTBlock marks its own) are renormalised onto the unit
 * sphere along the embedding dimension. A post-step hook: pass it to the optimizer,
 * `new AdamW(model, { lr, weightDecay: 0, postStepHooks: [ngptWeightNormalization()] })` (nGPT
 * uses no weight decay). It reports how many matrices it renormalised.
 */
export function ngptWeightNormalization(): PostStepHook {
  return {
    name: 'ngpt-weight-normalization',
    apply(entries: readonly GradientEntry[]) {
      let matrices = 0;
      for (const { parameter } of entries) {
        const axis = UNIT_NORM_AXIS.get(parameter);
        if (axis === undefined) continue;
        normalizeAlong(parameter, axis);
        matrices++;
      }
      return { matrices };
    },
  };
}

/**
 * `ngpt-weight-normalization`: the same hook as a registry plugin (kind 'post-step-hook', no options),
 * for configs that name their optimizer's hooks: `register(ngptWeightNormalizationPlugin)`, then
 * `createPostStepHook('ngpt-weight-normalization')`.
 */
export const ngptWeightNormalizationPlugin = definePostStepHook({
  name: 'ngpt-weight-normalization',
  family: 'layer',
  description: "nGPT's projection after every optimizer step: the marked weight matrices back onto the unit sphere along the embedding dimension (Loshchilov et al., 2024).",
  options: {},
  create: () => ngptWeightNormalization(),
});

declare module '@normkit/tensor' {
  interface PostStepHookRegistry {
    'ngpt-weight-normalization': typeof ngptWeightNormalizationPlugin;
  }
}

/** Renormalises every marked weight of `model` (after loading a checkpoint, say). */
export function normalizeMarkedWeights(model: Module): number {
  let matrices = 0;
  for (const parameter of model.parameters()) {
    const axis = UNIT_NORM_AXIS.get(parameter);
    if (axis === undefined) continue;
    noGrad(() => normalizeAlong(parameter, axis));
    matrices++;
  }
  return matrices;
}

/** q or k of one attention: s_qk * (q / ||q||) per head, times `factor` (d_k on q: softmax scale sqrt(d_k)). */
class ScaledUnitHead extends Module implements TensorModule {
  constructor(private readonly scale: () => Tensor, private readonly factor: number) {
    super();
  }
  override forward(x: Tensor): Tensor {
    const unit = l2Norm(x, { axes: -1, eps: 1e-12, op: 'nGPT.qkNorm' });
    return mul(mul(unit, this.scale()), this.factor);
  }
}

function resolveScaled(op: string, name: string, given: Partial<ScaledInit> | undefined, defaults: ScaledInit): ScaledInit {
  const resolved = { ...defaults, ...(given ?? {}) };
  for (const key of ['init', 'scale'] as const) {
    const value = resolved[key];
    if (typeof value !== 'number' || !Number.isFinite(value) || (key === 'scale' && value <= 0)) {
      throw new OptionError({ op, expected: `${name}.${key} to be a finite number${key === 'scale' ? ' > 0' : ''}`, given: `${name}.${key} = ${String(value)}` });
    }
  }
  return resolved;
}

/**
 * A block of the Normalized Transformer, nGPT (Loshchilov, Hsieh, Sun & Ginsburg, "nGPT:
 * Normalized Transformer with Representation Learning on the Hypersphere", 2024): hidden states
 * and every weight vector along the embedding dimension live on the unit sphere, and each block
 * moves the state towards its sublayer's suggestion with learned eigen learning rates:
 *
 *   h_A = Norm(Attn(h));   h = Norm(h + alpha_A * (h_A - h))
 *   h_M = Norm(MLP(h));    h = Norm(h + alpha_M * (h_M - h))
 *
 * Attention normalises q and k per head and scales both by s_qk, with softmax scale sqrt(d_k)
 * (not 1 / sqrt(d_k)): the unit dot products need the larger temperature. The MLP is gated:
 * u = s_u * (W_u h), v = s_v * sqrt(d_model) * (W_v h), MLP(h) = W_o (u * SiLU(v)). No biases, no
 * LayerNorm. Each learned scale s (alpha_A, alpha_M, s_qk, s_u, s_v) is stored as a parameter
 * initialised to `scale` and used as param * init / scale, the paper's reparametrisation that
 * sets its effective learning rate. Norm is x / ||x|| over the last dim.
 *
 * The weights q, k, v, W_u, W_v (d_model -> *) are kept at unit norm along their input dim and the
 * output projections (* -> d_model) along their output dim: normalised at construction and, with
 * `ngptWeightNormalization()` as a post-step hook of the optimizer, after every step. Inputs must
 * be on the unit sphere (normalise the embeddings: `markUnitNormWeight(embedding.weight, 1)`);
 * logits at the end are s_z * (E h) with the output embedding E also on the sphere (the model's
 * job, not the block's). Train without weight decay and without warm-up, as the paper does.
 *
 * @example
 * const block = new NGPTBlock({ dim: 64, numHeads: 4 });
 * const y = block.forward(l2Norm(randn([2, 16, 64]), { axes: -1 })); // rows stay unit norm
 * const optimizer = new AdamW(block, { lr: 1e-3, weightDecay: 0, postStepHooks: [ngptWeightNormalization()] });
 */
export class NGPTBlock extends Module {
  readonly dim: number;
  readonly numHeads: number;
  readonly feedforwardDim: number;
  readonly selfAttn: MultiHeadAttention;
  readonly mlpU: Linear;
  readonly mlpV: Linear;
  readonly mlpOut: Linear;
  /** Eigen learning rates, [dim] each (stored scale; see `effective`). */
  readonly alphaAttn: Parameter;
  readonly alphaMlp: Parameter;
  /** s_qk, [numHeads, headDim]; s_u and s_v, [feedforwardDim]. */
  readonly sqk: Parameter;
  readonly su: Parameter;
  readonly sv: Parameter;
  /** init / scale of each learned scale. */
  private readonly ratios: { alpha: number; sqk: number; su: number; sv: number };

  constructor(options: NGPTBlockOptions) {
    super();
    const op = 'NGPTBlock';
    if (typeof options !== 'object' || options === null) throw new OptionError({ op, expected: 'an options object with dim and numHeads', given: String(options) });
    checkOptionKeys(op, options, NGPT_BLOCK_OPTION_KEYS);
    const { dim, numHeads } = options;
    const feedforwardDim = options.feedforwardDim ?? 4 * dim;
    for (const [name, value] of [['dim', dim], ['numHeads', numHeads], ['feedforwardDim', feedforwardDim]] as const) {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
        throw new OptionError({ op, expected: `${name} to be a positive integer`, given: `${name} = ${String(value)}` });
      }
    }
    if (dim % numHeads !== 0) throw new OptionError({ op, expected: 'dim divisible by numHeads', given: `dim = ${dim}, numHeads = ${numHeads}` });
    const alpha = resolveScaled(op, 'alpha', options.alpha, { init: 0.05, scale: 1 / Math.sqrt(dim) });
    const sqk = resolveScaled(op, 'sqk', options.sqk, { init: 1, scale: 1 / Math.sqrt(dim) });
    const su = resolveScaled(op, 'su', options.su, { init: 1, scale: 1 });
    const sv = resolveScaled(op, 'sv', options.sv, { init: 1, scale: 1 });
    this.dim = dim;
    this.numHeads = numHeads;
    this.feedforwardDim = feedforwardDim;
    this.ratios = { alpha: alpha.init / alpha.scale, sqk: sqk.init / sqk.scale, su: su.init / su.scale, sv: sv.init / sv.scale };
    const headDim = dim / numHeads;
    const dtype = checkDTypeOption(op, options.dtype);

    this.sqk = this.registerParameter('sqk', new Parameter(full([numHeads, headDim], sqk.scale, { dtype })));
    const sqkHeads = (): Tensor => reshape(mul(this.sqk, this.ratios.sqk), [1, numHeads, 1, headDim]);
    // MultiHeadAttention builds q_norm, then k_norm; q carries the factor d_k that turns its 1 / sqrt(d_k) into sqrt(d_k).
    let built = 0;
    const qkNorm = (): ScaledUnitHead => new ScaledUnitHead(sqkHeads, built++ === 0 ? headDim : 1);
    const generator = options.generator;
    this.selfAttn = this.registerModule('self_attn', new MultiHeadAttention({ embedDim: dim, numHeads, bias: false, qkNorm, generator, dtype }));
    this.mlpU = this.registerModule('mlp_u', new Linear({ inFeatures: dim, outFeatures: feedforwardDim, bias: false, generator, dtype }));
    this.mlpV = this.registerModule('mlp_v', new Linear({ inFeatures: dim, outFeatures: feedforwardDim, bias: false, generator, dtype }));
    this.mlpOut = this.registerModule('mlp_out', new Linear({ inFeatures: feedforwardDim, outFeatures: dim, bias: false, generator, dtype }));
    this.alphaAttn = this.registerParameter('alpha_attn', new Parameter(full([dim], alpha.scale, { dtype })));
    this.alphaMlp = this.registerParameter('alpha_mlp', new Parameter(full([dim], alpha.scale, { dtype })));
    this.su = this.registerParameter('su', new Parameter(full([feedforwardDim], su.scale, { dtype })));
    this.sv = this.registerParameter('sv', new Parameter(full([feedforwardDim], sv.scale, { dtype })));

    noGrad(() => {
      const attention = this.selfAttn;
      for (const linear of [attention.qProj, attention.kProj, attention.vProj, this.mlpU, this.mlpV]) markUnitNormWeight(linear.weight, 1);
      for (const linear of [attention.outProj, this.mlpOut]) markUnitNormWeight(linear.weight, 0);
    });
  }

  /** The value a learned scale is used with: param * init / scale. */
  effective(name: 'alphaAttn' | 'alphaMlp' | 'sqk' | 'su' | 'sv'): Tensor {
    const ratio = name === 'alphaAttn' || name === 'alphaMlp' ? this.ratios.alpha : this.ratios[name];
    return mul(this[name], ratio);
  }

  /** The gated MLP: W_o (s_u W_u h * SiLU(s_v sqrt(d_model) W_v h)). */
  mlp(h: Tensor): Tensor {
    const u = mul(this.mlpU.forward(h), this.effective('su'));
    const v = mul(this.mlpV.forward(h), mul(this.effective('sv'), Math.sqrt(this.dim)));
    return this.mlpOut.forward(mul(u, silu(v)));
  }

  override forward(h: Tensor, context: NGPTBlockContext = {}): Tensor {
    const op = 'NGPTBlock.forward';
    checkTensor(op, h, 'h');
    if (h.ndim !== 3 || h.shape[2] !== this.dim) {
      throw new ShapeError({ op, expected: `tokens of shape [N, L, ${this.dim}] (dim = ${this.dim})`, given: formatShape(h.shape) });
    }
    const unit = (x: Tensor): Tensor => l2Norm(x, { axes: -1, eps: 1e-12, op });
    const attention = unit(this.selfAttn.forward(h, { mask: context.mask, causal: context.causal }));
    const afterAttention = unit(add(h, mul(this.effective('alphaAttn'), sub(attention, h))));
    const feedforward = unit(this.mlp(afterAttention));
    return unit(add(afterAttention, mul(this.effective('alphaMlp'), sub(feedforward, afterAttention))));
  }
}
