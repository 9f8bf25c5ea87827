import { OptionError, Parameter, add, checkDTypeOption, checkOptionKeys, mul, Module, zeros, type DType, type Tensor } from '@normkit/tensor';
import {
  branchDType, callBranch, checkBranch, checkBranchOutput, checkStreamDType,
  type AnyResidualFunction, type BranchArguments, type ResidualFunction,
} from './skip-init';

/** Every key of NFResidualBlockOptions (the compiler keeps the list complete): the constructor refuses any other. */
const NF_RESIDUAL_BLOCK_OPTION_KEYS = Object.keys({
  alpha: true, expectedVariance: true, beta: true, skipInit: true, shortcut: true, dtype: true,
} satisfies Record<keyof NFResidualBlockOptions, true>);

export interface NFResidualBlockOptions {
  /** The fixed scale of the branch's output (default 0.2, NF-ResNets'); finite, > 0. */
  alpha?: number;
  /**
   * The expected variance of the block's input (default 1): the branch sees `x / beta` with
   * `beta = sqrt(expectedVariance)`. Chain blocks with `block.outputVariance`, or build a stack
   * with `nfResidualBlocks`. Give this or `beta`.
   */
  expectedVariance?: number;
  /** The expected standard deviation of the input, `sqrt(expectedVariance)`; give this or `expectedVariance`. */
  beta?: number;
  /** Add a learnable scalar `skipGain` on the branch, initialised to 0 (SkipInit; NFNets' `skip_gain`). Default false. */
  skipInit?: boolean;
  /**
   * A transition block's shortcut (e.g. a 1x1 scaled-WS conv changing width or stride): the skip
   * path becomes `shortcut(x / beta)` instead of `x`, and the expected variance restarts at
   * `1 + alpha^2`. Default none (identity skip).
   */
  shortcut?: ResidualFunction | null;
  /** dtype of `skipGain`; default the branch's parameter dtype. */
  dtype?: DType;
}

function positive(op: string, name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new OptionError({ op, expected: `${name} to be a finite number > 0`, given: `${name} = ${String(value)}` });
  }
  return value;
}

/**
 * The residual block of normalizer-free ResNets (Brock et al., 2021, "Characterizing signal
 * propagation to close the performance gap in unnormalized ResNets"; NFNets):
 *
 *   out = x + alpha * f(x / beta)                      (skipInit: x + alpha * skipGain * f(x / beta))
 *   out = shortcut(x / beta) + alpha * f(x / beta)     (transition block with a shortcut)
 *
 * `beta` is the expected standard deviation of the block's input, so the branch sees unit variance
 * (what a BatchNorm before it would have ensured); `alpha` (0.2) is fixed. With a branch whose
 * variance is 1 at initialisation (scaled weight standardization, `ScaledStdConv2d`), the variance
 * of the stream is tracked analytically instead of measured: `Var(out) = beta^2 + alpha^2`
 * (`outputVariance`), and `1 + alpha^2` after a transition block. The optional SkipInit gain
 * (a separate learnable 0-D parameter `skipGain`, initialised to 0) makes the block start as the
 * identity, as NFNets do. Extra forward arguments go to the branch.
 *
 * @example
 * let variance = 1;
 * const blocks = branches.map((branch) => {
 *   const block = new NFResidualBlock(branch, { alpha: 0.2, expectedVariance: variance });
 *   variance = block.outputVariance;
 *   return block;
 * }); // or nfResidualBlocks(branches, { alpha: 0.2 })
 */
export class NFResidualBlock<B extends AnyResidualFunction = ResidualFunction> extends Module {
  readonly branch: B;
  readonly shortcut: ResidualFunction | null;
  /** Fixed scale of the branch output. */
  readonly alpha: number;
  /** Expected standard deviation of the input; the branch (and shortcut) see `x / beta`. */
  readonly beta: number;
  /** The learnable SkipInit gain (0-D, initialised to 0), or null. */
  readonly skipGain: Parameter | null;
  readonly dtype: DType;

  constructor(branch: B, options: NFResidualBlockOptions = {}) {
    super();
    const op = 'NFResidualBlock';
    checkOptionKeys(op, options, NF_RESIDUAL_BLOCK_OPTION_KEYS);
    checkBranch(op, branch);
    this.alpha = positive(op, 'alpha', options.alpha ?? 0.2);
    if (options.beta !== undefined && options.expectedVariance !== undefined) {
      throw new OptionError({ op, expected: 'either beta (expected std) or expectedVariance, not both', given: `beta = ${options.beta}, expectedVariance = ${options.expectedVariance}` });
    }
    this.beta = options.beta !== undefined ? positive(op, 'beta', options.beta) : Math.sqrt(positive(op, 'expectedVariance', options.expectedVariance ?? 1));
    const skipInit = options.skipInit ?? false;
    if (typeof skipInit !== 'boolean') throw new OptionError({ op, expected: 'skipInit to be a boolean', given: `skipInit = ${String(skipInit)}` });
    if (options.shortcut != null) checkBranch(`${op} shortcut`, options.shortcut);
    this.dtype = checkDTypeOption(op, options.dtype ?? branchDType(branch));
    this.branch = this.registerModule('branch', branch);
    this.shortcut = options.shortcut != null ? this.registerModule('shortcut', options.shortcut) : null;
    this.skipGain = skipInit ? this.registerParameter('skipGain', new Parameter(zeros([], { dtype: this.dtype }))) : null;
  }

  /** The expected variance of the block's output: `beta^2 + alpha^2`, or `1 + alpha^2` for a transition block. */
  get outputVariance(): number {
    return (this.shortcut ? 1 : this.beta * this.beta) + this.alpha * this.alpha;
  }

  override forward(x: Tensor, ...rest: BranchArguments<B>): Tensor {
    const op = 'NFResidualBlock.forward';
    checkStreamDType(op, x, this.dtype);
    // The output shapes are known only once the branch has run, and running it may move state
    // (spectral norm's u and v, a BatchNorm's running averages): all or nothing, restored on a throw.
    const saved: Array<[Tensor['data'], Tensor['data']]> = [];
    for (const [, buffer] of this.namedBuffers()) saved.push([buffer.data, buffer.data.slice()]);
    try {
      const normalized = this.beta === 1 ? x : mul(x, 1 / this.beta);
      const y = callBranch(this.branch, normalized, rest);
      // A transition block's branch may change the shape (width, stride); its shortcut must match it.
      const skip = this.shortcut ? checkBranchOutput(op, this.shortcut.forward(normalized), y, 'the shortcut', "the branch output's") : x;
      if (!this.shortcut) checkBranchOutput(op, y, x);
      // One full-size multiply: the scalar coefficient alpha * skipGain is formed first.
      const scaled = this.skipGain ? mul(y, mul(this.skipGain, this.alpha)) : mul(y, this.alpha);
      return add(skip, scaled);
    } catch (error) {
      for (const [data, copy] of saved) data.set(copy);
      throw error;
    }
  }
}

export interface NFResidualBlocksOptions {
  /** alpha of every block (default 0.2). */
  alpha?: number;
  /** Variance of the first block's input (default 1: a stem whose output has unit variance). */
  initialVariance?: number;
  /** A SkipInit gain on every block (default false). */
  skipInit?: boolean;
  dtype?: DType;
}

/**
 * NF residual blocks over `branches` with NF-ResNets' variance bookkeeping: block i sees
 * `beta_i = sqrt(initialVariance + i * alpha^2)`, since each identity block adds `alpha^2`.
 *
 * @example
 * const blocks = nfResidualBlocks(branches, { alpha: 0.2, skipInit: true });
 * blocks.map((b) => b.beta); // [1, 1.0198, 1.0392, ...]
 */
export function nfResidualBlocks<B extends AnyResidualFunction>(branches: readonly B[], options: NFResidualBlocksOptions = {}): NFResidualBlock<B>[] {
  let variance = positive('nfResidualBlocks', 'initialVariance', options.initialVariance ?? 1);
  return branches.map((branch) => {
    const block = new NFResidualBlock(branch, { alpha: options.alpha, expectedVariance: variance, skipInit: options.skipInit, dtype: options.dtype });
    variance = block.outputVariance;
    return block;
  });
}
