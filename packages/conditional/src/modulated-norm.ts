// The mechanism the three techniques share, written once: check everything, predict the modulation
// from the condition, normalise without affine (the fused kernels of @normkit/batch, @normkit/group,
// @normkit/layer), then modulate with the core's one `modulate` node. Internal to the package.
import { BatchNorm } from '@normkit/batch';
import { InstanceNorm } from '@normkit/group';
import { layerNorm } from '@normkit/layer';
import {
  checkChannels, ContextError, Module, ShapeError, checkModuleDType, checkTensor, dtypeOptionSpec, formatShape, isTensor, modulate, refuseMask as refuseMaskOnce, reshape,
  type Tensor, type DType, type Normalizer, type NormalizerContext, type NumberOptionSpec,
} from '@normkit/tensor';

/** The parameter-free normalizer applied before the modulation. */
export type ParamFreeNormKind = 'batch' | 'instance' | 'layer' | 'none';

/** What a conditioning network predicts: the modulation's two tensors, each broadcastable to x. */
export interface ConditionalModulation {
  /** `gamma` of `gamma * x + beta` ('direct'), or `scale` of `x * (1 + scale) + shift` ('one-plus'). */
  scale: Tensor;
  /** `beta`, or `shift`. */
  shift: Tensor;
}

/** Options of the inner parameter-free normalizer, resolved. */
export interface ParamFreeNormSettings {
  numFeatures: number;
  eps: number;
  momentum: number;
  dtype: DType;
}

/** The option specs the three modules' schemas share (each schema is declared beside its module). */
export const epsOption = { type: 'number', default: 1e-5, min: 0, minExclusive: true, description: 'Added to the variance of the normalizer.' } as const satisfies NumberOptionSpec;
export const momentumOption = {
  type: 'number',
  default: 0.1,
  min: 0,
  max: 1,
  description: "Weight of the new batch in the running averages (PyTorch's convention).",
} as const satisfies NumberOptionSpec;
/** The dtype option; conditions, too, must have the module's dtype. */
export const dtypeOption = { ...dtypeOptionSpec, description: 'Parameter and buffer dtype; inputs and conditions must match.' } as const;

/**
 * The parameter-free normalizer module for a kind: BatchNorm (with running statistics) or
 * InstanceNorm (PyTorch's defaults: none), both without affine. 'layer' and 'none' hold no state,
 * so they need no module (see `normalizeWithoutAffine`).
 */
export function createParamFreeNorm(kind: ParamFreeNormKind, settings: ParamFreeNormSettings): BatchNorm | InstanceNorm | null {
  const { numFeatures, eps, momentum, dtype } = settings;
  if (kind === 'batch') return new BatchNorm({ numFeatures, eps, momentum, affine: false, dtype });
  if (kind === 'instance') return new InstanceNorm({ numFeatures, eps, momentum, affine: false, dtype });
  return null;
}

/**
 * x normalised without affine by `kind`: BatchNorm / InstanceNorm through their modules (so running
 * statistics move in training and are read in eval), LayerNorm over every dim but the batch
 * (GroupNorm with one group), or x itself for 'none'.
 */
export function normalizeWithoutAffine(kind: ParamFreeNormKind, module: BatchNorm | InstanceNorm | null, x: Tensor, eps: number): Tensor {
  if (module) return module.forward(x);
  if (kind === 'layer') return layerNorm(x, x.shape.slice(1), { eps, op: 'layerNorm' });
  return x;
}

/** Reshapes a per-sample [N, C] tensor to [N, C, 1, ..., 1] with `rank` dims, to broadcast over x's spatial dims. */
export function perSampleChannel(t: Tensor, rank: number): Tensor {
  if (t.ndim === rank) return t;
  return reshape(t, [t.shape[0]!, t.shape[1]!, ...new Array<number>(rank - 2).fill(1)]);
}

/** Checks x is a Tensor [N, channels, *] of rank `minRank` (to `maxRank`) and the module's dtype. */
export function checkChannelsFirstInput(
  op: string,
  value: unknown,
  channels: number,
  optionName: string,
  dtype: DType,
  rank: { min: number; max?: number; example: string },
): Tensor {
  const x = checkTensor(op, value, 'x');
  if (x.ndim < rank.min || (rank.max !== undefined && x.ndim > rank.max)) {
    throw new ShapeError({ op, expected: `an input ${rank.example}`, given: `shape ${formatShape(x.shape)} (rank ${x.ndim})` });
  }
  checkChannels(op, x, channels, optionName);
  checkModuleDType(op, x, dtype);
  return x;
}

/**
 * The condition tensor from the context, or a ContextError saying what the module needs (and, when
 * labels came instead, that they must be turned into a condition first).
 */
export function requireCondition(op: string, context: NormalizerContext, needed: string): Tensor {
  const condition = context.condition;
  if (condition === undefined || condition === null) {
    const hint = context.labels !== undefined ? ' (labels were given: this module needs a condition tensor, e.g. their one-hot or embedding)' : '';
    throw new ContextError({ op, expected: `${needed} in the context: forward(x, { condition })`, given: `no condition${hint}` });
  }
  if (isTensor(condition)) return checkTensor(op, condition, 'the condition');
  throw new ContextError({ op, expected: `${needed} as a Tensor`, given: String(condition) });
}

/** A mask cannot be honoured by this module: refuse it rather than ignore it. */
export function refuseMask(op: string, context: NormalizerContext): void {
  refuseMaskOnce(op, context, 'this module has no masked statistics');
}

/**
 * "Normalise without affine, then modulate with parameters predicted from a condition", the one
 * forward of ConditionalBatchNorm, SPADE and FiLM. The order is what keeps a bad call harmless:
 * every check runs first, then the conditioning network (which holds no state), and only then the
 * normalizer, whose running statistics move in training; the modulation cannot fail after that.
 * New conditional normalizers subclass it with their checks, conditioning network and normalizer.
 *
 * @example
 * class ClassConditionalInstanceNorm extends ModulatedNorm<Int32Array> {
 *   // constructor: super('ClassConditionalInstanceNorm', 'ccinModulate', 'direct'); register tables
 *   protected checkInput(op, x, context) { return checkLabels(op, context.labels, x.shape[0]!, this.numClasses); }
 *   protected predictModulation(x, labels) { return { scale: rows(this.gamma, labels), shift: rows(this.beta, labels) }; }
 *   protected normalize(x) { return instanceNorm(x); }
 * }
 */
export abstract class ModulatedNorm<Checked> extends Module implements Normalizer {
  protected constructor(
    /** The class name in errors (stable under bundling, unlike `constructor.name`). */
    protected readonly className: string,
    /** The modulation node's name in the autograd graph (`graphOps`), e.g. `spadeModulate`. */
    protected readonly modulateOp: string,
    /** `'direct'`: gamma * x + beta (CBN, FiLM); `'one-plus'`: x * (1 + gamma) + beta (SPADE, AdaLN). */
    readonly form: 'direct' | 'one-plus',
  ) {
    super();
  }

  /** Validates x and the context, changing nothing; returns what `predictModulation` needs. */
  protected abstract checkInput(op: string, x: Tensor, context: NormalizerContext): Checked;

  /** The conditioning network: gamma and beta, broadcastable to x. */
  protected abstract predictModulation(x: Tensor, checked: Checked): ConditionalModulation;

  /** The parameter-free normalisation of x (one fused node of the normalizer packages, or x). */
  protected abstract normalize(x: Tensor, context: NormalizerContext): Tensor;

  override forward(x: Tensor, context: NormalizerContext = {}): Tensor {
    const op = `${this.className}.forward`;
    const checked = this.checkInput(op, x, context ?? {});
    const { scale, shift } = this.predictModulation(x, checked);
    const normalized = this.normalize(x, context ?? {});
    return modulate(normalized, scale, shift, { form: this.form, op: this.modulateOp });
  }
}
