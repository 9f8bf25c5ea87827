import { customOp } from '../autograd';
import { allocateForOverwrite } from '../dtype';
import { checkTensor, type Tensor } from '../tensor';
import { activeKernels } from '../kernels/backend';
import type { ActivationOp } from '../kernels/types';
import { unary } from './elementwise';
import { normalizeAxis } from './reduce';

export { erf } from '../kernels/js/math';

export const relu = (x: Tensor): Tensor => activation('relu', x);

export function leakyRelu(x: Tensor, negativeSlope = 0.01): Tensor {
  return unary('leakyRelu', x, (v) => (v > 0 ? v : negativeSlope * v), (v) => (v > 0 ? 1 : negativeSlope));
}

export const tanh = (x: Tensor): Tensor => activation('tanh', x);

/** 1 / (1 + exp(-x)), evaluated without overflow on either side. */
export const sigmoid = (x: Tensor): Tensor => activation('sigmoid', x);

/** x * sigmoid(x). */
export const silu = (x: Tensor): Tensor => activation('silu', x);

/** Exact GELU, x * Phi(x) (PyTorch's default `approximate='none'`). */
export const gelu = (x: Tensor): Tensor => activation('gelu', x);

/** One activation of the kernel table as one graph node (forward and derivative in the table's loops). */
function activation(op: ActivationOp, x: Tensor): Tensor {
  checkTensor(op, x, 'x');
  const input = x.data;
  const data = allocateForOverwrite(x.dtype, input.length);
  activeKernels().activation({ op, x: input, out: data });
  return customOp({
    op,
    inputs: [x],
    data,
    shape: x.shape,
    backward: (g) => {
      const gx = allocateForOverwrite(x.dtype, g.length);
      activeKernels().activationBackward({ op, x: input, out: data, gradOutput: g, gradX: gx });
      return [gx];
    },
  });
}

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
  const data = allocateForOverwrite(x.dtype, input.length);
  // Each exp of a row once, kept in float64 for the division (the output rounds once, as before).
  const exps = new Float64Array(length);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      const base = o * length * inner + j;
      let max = -Infinity;
      for (let k = 0; k < length; k++) max = Math.max(max, input[base + k * inner]!);
      let total = 0;
      if (op === 'softmax') {
        for (let k = 0; k < length; k++) {
          const e = Math.exp(input[base + k * inner]! - max);
          exps[k] = e;
          total += e;
        }
        for (let k = 0; k < length; k++) data[base + k * inner] = exps[k]! / total;
      } else {
        for (let k = 0; k < length; k++) total += Math.exp(input[base + k * inner]! - max);
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
      const gx = allocateForOverwrite(x.dtype, g.length);
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
