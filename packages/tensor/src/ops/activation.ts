import { customOp } from '../autograd';
import { allocate } from '../dtype';
import { checkTensor, type Tensor } from '../tensor';
import { unary } from './elementwise';
import { normalizeAxis } from './reduce';

const SQRT_PI = Math.sqrt(Math.PI);
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** erf to double precision: a positive-term series below 3, the erfc continued fraction above. */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 3) {
    // erf(x) = 2/sqrt(pi) e^{-x^2} sum_n 2^n x^{2n+1} / (1*3*...*(2n+1))
    let term = ax;
    let total = ax;
    const x2 = ax * ax;
    for (let n = 1; n < 200; n++) {
      term *= (2 * x2) / (2 * n + 1);
      total += term;
      if (term < total * 1e-17) break;
    }
    const value = (2 / SQRT_PI) * Math.exp(-x2) * total;
    return x < 0 ? -value : value;
  }
  // erfc(x) = e^{-x^2}/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))), evaluated backwards.
  let fraction = ax;
  for (let n = 60; n >= 1; n--) fraction = ax + n / 2 / fraction;
  const erfc = Math.exp(-ax * ax) / SQRT_PI / fraction;
  return x < 0 ? erfc - 1 : 1 - erfc;
}

export const relu = (x: Tensor): Tensor => unary('relu', x, (v) => (v > 0 ? v : 0), (v) => (v > 0 ? 1 : 0));

export function leakyRelu(x: Tensor, negativeSlope = 0.01): Tensor {
  return unary('leakyRelu', x, (v) => (v > 0 ? v : negativeSlope * v), (v) => (v > 0 ? 1 : negativeSlope));
}

export const tanh = (x: Tensor): Tensor => unary('tanh', x, Math.tanh, (_v, out) => 1 - out * out);

export const sigmoid = (x: Tensor): Tensor =>
  unary('sigmoid', x, (v) => (v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v))), (_v, out) => out * (1 - out));

/** x * sigmoid(x). */
export const silu = (x: Tensor): Tensor =>
  unary(
    'silu',
    x,
    (v) => v / (1 + Math.exp(-v)),
    (v) => {
      const s = 1 / (1 + Math.exp(-v));
      return s * (1 + v * (1 - s));
    },
  );

/** Exact GELU, x * Phi(x) (PyTorch's default `approximate='none'`). */
export const gelu = (x: Tensor): Tensor =>
  unary(
    'gelu',
    x,
    (v) => 0.5 * v * (1 + erf(v / Math.SQRT2)),
    (v) => 0.5 * (1 + erf(v / Math.SQRT2)) + v * INV_SQRT_2PI * Math.exp(-0.5 * v * v),
  );

/** Splits `shape` around `axis` into (outer, length, inner) for row-wise kernels. */
export function splitAroundAxis(shape: readonly number[], axis: number): { outer: number; length: number; inner: number } {
  let outer = 1;
  let inner = 1;
  for (let i = 0; i < axis; i++) outer *= shape[i]!;
  for (let i = axis + 1; i < shape.length; i++) inner *= shape[i]!;
  return { outer, length: shape[axis]!, inner };
}

function softmaxKernel(op: 'softmax' | 'logSoftmax', x: Tensor, axisArg: number): Tensor {
  const axis = normalizeAxis(op, axisArg, x.ndim);
  const { outer, length, inner } = splitAroundAxis(x.shape, axis);
  const input = x.data;
  const data = allocate(x.dtype, input.length);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      const base = o * length * inner + j;
      let max = -Infinity;
      for (let k = 0; k < length; k++) max = Math.max(max, input[base + k * inner]!);
      let total = 0;
      for (let k = 0; k < length; k++) total += Math.exp(input[base + k * inner]! - max);
      if (op === 'softmax') {
        for (let k = 0; k < length; k++) data[base + k * inner] = Math.exp(input[base + k * inner]! - max) / total;
      } else {
        const logTotal = Math.log(total) + max;
        for (let k = 0; k < length; k++) data[base + k * inner] = input[base + k * inner]! - logTotal;
      }
    }
  }
  return customOp({
    op,
    inputs: [x],
    data,
    shape: x.shape,
    backward: (g) => {
      const gx = allocate(x.dtype, g.length);
      for (let o = 0; o < outer; o++) {
        for (let j = 0; j < inner; j++) {
          const base = o * length * inner + j;
          let dot = 0;
          if (op === 'softmax') {
            for (let k = 0; k < length; k++) dot += g[base + k * inner]! * data[base + k * inner]!;
            for (let k = 0; k < length; k++) {
              const i = base + k * inner;
              gx[i] = data[i]! * (g[i]! - dot);
            }
          } else {
            for (let k = 0; k < length; k++) dot += g[base + k * inner]!;
            for (let k = 0; k < length; k++) {
              const i = base + k * inner;
              gx[i] = g[i]! - Math.exp(data[i]!) * dot;
            }
          }
        }
      }
      return [gx];
    },
  });
}

/** Softmax along `axis` (default last), one fused node. */
export function softmax(x: Tensor, axis = -1): Tensor {
  checkTensor('softmax', x, 'x');
  return softmaxKernel('softmax', x, axis);
}

/** log(softmax(x)) along `axis`, computed stably, one fused node. */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  checkTensor('logSoftmax', x, 'x');
  return softmaxKernel('logSoftmax', x, axis);
}
