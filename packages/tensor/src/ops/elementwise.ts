import { customOp } from '../autograd';
import { allocate, allocateForOverwrite, promoteDTypes, sameShape, shapeSize, type TypedArray } from '../dtype';
import { ValueError } from '../errors';
import { Tensor, checkTensor, checkTensorOrNumber } from '../tensor';
import { activeKernels } from '../kernels/backend';
import type { BinaryBroadcast, BinaryKernelOp } from '../kernels/types';
import { broadcastIndex, broadcastShapes, reduceToShape } from './broadcast';

export type TensorLike = Tensor | number;

/** Turns a number into a scalar tensor of the other operand's dtype. */
export function asTensor(value: TensorLike, like?: Tensor): Tensor {
  if (value instanceof Tensor) return value;
  const data = allocate(like?.dtype ?? 'float32', 1);
  data[0] = value;
  return new Tensor(data, []);
}

type BinaryFn = (x: number, y: number) => number;

/**
 * How the output reads `a` and `b` under broadcasting to `shape`, from the cheapest kind that fits:
 * equal shapes, a scalar operand, b repeating along the output (a bias), or flat indices.
 */
export function broadcastKind(aShape: readonly number[], bShape: readonly number[], shape: readonly number[]): BinaryBroadcast {
  if (sameShape(aShape, bShape)) return { kind: 'same' };
  const [aSize, bSize, size] = [shapeSize(aShape), shapeSize(bShape), shapeSize(shape)];
  if (bSize === 1 && size === aSize) return { kind: 'scalar-b' };
  if (aSize === 1 && size === bSize) return { kind: 'scalar-a' };
  if (size === aSize && bSize > 0 && sameShape(trimLeadingOnes(bShape), shape.slice(shape.length - trimLeadingOnes(bShape).length))) {
    return { kind: 'rows-b', period: bSize };
  }
  const runs = size === aSize && bSize > 0 ? runsOf(bShape, shape) : null;
  if (runs !== null) return { kind: 'runs-b', ...runs };
  return { kind: 'index', a: broadcastIndex(aShape, shape), b: broadcastIndex(bShape, shape) };
}

/**
 * Where `bShape`, aligned to the right of `shape`, is one block of `shape`'s dims followed by ones (a
 * per-channel [C, 1, 1] against [N, C, H, W]), the length of the runs each of b's values holds for
 * (the trailing dims' product) and how many values b cycles through; else null.
 */
function runsOf(bShape: readonly number[], shape: readonly number[]): { inner: number; period: number } | null {
  const offset = shape.length - bShape.length;
  let inner = 1;
  let d = shape.length - 1;
  for (; d >= offset && bShape[d - offset] === 1; d--) inner *= shape[d]!;
  for (; d >= offset && bShape[d - offset] !== 1; d--) if (bShape[d - offset] !== shape[d]) return null;
  for (; d >= offset; d--) if (bShape[d - offset] !== 1) return null;
  return inner > 1 ? { inner, period: shapeSize(bShape) } : null;
}

function trimLeadingOnes(shape: readonly number[]): readonly number[] {
  let start = 0;
  while (start < shape.length && shape[start] === 1) start++;
  return shape.slice(start);
}

/**
 * Applies a binary op elementwise under broadcasting: the kernel table's loops for the ops that have
 * one (`kernelOp`), else `fn` over the same broadcast kinds.
 */
function broadcastApply(op: string, a: Tensor, b: Tensor, kernelOp: BinaryKernelOp | null, fn: BinaryFn): { data: TypedArray; shape: number[] } {
  const dtype = promoteDTypes(a.dtype, b.dtype);
  const shape = sameShape(a.shape, b.shape) ? [...a.shape] : broadcastShapes(op, a.shape, b.shape);
  const out = allocateForOverwrite(dtype, shape.reduce((p, d) => p * d, 1));
  const broadcast = broadcastKind(a.shape, b.shape, shape);
  if (kernelOp !== null) {
    activeKernels().binary({ op: kernelOp, a: a.data, b: b.data, out, broadcast });
    return { data: out, shape };
  }
  const ad = a.data;
  const bd = b.data;
  const n = out.length;
  switch (broadcast.kind) {
    case 'same': for (let i = 0; i < n; i++) out[i] = fn(ad[i]!, bd[i]!); break;
    case 'scalar-b': for (let i = 0; i < n; i++) out[i] = fn(ad[i]!, bd[0]!); break;
    case 'scalar-a': for (let i = 0; i < n; i++) out[i] = fn(ad[0]!, bd[i]!); break;
    case 'rows-b': for (let i = 0; i < n; i++) out[i] = fn(ad[i]!, bd[i % broadcast.period]!); break;
    case 'runs-b': for (let i = 0; i < n; i++) out[i] = fn(ad[i]!, bd[Math.floor(i / broadcast.inner) % broadcast.period]!); break;
    case 'index': for (let i = 0; i < n; i++) out[i] = fn(ad[broadcast.a[i]!]!, bd[broadcast.b[i]!]!); break;
  }
  return { data: out, shape };
}

/** Gathers `t` broadcast to `shape` (for backward rules that need the other operand per element). */
function expandData(t: Tensor, shape: readonly number[]): TypedArray {
  if (sameShape(t.shape, shape)) return t.data;
  const out = allocate(t.dtype, shapeSize(shape));
  if (t.size === 1) return out.fill(t.data[0]!);
  const index = broadcastIndex(t.shape, shape);
  for (let i = 0; i < index.length; i++) out[i] = t.data[index[i]!]!;
  return out;
}

/** A gradient rule of a binary op: per element from (g, x, y, out), or g (op) the other operand on the kernel table. */
type BinaryGradient = ((g: number, x: number, y: number, out: number) => number) | { kernel: BinaryKernelOp };

function binary(
  op: string,
  kernelOp: BinaryKernelOp | null,
  aLike: TensorLike,
  bLike: TensorLike,
  fn: BinaryFn,
  gradA: BinaryGradient | null,
  gradB: BinaryGradient | null,
): Tensor {
  checkTensorOrNumber(op, aLike, 'a'); checkTensorOrNumber(op, bLike, 'b');
  const a = asTensor(aLike, bLike instanceof Tensor ? bLike : undefined);
  const b = asTensor(bLike, a);
  const { data, shape } = broadcastApply(op, a, b, kernelOp, fn);
  const dtype = promoteDTypes(a.dtype, b.dtype);
  return customOp({
    op,
    inputs: [a, b],
    data,
    shape,
    backward: (g) => {
      let operands: { xs: TypedArray; ys: TypedArray } | null = null;
      const gradient = (rule: BinaryGradient, other: Tensor): TypedArray => {
        if (typeof rule !== 'function') {
          // g (op) the other operand read under broadcasting: the forward's own loops, no gather.
          const full = allocateForOverwrite(dtype, g.length);
          activeKernels().binary({ op: rule.kernel, a: g, b: other.data, out: full, broadcast: broadcastKind(shape, other.shape, shape) });
          return full;
        }
        operands ??= { xs: expandData(a, shape), ys: expandData(b, shape) };
        const { xs, ys } = operands;
        const full = allocateForOverwrite(dtype, g.length);
        for (let i = 0; i < g.length; i++) full[i] = rule(g[i]!, xs[i]!, ys[i]!, data[i]!);
        return full;
      };
      return [
        a.requiresGrad && gradA ? reduceToShape(gradient(gradA, b), shape, a.shape, a.dtype) : null,
        b.requiresGrad && gradB ? reduceToShape(gradient(gradB, a), shape, b.shape, b.dtype) : null,
      ];
    },
  });
}

/**
 * a + sign * b: the gradient is g (summed to each operand's shape), negated for b when subtracting,
 * so neither operand is gathered per element in backward.
 */
function addSigned(op: 'add' | 'sub', a: TensorLike, b: TensorLike, sign: 1 | -1): Tensor {
  checkTensorOrNumber(op, a, 'a'); checkTensorOrNumber(op, b, 'b');
  const ta = asTensor(a, b instanceof Tensor ? b : undefined);
  const tb = asTensor(b, ta);
  const { data, shape } = broadcastApply(op, ta, tb, op, sign === 1 ? (x, y) => x + y : (x, y) => x - y);
  return customOp({
    op,
    inputs: [ta, tb],
    data,
    shape,
    backward: (g) => {
      let gb: TypedArray | null = null;
      if (tb.requiresGrad) {
        const summed = reduceToShape(g, shape, tb.shape, tb.dtype);
        // reduceToShape returns g itself when nothing is summed, and g must stay intact: negate into a fresh array then.
        gb = sign === 1 ? summed : summed === g ? allocate(tb.dtype, g.length) : summed;
        if (sign === -1) for (let i = 0; i < gb.length; i++) gb[i] = -summed[i]!;
      }
      return [ta.requiresGrad ? reduceToShape(g, shape, ta.shape, ta.dtype) : null, gb];
    },
  });
}

export function add(a: TensorLike, b: TensorLike): Tensor {
  return addSigned('add', a, b, 1);
}

export function sub(a: TensorLike, b: TensorLike): Tensor {
  return addSigned('sub', a, b, -1);
}

export function mul(a: TensorLike, b: TensorLike): Tensor {
  return binary('mul', 'mul', a, b, (x, y) => x * y, { kernel: 'mul' }, { kernel: 'mul' });
}

export function div(a: TensorLike, b: TensorLike): Tensor {
  return binary('div', 'div', a, b, (x, y) => x / y, { kernel: 'div' }, (g, x, y) => (-g * x) / (y * y));
}

/** `a ** b`; the gradient to the exponent uses log(a) and is 0 where a <= 0. */
export function pow(a: TensorLike, b: TensorLike): Tensor {
  return binary(
    'pow',
    null,
    a,
    b,
    (x, y) => Math.pow(x, y),
    (g, x, y) => (y === 0 ? 0 : g * y * Math.pow(x, y - 1)),
    (g, x, _y, out) => (x > 0 ? g * out * Math.log(x) : 0),
  );
}

/** Elementwise max; at ties the gradient goes to `a`. */
export function maximum(a: TensorLike, b: TensorLike): Tensor {
  return binary('maximum', 'maximum', a, b, (x, y) => (x >= y ? x : y), (g, x, y) => (x >= y ? g : 0), (g, x, y) => (x >= y ? 0 : g));
}

/** Elementwise min; at ties the gradient goes to `a`. */
export function minimum(a: TensorLike, b: TensorLike): Tensor {
  return binary('minimum', 'minimum', a, b, (x, y) => (x <= y ? x : y), (g, x, y) => (x <= y ? g : 0), (g, x, y) => (x <= y ? 0 : g));
}

/** `condition ? a : b` elementwise (condition nonzero = true); no gradient to the condition. */
export function where(condition: Tensor, a: TensorLike, b: TensorLike): Tensor {
  checkTensor('where', condition, 'condition'); checkTensorOrNumber('where', a, 'a'); checkTensorOrNumber('where', b, 'b');
  const ta = asTensor(a, b instanceof Tensor ? b : condition);
  const tb = asTensor(b, ta);
  const shape = broadcastShapes('where', broadcastShapes('where', condition.shape, ta.shape), tb.shape);
  const ci = broadcastIndex(condition.shape, shape);
  const ai = broadcastIndex(ta.shape, shape);
  const bi = broadcastIndex(tb.shape, shape);
  const dtype = promoteDTypes(ta.dtype, tb.dtype);
  const data = allocate(dtype, ci.length);
  for (let i = 0; i < data.length; i++) data[i] = condition.data[ci[i]!]! !== 0 ? ta.data[ai[i]!]! : tb.data[bi[i]!]!;
  return customOp({
    op: 'where',
    inputs: [condition, ta, tb],
    data,
    shape,
    backward: (g) => {
      const ga = allocate(dtype, g.length);
      const gb = allocate(dtype, g.length);
      for (let i = 0; i < g.length; i++) {
        if (condition.data[ci[i]!]! !== 0) ga[i] = g[i]!;
        else gb[i] = g[i]!;
      }
      return [
        null,
        ta.requiresGrad ? reduceToShape(ga, shape, ta.shape, ta.dtype) : null,
        tb.requiresGrad ? reduceToShape(gb, shape, tb.shape, tb.dtype) : null,
      ];
    },
  });
}

/**
 * One elementwise op with its derivative. `derivative(x, y)` receives the input and the output
 * value and returns dy/dx.
 */
export function unary(op: string, x: Tensor, fn: (v: number) => number, derivative: (v: number, out: number) => number): Tensor {
  checkTensor(op, x, 'x');
  const input = x.data;
  const data = allocate(x.dtype, input.length);
  for (let i = 0; i < data.length; i++) data[i] = fn(input[i]!);
  return customOp({
    op,
    inputs: [x],
    data,
    shape: x.shape,
    backward: (g) => {
      const gx = allocate(x.dtype, g.length);
      for (let i = 0; i < g.length; i++) gx[i] = g[i]! * derivative(input[i]!, data[i]!);
      return [gx];
    },
  });
}

export const neg = (x: Tensor): Tensor => unary('neg', x, (v) => -v, () => -1);
export const exp = (x: Tensor): Tensor => unary('exp', x, Math.exp, (_v, out) => out);
export const log = (x: Tensor): Tensor => unary('log', x, Math.log, (v) => 1 / v);
export const sqrt = (x: Tensor): Tensor => unary('sqrt', x, Math.sqrt, (_v, out) => 0.5 / out);
export const rsqrt = (x: Tensor): Tensor => unary('rsqrt', x, (v) => 1 / Math.sqrt(v), (v, out) => -0.5 * out / v);
/** |x|, with gradient 0 at 0 (like PyTorch). */
export const abs = (x: Tensor): Tensor => unary('abs', x, Math.abs, (v) => (v > 0 ? 1 : v < 0 ? -1 : 0));
export const square = (x: Tensor): Tensor => unary('square', x, (v) => v * v, (v) => 2 * v);
export const sin = (x: Tensor): Tensor => unary('sin', x, Math.sin, Math.cos);
export const cos = (x: Tensor): Tensor => unary('cos', x, Math.cos, (v) => -Math.sin(v));

/** Clamps into [min, max]; the gradient passes where min <= x <= max (PyTorch's rule). */
export function clamp(x: Tensor, min?: number, max?: number): Tensor {
  const low = min ?? -Infinity;
  const high = max ?? Infinity;
  if (low > high) throw new ValueError({ op: 'clamp', expected: 'min <= max', given: `min = ${low}, max = ${high}` });
  return unary(
    'clamp',
    x,
    (v) => (v < low ? low : v > high ? high : v),
    (v) => (v >= low && v <= high ? 1 : 0),
  );
}
