// Helpers shared by this package's tests: hosts, independent float64 references, and replaying
// the PyTorch fixture steps. Not exported from the package.
import { expect } from 'vitest';
import { expectClose } from '@normkit/testkit';
import { Generator, noGrad, type Module, type Tensor, type TensorModule } from '@normkit/tensor';
import { fixtureTensor, type FixtureStep } from './__fixtures__/torch-weight';

/** A float64 tensor of N(0, 1) values from a seeded generator (no grad). */
export function gaussian(shape: readonly number[], seed: number, requiresGrad = false): Tensor {
  const generator = new Generator(seed);
  let size = 1;
  for (const d of shape) size *= d;
  const data = new Float64Array(size);
  for (let i = 0; i < size; i++) data[i] = generator.normal();
  return fixtureTensor({ shape: [...shape], data: Array.from(data) }, requiresGrad);
}

/** Rows of the weight seen as a matrix with `dim` first (the rest flattened in order), as nested arrays. */
export function asMatrix(weight: Tensor, dim: number): number[][] {
  const shape = weight.shape;
  const rows = shape[dim]!;
  const strides: number[] = [];
  let stride = 1;
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    strides[axis] = stride;
    stride *= shape[axis]!;
  }
  const others = shape.map((_, axis) => axis).filter((axis) => axis !== dim);
  const cols = weight.size / rows;
  const matrix: number[][] = [];
  for (let r = 0; r < rows; r++) {
    const row: number[] = [];
    for (let c = 0; c < cols; c++) {
      // Unravel c over the other dims, in order.
      let rest = c;
      let offset = r * strides[dim]!;
      for (let j = others.length - 1; j >= 0; j--) {
        const axis = others[j]!;
        offset += (rest % shape[axis]!) * strides[axis]!;
        rest = Math.floor(rest / shape[axis]!);
      }
      row.push(weight.data[offset]!);
    }
    matrix.push(row);
  }
  return matrix;
}

/**
 * The largest singular value of a matrix, independently of the package: power iteration on the
 * Gram matrix M^T M, in float64, from a fixed start, until the Rayleigh quotient stops moving
 * (at most 100000 steps). Throws when it has not converged.
 */
export function topSingularValue(matrix: number[][]): number {
  const rows = matrix.length;
  const cols = matrix[0]!.length;
  const gram: number[][] = Array.from({ length: cols }, (_, i) =>
    Array.from({ length: cols }, (_, j) => {
      let total = 0;
      for (let r = 0; r < rows; r++) total += matrix[r]![i]! * matrix[r]![j]!;
      return total;
    }),
  );
  let x = Array.from({ length: cols }, (_, i) => 1 + 0.1 * Math.sin(i + 1));
  let lambda = 0;
  for (let step = 0; step < 100000; step++) {
    const y = gram.map((row) => row.reduce((total, value, j) => total + value * x[j]!, 0));
    const norm = Math.sqrt(y.reduce((total, value) => total + value * value, 0));
    const next = norm;
    x = y.map((value) => value / norm);
    if (step > 10 && Math.abs(next - lambda) <= 1e-14 * next) return Math.sqrt(next);
    lambda = next;
  }
  throw new Error('topSingularValue: power iteration on the Gram matrix did not converge');
}

export interface ReplayOptions {
  atol?: number;
  rtol?: number;
  learningRate: number;
}

/**
 * Replays PyTorch fixture steps on `module` (already parametrized and loaded with the fixture's
 * initial state): for each step, the same mode, forward, backward of sum(output * upstream), and
 * comparisons of the output, every gradient and the state dict after the read (u and v); then in
 * training the same SGD step.
 */
export function replaySteps(module: TensorModule, steps: readonly FixtureStep[], options: ReplayOptions): void {
  const atol = options.atol ?? 1e-11;
  const rtol = options.rtol ?? 1e-9;
  for (const [index, step] of steps.entries()) {
    module.train(step.mode === 'train');
    module.zeroGrad();
    const x = fixtureTensor(step.x, true);
    const output = module.forward(x);
    expectClose(output, step.output.data, atol, rtol);
    output.backward(fixtureTensor(step.upstream));
    expectClose(x.grad!, step.gradX.data, atol, rtol);
    const parameters = new Map<string, Tensor>(module.namedParameters());
    for (const [name, grad] of Object.entries(step.grads)) {
      const parameter = parameters.get(name);
      expect(parameter, `step ${index}: parameter ${name}`).toBeDefined();
      expect(parameter!.grad, `step ${index}: gradient of ${name}`).not.toBeNull();
      expectClose(parameter!.grad!, grad.data, atol, rtol);
    }
    const state = module.stateDict();
    expect(Object.keys(state)).toEqual(Object.keys(step.stateAfter));
    for (const [key, value] of Object.entries(step.stateAfter)) expectClose(state[key]!, value.data, atol, rtol);
    if (step.mode === 'train') {
      noGrad(() => {
        for (const parameter of module.parameters()) {
          for (let i = 0; i < parameter.size; i++) parameter.data[i] = parameter.data[i]! - options.learningRate * parameter.grad!.data[i]!;
        }
      });
    }
  }
}

/** Every parameter and buffer of a module, copied, by state-dict key. */
export function snapshot(module: Module): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const [key, value] of Object.entries(module.stateDict())) out[key] = Array.from(value.data);
  return out;
}
