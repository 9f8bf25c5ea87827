import { ValueError, formatShape } from './errors';
import type { Tensor} from './tensor';
import { noGrad } from './tensor';

export interface GradcheckOptions {
  /** Finite-difference step. */
  eps?: number;
  atol?: number;
  rtol?: number;
  /** Random upstream gradient for non-scalar outputs (fixed seed-free pattern by default). */
  upstream?: Float64Array;
}

export interface GradcheckFailure {
  input: number;
  index: number;
  analytic: number;
  numeric: number;
}

export interface GradcheckResult {
  ok: boolean;
  maxError: number;
  failures: GradcheckFailure[];
}

function upstreamPattern(size: number): Float64Array {
  const g = new Float64Array(size);
  // A deterministic, non-symmetric pattern so sums and means do not cancel gradient errors.
  for (let i = 0; i < size; i++) g[i] = Math.sin(1.3 * i + 0.7) + 0.1;
  return g;
}

function weightedOutput(out: Tensor, upstream: Float64Array): number {
  let total = 0;
  for (let i = 0; i < out.size; i++) total += out.data[i]! * upstream[i]!;
  return total;
}

/**
 * Compares autograd gradients of `sum(fn(inputs) * upstream)` with central finite differences,
 * for every element of every input that requires a gradient. Inputs must be float64.
 */
export function gradcheck(fn: (...inputs: Tensor[]) => Tensor, inputs: readonly Tensor[], options: GradcheckOptions = {}): GradcheckResult {
  const eps = options.eps ?? 1e-6;
  const atol = options.atol ?? 1e-5;
  const rtol = options.rtol ?? 1e-4;
  for (const input of inputs) {
    if (input.dtype !== 'float64') {
      throw new ValueError({ op: 'gradcheck', expected: 'float64 inputs', given: `${input.dtype} input of shape ${formatShape(input.shape)}` });
    }
  }
  for (const input of inputs) input.grad = null;
  const out = fn(...inputs);
  const upstream = options.upstream ?? upstreamPattern(out.size);
  if (out.requiresGrad) out.backward(new Float64Array(upstream));
  const failures: GradcheckFailure[] = [];
  let maxError = 0;
  inputs.forEach((input, inputIndex) => {
    if (!input.requiresGrad) return;
    const analytic = input.grad?.data;
    for (let i = 0; i < input.size; i++) {
      const original = input.data[i]!;
      input.data[i] = original + eps;
      const plus = noGrad(() => weightedOutput(fn(...inputs), upstream));
      input.data[i] = original - eps;
      const minus = noGrad(() => weightedOutput(fn(...inputs), upstream));
      input.data[i] = original;
      const numeric = (plus - minus) / (2 * eps);
      const value = analytic ? analytic[i]! : 0;
      const error = Math.abs(value - numeric);
      maxError = Math.max(maxError, error);
      if (error > atol + rtol * Math.abs(numeric)) failures.push({ input: inputIndex, index: i, analytic: value, numeric });
    }
  });
  return { ok: failures.length === 0, maxError, failures };
}
