import {
  checkOptionKeys, ConvTranspose2d, Module, OptionError, ShapeError, allocate, customOp, defaultGenerator, formatShape, noGrad, parametrizationsOf,
  registerParametrization, tensor,
  type Generator, type Parametrization, type Tensor, type TypedArray,
} from '@normkit/tensor';
import { checkDimInRange, checkDimOption, checkEpsOption, checkNotParametrizedWith, targetTensor, unitLayout } from './shared';

/** The weight seen as the matrix `M` `[h, w]` of spectral norm: `dim` first, every other dim flattened in order. */
function matrixLayout(shape: readonly number[], dim: number): { before: number; rows: number; after: number; cols: number } {
  const { before, units, after } = unitLayout(shape, dim);
  return { before, rows: units, after, cols: before * after };
}

/**
 * `M v` into `out` (length rows), M being `weight` with `dim` moved first and the rest flattened:
 * `M[r][b * after + i] = W[(b * rows + r) * after + i]`. Sums in float64.
 */
function matrixTimesVector(ws: TypedArray, layout: ReturnType<typeof matrixLayout>, v: ArrayLike<number>, out: Float64Array): void {
  const { before, rows, after } = layout;
  out.fill(0);
  for (let b = 0; b < before; b++) {
    const vBase = b * after;
    for (let r = 0; r < rows; r++) {
      let total = 0;
      for (let k = (b * rows + r) * after, i = 0; i < after; i++, k++) total += ws[k]! * v[vBase + i]!;
      out[r]! += total;
    }
  }
}

/** `M^T u` into `out` (length cols). */
function matrixTransposeTimesVector(ws: TypedArray, layout: ReturnType<typeof matrixLayout>, u: ArrayLike<number>, out: Float64Array): void {
  const { before, rows, after } = layout;
  out.fill(0);
  for (let b = 0; b < before; b++) {
    const outBase = b * after;
    for (let r = 0; r < rows; r++) {
      const ur = u[r]!;
      for (let k = (b * rows + r) * after, i = 0; i < after; i++, k++) out[outBase + i]! += ws[k]! * ur;
    }
  }
}

/**
 * `x / max(||x||, eps)` into `target` (PyTorch's F.normalize), except that an all-zero `x` leaves
 * `target` unchanged: PyTorch would store a zero vector, and a zero u or v stays zero for good
 * (sigma = 0, NaN weights) even once the weight is nonzero again. Returns ||x||.
 */
function normalizeInto(x: Float64Array, target: Float64Array, eps: number): number {
  let sumSquares = 0;
  for (let i = 0; i < x.length; i++) sumSquares += x[i]! * x[i]!;
  const norm = Math.sqrt(sumSquares);
  if (norm === 0) return 0;
  const inv = 1 / Math.max(norm, eps);
  for (let i = 0; i < x.length; i++) target[i] = x[i]! * inv;
  return norm;
}

export interface PowerIterationOptions {
  /** The dim moved first when the weight is seen as a matrix (0: rows are output units). */
  dim: number;
  /** Iterations to run (at most, with `tolerance`). */
  iterations: number;
  eps: number;
  /**
   * Stop early once the sigma estimate `||M^T u||` changes by at most `tolerance * sigma` from one
   * iteration to the next. Absent: run every iteration (what training reads do).
   */
  tolerance?: number;
}

/**
 * Power iteration on the weight seen as a matrix M `[h, w]`, as PyTorch's spectral norm runs it:
 * `u = normalize(M v)`, `v = normalize(M^T u)`, `iterations` times (or until converged with
 * `tolerance`), updating the `u` `[h]` and `v` `[w]` tensors in place (products in float64).
 * Records no graph. Returns the number of iterations run.
 */
export function powerIteration(weight: Tensor, u: Tensor, v: Tensor, options: PowerIterationOptions): number {
  const us = Float64Array.from(u.data);
  const vs = Float64Array.from(v.data);
  const { steps } = iterate(weight, matrixLayout(weight.shape, options.dim), us, vs, options);
  u.data.set(us);
  v.data.set(vs);
  return steps;
}

/**
 * The power iteration on float64 copies of u and v. Also returns u^T M v for the final vectors,
 * which comes free: after v = M^T u / max(||M^T u||, eps), u^T M v = ||M^T u||^2 / max(||M^T u||, eps)
 * (NaN when no iteration ran).
 */
function iterate(
  weight: Tensor,
  layout: ReturnType<typeof matrixLayout>,
  us: Float64Array,
  vs: Float64Array,
  options: Omit<PowerIterationOptions, 'dim'>,
): { steps: number; sigma: number } {
  const mv = new Float64Array(layout.rows);
  const mtu = new Float64Array(layout.cols);
  const tolerance = options.tolerance;
  let sigma = Number.NaN;
  let previousSigma = Number.NaN;
  let steps = 0;
  while (steps < options.iterations) {
    matrixTimesVector(weight.data, layout, vs, mv);
    normalizeInto(mv, us, options.eps);
    matrixTransposeTimesVector(weight.data, layout, us, mtu);
    const norm = normalizeInto(mtu, vs, options.eps);
    sigma = (norm * norm) / Math.max(norm, options.eps);
    steps++;
    if (tolerance !== undefined && Math.abs(sigma - previousSigma) <= tolerance * sigma) break;
    previousSigma = sigma;
  }
  return { steps, sigma };
}

/** The warm-up at registration stops once sigma moves by at most this much (relative) per iteration. */
const WARM_UP_TOLERANCE = 1e-7;

/** `u^T M v` in float64. */
function bilinear(weight: Tensor, layout: ReturnType<typeof matrixLayout>, u: ArrayLike<number>, v: ArrayLike<number>): number {
  const mv = new Float64Array(layout.rows);
  matrixTimesVector(weight.data, layout, v, mv);
  let sigma = 0;
  for (let r = 0; r < layout.rows; r++) sigma += u[r]! * mv[r]!;
  return sigma;
}

export interface SpectralNormWeightResult {
  /** `W / sigma`, one graph node from the weight. */
  output: Tensor;
  /** `u^T M v`, the spectral norm estimate the weight was divided by. */
  sigma: number;
}

/**
 * The spectral-norm kernel (Miyato et al., "Spectral Normalization for Generative Adversarial
 * Networks", ICLR 2018) for given singular-vector estimates `u` `[h]` and `v` `[w]`, as one fused
 * node from the weight (u and v are constants, as in PyTorch):
 *
 *   sigma = u^T M v                 (M: the weight with `dim` first, flattened to [h, w])
 *   W_sn  = W / sigma
 *   dL/dW = G / sigma - (sum(G * W) / sigma^2) * u v^T     (u v^T laid out like W)
 *
 * so gradients flow through sigma. Products accumulate in float64. A sigma of exactly 0 (an
 * all-zero weight) divides by 1 instead, as Flax does, so the result is finite.
 *
 * @example
 * const { output, sigma } = spectralNormWeight(weight, u, v); // weight [4, 3], u [4], v [3]
 */
export function spectralNormWeight(weight: Tensor, u: Tensor, v: Tensor, options: { dim?: number } = {}): SpectralNormWeightResult {
  const op = 'spectralNormWeight';
  const dim = checkDimOption(op, options.dim ?? 0, { allowNull: false })!;
  if (weight.ndim < 2) {
    throw new ShapeError({ op, expected: 'a weight with at least 2 dims (a 1-D weight is divided by its norm: see SpectralNorm)', given: `shape ${formatShape(weight.shape)}` });
  }
  checkDimInRange(op, dim, weight.shape, 'the weight');
  const layout = matrixLayout(weight.shape, dim);
  if (u.size !== layout.rows || v.size !== layout.cols) {
    throw new ShapeError({
      op,
      expected: `u with ${layout.rows} and v with ${layout.cols} elements for a weight of shape ${formatShape(weight.shape)} seen as a [${layout.rows}, ${layout.cols}] matrix (dim ${dim} first)`,
      given: `u of shape ${formatShape(u.shape)} and v of shape ${formatShape(v.shape)}`,
    });
  }
  // Snapshots: the buffers move at the next training read, and this node's backward must use these.
  const us = Float64Array.from(u.data);
  const vs = Float64Array.from(v.data);
  const sigma = bilinear(weight, layout, us, vs);
  return { output: divideBySigma(weight, layout, us, vs, sigma), sigma };
}

/** `W / sigma` as one node (see `spectralNormWeight`); `us` and `vs` are owned by the node from now on. */
function divideBySigma(weight: Tensor, layout: ReturnType<typeof matrixLayout>, us: Float64Array, vs: Float64Array, sigma: number): Tensor {
  const divisor = sigma === 0 ? 1 : sigma;
  const ws = weight.data;
  const out = allocate(weight.dtype, weight.size);
  const inv = 1 / divisor;
  for (let k = 0; k < ws.length; k++) out[k] = ws[k]! * inv;
  return customOp({
    op: 'spectralNorm',
    inputs: [weight],
    data: out,
    shape: weight.shape,
    backward: (gradOut) => {
      const grad = allocate(weight.dtype, weight.size);
      if (sigma === 0) {
        grad.set(gradOut);
        return [grad];
      }
      let dot = 0;
      for (let k = 0; k < ws.length; k++) dot += gradOut[k]! * ws[k]!;
      const coefficient = dot * inv * inv;
      const { before, rows, after } = layout;
      for (let b = 0; b < before; b++) {
        const vBase = b * after;
        for (let r = 0; r < rows; r++) {
          const cu = coefficient * us[r]!;
          for (let k = (b * rows + r) * after, i = 0; i < after; i++, k++) grad[k] = gradOut[k]! * inv - cu * vs[vBase + i]!;
        }
      }
      return [grad];
    },
  });
}

/**
 * A 1-D weight has one singular value, its norm: `w / max(||w||, eps)` (PyTorch's F.normalize),
 * one node; dL/dw = (G - w <G, w> / ||w||^2) / ||w||, or G / eps where the norm is clamped.
 */
function normalizeVector(weight: Tensor, eps: number): { output: Tensor; norm: number } {
  const ws = weight.data;
  let sumSquares = 0;
  for (let k = 0; k < ws.length; k++) sumSquares += ws[k]! * ws[k]!;
  const norm = Math.sqrt(sumSquares);
  const clamped = norm < eps;
  const divisor = clamped ? eps : norm;
  const out = allocate(weight.dtype, weight.size);
  for (let k = 0; k < ws.length; k++) out[k] = ws[k]! / divisor;
  const output = customOp({
    op: 'spectralNorm',
    inputs: [weight],
    data: out,
    shape: weight.shape,
    backward: (gradOut) => {
      const grad = allocate(weight.dtype, weight.size);
      let dot = 0;
      if (!clamped) for (let k = 0; k < ws.length; k++) dot += gradOut[k]! * ws[k]!;
      const projection = clamped ? 0 : dot / (norm * norm);
      for (let k = 0; k < ws.length; k++) grad[k] = (gradOut[k]! - ws[k]! * projection) / divisor;
      return [grad];
    },
  });
  return { output, norm: divisor };
}

/** Every key of SpectralNormParametrizationOptions (the compiler keeps the list complete); `spectralNorm` adds `name`. */
const SPECTRAL_NORM_PARAMETRIZATION_KEYS = Object.keys({
  nPowerIterations: true, eps: true, dim: true, warmUpIterations: true, generator: true,
} satisfies Record<keyof SpectralNormParametrizationOptions, true>);

export interface SpectralNormParametrizationOptions {
  /** Power iterations per training read (default 1); must be >= 1. */
  nPowerIterations?: number;
  /** Floor of the norms when u and v are normalised (default 1e-12); must be > 0. */
  eps?: number;
  /** The dim moved first when the weight is seen as a matrix (default 0). */
  dim?: number;
  /**
   * At most this many power iterations at construction (default 100), stopping once sigma moves
   * by less than 1e-7 (relative) per iteration, so that the first read, even in eval, divides by
   * a converged sigma. PyTorch runs a fixed 15, which leaves sigma a few percent off when the two
   * largest singular values are close. 0: none.
   */
  warmUpIterations?: number;
  /** Draws the initial u and v (the default generator otherwise, so `manualSeed` makes them reproducible). */
  generator?: Generator;
}

/**
 * Spectral normalization as a parametrization: `W / sigma(W)` with sigma estimated by power
 * iteration, like PyTorch's `parametrizations.spectral_norm`. Holds the buffers `_u` `[h]` and
 * `_v` `[w]` (state-dict keys `parametrizations.weight.<index>._u` / `._v`). Built from the
 * weight it will parametrize: u and v start random and get `warmUpIterations` power iterations
 * right away. In training each read runs `nPowerIterations` more; in eval none, and sigma is
 * `u^T M v` from the stored vectors, so eval reads are deterministic and change nothing.
 * Usually made by `spectralNorm(module)`.
 */
export class SpectralNorm extends Module implements Parametrization {
  readonly dim: number;
  readonly nPowerIterations: number;
  readonly eps: number;
  private lastSigma: number;

  constructor(weight: Tensor, options: SpectralNormParametrizationOptions = {}) {
    super();
    const op = 'SpectralNorm';
    checkOptionKeys(op, options, SPECTRAL_NORM_PARAMETRIZATION_KEYS);
    this.dim = checkDimOption(op, options.dim ?? 0, { allowNull: false })!;
    this.nPowerIterations = checkIterations(op, 'nPowerIterations', options.nPowerIterations ?? 1, 1);
    this.eps = checkEpsOption(op, options.eps ?? 1e-12);
    const warmUpIterations = checkIterations(op, 'warmUpIterations', options.warmUpIterations ?? 100, 0);
    if (weight.ndim === 0) {
      throw new ShapeError({ op, expected: 'a weight with at least 1 dim', given: 'a scalar (shape [])' });
    }
    checkDimInRange(op, this.dim, weight.shape, 'the weight');
    if (weight.ndim === 1) {
      // No power iteration for a vector (see forward): no buffers, as in PyTorch.
      this.lastSigma = noGrad(() => normalizeVector(weight, this.eps).norm);
      return;
    }
    const layout = matrixLayout(weight.shape, this.dim);
    const generator = options.generator ?? defaultGenerator();
    const u = tensor(randomUnitVector(layout.rows, generator, this.eps), { dtype: weight.dtype });
    const v = tensor(randomUnitVector(layout.cols, generator, this.eps), { dtype: weight.dtype });
    this.registerBuffer('_u', u);
    this.registerBuffer('_v', v);
    powerIteration(weight, u, v, { dim: this.dim, iterations: warmUpIterations, eps: this.eps, tolerance: WARM_UP_TOLERANCE });
    this.lastSigma = bilinear(weight, layout, u.data, v.data);
  }

  /** The sigma the weight was divided by at the last read (after the warm-up until then). */
  get sigma(): number {
    return this.lastSigma;
  }

  /** `W / sigma` as one node; in training, runs `nPowerIterations` power iterations first. */
  forward(weight: Tensor): Tensor {
    if (weight.ndim === 1) {
      const { output, norm } = normalizeVector(weight, this.eps);
      this.lastSigma = norm;
      return output;
    }
    const u = this.getBuffer('_u');
    const v = this.getBuffer('_v');
    if (u === undefined || v === undefined) {
      throw new ShapeError({ op: 'SpectralNorm.forward', expected: 'a 1-D weight, as at construction', given: `shape ${formatShape(weight.shape)}` });
    }
    const layout = matrixLayout(weight.shape, this.dim);
    if (!this.training || u.size !== layout.rows || v.size !== layout.cols) {
      // Eval: sigma = u^T M v from the stored vectors, nothing moves. (A shape mismatch throws there.)
      const { output, sigma } = spectralNormWeight(weight, u, v, { dim: this.dim });
      this.lastSigma = sigma;
      return output;
    }
    const us = Float64Array.from(u.data);
    const vs = Float64Array.from(v.data);
    // The iteration's own u^T M v saves a pass over the weight; the buffers keep u and v in their dtype.
    const { sigma } = iterate(weight, layout, us, vs, { iterations: this.nPowerIterations, eps: this.eps });
    u.data.set(us);
    v.data.set(vs);
    this.lastSigma = sigma;
    return divideBySigma(weight, layout, us, vs, sigma);
  }

  /** The original is the value itself (as in PyTorch): assigning W stores W, which reads back as W / sigma. */
  rightInverse(value: Tensor): Tensor[] {
    return [value];
  }
}

function checkIterations(op: string, name: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new OptionError({ op, expected: `${name} to be an integer >= ${min}`, given: `${name} = ${String(value)}` });
  }
  return value;
}

function randomUnitVector(length: number, generator: Generator, eps: number): Float64Array {
  const values = new Float64Array(length);
  let sumSquares = 0;
  for (let i = 0; i < length; i++) {
    values[i] = generator.normal();
    sumSquares += values[i]! * values[i]!;
  }
  const inv = 1 / Math.max(Math.sqrt(sumSquares), eps);
  for (let i = 0; i < length; i++) values[i]! *= inv;
  return values;
}

export interface SpectralNormOptions extends Omit<SpectralNormParametrizationOptions, 'dim'> {
  /** The parameter to parametrize (default 'weight'). */
  name?: string;
  /** The dim moved first (default null: 1 for ConvTranspose2d, whose weight is [in, out, kH, kW], else 0). */
  dim?: number | null;
}

/**
 * Builds the SpectralNorm parametrization for `module[name]` without registering it, after the
 * checks `spectralNorm` makes; the warm-up runs on the tensor's current value. What the
 * `spectral-norm` plugin's `create` calls.
 */
export function createSpectralNorm(module: Module, name: string, options: Omit<SpectralNormOptions, 'name'> = {}): SpectralNorm {
  const op = 'spectralNorm';
  const weight = targetTensor(op, module, name);
  checkNotParametrizedWith(op, module, name, SpectralNorm, 'spectral norm');
  if (weight.ndim === 0) throw new ShapeError({ op, expected: 'a tensor with at least 1 dim', given: `a scalar ${module.constructor.name}.${name} (shape [])` });
  const dim = options.dim === undefined || options.dim === null ? (module instanceof ConvTranspose2d ? 1 : 0) : checkDimOption(op, options.dim, { allowNull: false })!;
  checkDimInRange(op, dim, weight.shape, `${module.constructor.name}.${name}`);
  return noGrad(() => new SpectralNorm(weight, { ...options, dim }));
}

/**
 * Spectral Normalization (Miyato et al., ICLR 2018) on `module[name]`, like
 * `torch.nn.utils.parametrizations.spectral_norm`: the weight becomes `W / sigma(W)`, sigma its
 * largest singular value (the weight seen as a matrix with `dim` first), estimated by power
 * iteration with persistent `u` and `v` buffers. Gradients flow through sigma.
 *
 * - Registration runs power iterations until sigma settles (at most `warmUpIterations`, 100), so
 *   even an eval read before any training divides by a converged sigma (the old hook-based
 *   `torch.nn.utils.spectral_norm` silently divides by a random estimate there, and PyTorch's
 *   parametrization by a 15-iteration one).
 * - Training reads run `nPowerIterations` (1) iterations each; eval reads run none and use
 *   `u^T M v` from the stored vectors: deterministic, nothing changes.
 * - `sigma` of the last read: `spectralNormOf(module)!.sigma`.
 * - State-dict keys are PyTorch's: `parametrizations.weight.original`, `parametrizations.weight.0._u`,
 *   `parametrizations.weight.0._v` (`1._u` ... when chained second).
 *
 * Each read of `module.weight` recomputes the weight and, in training, iterates again: wrap a
 * forward pass that calls the module several times in `cached(() => ...)` to compute it once.
 * Returns the module.
 *
 * @example
 * const critic = spectralNorm(new Linear({ inFeatures: 128, outFeatures: 1 }));
 * critic.forward(x); // uses W / sigma; in training, one power iteration per read
 */
export function spectralNorm<M extends Module>(module: M, options: SpectralNormOptions = {}): M {
  checkOptionKeys('spectralNorm', options, ['name', ...SPECTRAL_NORM_PARAMETRIZATION_KEYS]);
  const name = options.name ?? 'weight';
  const { name: _name, ...rest } = options;
  return registerParametrization(module, name, createSpectralNorm(module, name, rest));
}

/** The SpectralNorm parametrization on `module[name]` (to read its `sigma`), or undefined. */
export function spectralNormOf(module: Module, name = 'weight'): SpectralNorm | undefined {
  const list = parametrizationsOf(module, name);
  if (list === undefined) return undefined;
  for (let i = 0; i < list.length; i++) {
    const parametrization = list.at(i);
    if (parametrization instanceof SpectralNorm) return parametrization;
  }
  return undefined;
}
