import { refuseMask, Module, OptionError, ShapeError, allocate, broadcastIndex, checkTensor, customOp, formatShape, normalizeAxes, resolveOptions,
  type Normalizer, type NormalizerContext, type OptionsSchema, type Tensor, type TypedArray,
} from '@normkit/tensor';

/** L2Norm's options besides the axes: the one schema the constructor, the function, the plugin and the docs read. */
export const l2NormOptionsSchema = {
  p: { type: 'number', default: 2, min: 1, description: 'The norm order (F.normalize p); 2 = Euclidean.' },
  eps: { type: 'number', default: 1e-12, min: 0, minExclusive: true, description: "Lower bound of the norm, PyTorch's convention (TensorFlow bounds the squared norm)." },
} as const satisfies OptionsSchema;

export interface L2NormFunctionalOptions {
  /** Axes whose elements form one vector (default -1, the last; F.normalize's default dim is 1). */
  axes?: number | readonly number[];
  /** Norm order, a finite number >= 1 (default 2). */
  p?: number;
  /** Lower bound of the norm (default 1e-12): y = x / max(||x||_p, eps). */
  eps?: number;
  /** A one-element gain g: y = g * x / max(||x||_p, eps) (ScaleNorm). */
  scale?: Tensor | null;
  /** Name in errors and in the graph (default `l2Norm`). */
  op?: string;
}

/**
 * Lp normalization to unit length, exactly PyTorch's `F.normalize(x, p, dim, eps)`:
 *
 *   y = x / max(||x||_p, eps),   ||x||_p = (sum over `axes` of |x|^p)^(1/p)
 *
 * with an optional scalar gain g (y = g * x / max(||x||_p, eps): ScaleNorm). Where the norm is
 * below eps the divisor is the constant eps and no gradient flows through the norm (as
 * `clamp_min`). One autograd node with its analytic backward, for any set of axes:
 *
 *   dx_i = (g / m) * (dy_i - sign(x_i) |x_i|^(p-1) / n^p * sum_j dy_j x_j)   (n = ||x||_p = m >= eps)
 *   dx_i = (g / eps) * dy_i                                                 (n < eps)
 *
 * TensorFlow's `tf.math.l2_normalize` (and so Keras' `UnitNormalization`) bounds the **squared**
 * norm instead: x / sqrt(max(sum x^2, eps)) with eps 1e-12, i.e. this with eps = 1e-6. QKNorm's
 * 'l2' kind adds eps to the squared norm (x / sqrt(sum x^2 + eps)), which is smooth at 0.
 *
 * @example
 * const unit = l2Norm(randn([4, 16]));                     // rows of length 1
 * const cols = l2Norm(randn([4, 16]), { axes: 0, p: 1 });  // columns with unit L1 norm
 */
export function l2Norm(x: Tensor, options: L2NormFunctionalOptions = {}): Tensor {
  const op = options.op ?? 'l2Norm';
  const { axes, scale, op: _op, ...rest } = options;
  const { p, eps } = resolveOptions(op, l2NormOptionsSchema, rest);
  const reduced = checkL2NormInput(op, x, axes);
  const g = scale ?? null;
  if (g && g.size !== 1) throw new ShapeError({ op, expected: 'a one-element scale', given: `shape ${formatShape(g.shape)}` });
  return runLpNorm(op, x, reduced, p, eps, g);
}

/** A tensor of rank 1 or more; returns the normalised axes (default the last). */
function checkL2NormInput(op: string, x: Tensor, axes: number | readonly number[] | undefined): number[] {
  checkTensor(op, x, 'x');
  if (x.ndim === 0) throw new ShapeError({ op, expected: 'an input of rank 1 or more', given: 'a scalar' });
  return normalizeAxes(op, axes ?? -1, x.ndim);
}

function runLpNorm(op: string, x: Tensor, axes: readonly number[], p: number, eps: number, scale: Tensor | null): Tensor {
  const rowShape = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const rows = rowShape.reduce((a, b) => a * b, 1);
  // The vector each element belongs to.
  const rowOf = broadcastIndex(rowShape, x.shape);
  const xs = x.data;
  const sums = new Float64Array(rows);
  for (let i = 0; i < xs.length; i++) sums[rowOf[i]!]! += p === 2 ? xs[i]! * xs[i]! : Math.abs(xs[i]!) ** p;
  const norm = p === 2 ? sums.map(Math.sqrt) : sums.map((s) => s ** (1 / p));
  const divisor = norm.map((n) => Math.max(n, eps));
  const g = scale ? scale.data[0]! : 1;
  const out = allocate(x.dtype, x.size);
  for (let i = 0; i < xs.length; i++) out[i] = (g * xs[i]!) / divisor[rowOf[i]!]!;

  const backward = (gy: TypedArray) => {
    // dot = sum over the vector of dy * x.
    const dot = new Float64Array(rows);
    for (let i = 0; i < xs.length; i++) dot[rowOf[i]!]! += gy[i]! * xs[i]!;
    const gx = allocate(x.dtype, x.size);
    for (let i = 0; i < xs.length; i++) {
      const r = rowOf[i]!;
      const m = divisor[r]!;
      let value = gy[i]!;
      if (norm[r]! >= eps && norm[r]! > 0) {
        const n = norm[r]!;
        // d||x||_p / dx_i = sign(x_i) |x_i|^(p-1) / n^(p-1); one more 1/n from d(1/n)/dn = -1/n^2.
        const dNorm = p === 2 ? xs[i]! / n : (Math.sign(xs[i]!) * Math.abs(xs[i]!) ** (p - 1)) / n ** (p - 1);
        value -= (dNorm * dot[r]!) / n;
      }
      gx[i] = (g * value) / m;
    }
    if (!scale) return { x: gx };
    let gScale = 0;
    for (let r = 0; r < rows; r++) gScale += dot[r]! / divisor[r]!;
    return { x: gx, scale: Float64Array.of(gScale) };
  };
  return customOp({ op, inputs: { x, scale }, data: out, shape: x.shape, backward });
}

export interface L2NormOptions {
  /** Axes normalised together (default -1). */
  axes?: number | readonly number[];
  /** Norm order (default 2). */
  p?: number;
  /** Lower bound of the norm (default 1e-12). */
  eps?: number;
}

/**
 * Unit (Lp) normalization as a layer, `F.normalize` / Keras' `UnitNormalization`: every vector
 * along `axes` (default the last) scaled to length 1, `y = x / max(||x||_p, eps)`. No parameters,
 * no statistics over other samples; the nGPT-style hypersphere normalization and cosine-similarity
 * heads are built from it. Sibling of RMSNorm (x / rms(x) = sqrt(d) * x / ||x||, with eps inside
 * the root) and of ScaleNorm (this times one learned scalar).
 *
 * @example
 * const unit = new L2Norm();
 * const y = unit.forward(randn([2, 5, 64])); // every token has length 1
 */
export class L2Norm extends Module implements Normalizer {
  readonly axes: number | readonly number[];
  readonly p: number;
  readonly eps: number;

  constructor(options: L2NormOptions = {}) {
    super();
    if (typeof options !== 'object' || options === null) throw new OptionError({ op: 'L2Norm', expected: 'an options object', given: String(options) });
    const { axes, ...rest } = options;
    const resolved = resolveOptions('L2Norm', l2NormOptionsSchema, rest);
    this.axes = axes ?? -1;
    this.p = resolved.p;
    this.eps = resolved.eps;
  }

  override forward(x: Tensor, context: NormalizerContext = {}): Tensor {
    refuseMask('L2Norm.forward', context, 'each vector is normalised on its own');
    // p and eps were checked by the constructor; only the input is checked here.
    return runLpNorm('l2Norm', x, checkL2NormInput('l2Norm', x, this.axes), this.p, this.eps, null);
  }
}
