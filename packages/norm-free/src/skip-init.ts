import {
  checkDTypeOption, checkOptionKeys, DTypeError, Module, Parameter, ShapeError, ValueError, add, formatShape, mul, sameShape, zeros, type DType, type Tensor,
} from '@normkit/tensor';

/**
 * A residual branch: a Module mapping the stream `x` (and whatever else its blocks pass along,
 * `Rest`) to a tensor (of x's shape, for an identity skip).
 */
export interface ResidualFunction<Rest extends unknown[] = []> extends Module {
  forward(x: Tensor, ...rest: Rest): Tensor;
}

/** Any residual branch, whatever extra forward arguments it takes. */
export type AnyResidualFunction = ResidualFunction<never[]>;

/** The forward arguments of a branch after `x` (`[]` for a plain `forward(x)`), which its block passes on. */
export type BranchArguments<B> = B extends { forward(x: Tensor, ...rest: infer R): Tensor } ? R : [];

/** Calls `branch.forward(x, ...rest)` for a branch whose extra arguments are only known generically. */
export function callBranch(branch: AnyResidualFunction, x: Tensor, rest: readonly unknown[]): Tensor {
  return (branch as unknown as { forward(x: Tensor, ...rest: unknown[]): Tensor }).forward(x, ...rest);
}

/** The dtype of a branch's first parameter (float32 for a branch without parameters). */
export function branchDType(branch: Module): DType {
  for (const parameter of branch.parameters()) return parameter.dtype;
  return 'float32';
}

/** Refuses what is not a Module with a forward, naming the caller. */
export function checkBranch(op: string, branch: unknown): void {
  if (!(branch instanceof Module) || typeof (branch as { forward?: unknown }).forward !== 'function') {
    throw new ValueError({ op, expected: 'a residual branch: a Module whose forward(x) returns a tensor of x\'s shape', given: branch === null ? 'null' : typeof branch });
  }
}


/** A branch's output, checked to have the shape of the stream it is added to (no silent broadcasting). */
export function checkBranchOutput(op: string, y: Tensor, x: Tensor, what = 'the branch', whose = "the input's"): Tensor {
  if (!sameShape(y.shape, x.shape)) {
    throw new ShapeError({ op, expected: `${what} to return ${whose} shape ${formatShape(x.shape)}`, given: formatShape(y.shape) });
  }
  return y;
}

/** Refuses a stream whose dtype differs from a block's scalar parameters. */
export function checkStreamDType(op: string, x: Tensor, dtype: DType): void {
  if (x.dtype !== dtype) {
    throw new DTypeError({ op, expected: `an input of the block's dtype ${dtype}`, given: `a ${x.dtype} input` });
  }
}

export interface SkipInitOptions {
  /** dtype of alpha; default the branch's parameter dtype (float32 for a branch without parameters). */
  dtype?: DType;
}

/**
 * SkipInit (De & Smith, 2020, "Batch Normalization Biases Residual Blocks Towards the Identity
 * Function in Deep Networks"): a residual block whose branch is scaled by a learnable scalar
 * initialised to zero,
 *
 *   out = x + alpha * branch(x),   alpha = 0 at initialisation,
 *
 * so every block starts as the identity and a deep residual network without normalization starts
 * as a shallow one: what BatchNorm does implicitly by shrinking the residual branch. alpha is a 0-D
 * parameter named `alpha` (DeepMind's NFNets call it `skip_gain`); the branch is the child `branch`.
 * Extra forward arguments are passed on to the branch.
 *
 * @example
 * const block = new SkipInit(new Sequential(new Linear({ inFeatures: 64, outFeatures: 64 }), new ReLU()));
 * block.forward(x); // equals x until alpha moves
 */
export class SkipInit<B extends AnyResidualFunction = ResidualFunction> extends Module {
  readonly branch: B;
  /** The learnable scalar, shape [] (0 at initialisation). */
  readonly alpha: Parameter;

  constructor(branch: B, options: SkipInitOptions = {}) {
    super();
    const op = 'SkipInit';
    checkOptionKeys(op, options, ['dtype'] satisfies (keyof SkipInitOptions)[]);
    checkBranch(op, branch);
    const dtype = checkDTypeOption(op, options.dtype ?? branchDType(branch));
    this.branch = this.registerModule('branch', branch);
    this.alpha = this.registerParameter('alpha', new Parameter(zeros([], { dtype })));
  }

  override forward(x: Tensor, ...rest: BranchArguments<B>): Tensor {
    checkStreamDType('SkipInit.forward', x, this.alpha.dtype);
    const y = checkBranchOutput('SkipInit.forward', callBranch(this.branch, x, rest), x);
    return add(x, mul(this.alpha, y));
  }
}
