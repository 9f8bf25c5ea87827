// Helpers shared by this package's tests (not exported from the package).
import { Generator, Parameter, Tensor, type DType, type GradientEntry } from '@normkit/tensor';

/** A tensor of N(0, 1) values from a seeded generator. */
export function gaussian(shape: readonly number[], seed: number, options: { dtype?: DType; requiresGrad?: boolean; scale?: number } = {}): Tensor {
  const generator = new Generator(seed);
  let size = 1;
  for (const d of shape) size *= d;
  const data = options.dtype === 'float32' ? new Float32Array(size) : new Float64Array(size);
  for (let i = 0; i < size; i++) data[i] = generator.normal() * (options.scale ?? 1);
  return new Tensor(data, shape, options.requiresGrad ?? false);
}

/** A parameter holding `values` with gradient `grad` (float64 unless told), as a named entry. */
export function entry(name: string, shape: readonly number[], values: readonly number[], grad: readonly number[], dtype: DType = 'float64'): GradientEntry {
  const make = (v: readonly number[]) => new Tensor(dtype === 'float64' ? Float64Array.from(v) : Float32Array.from(v), shape);
  const parameter = new Parameter(make(values));
  parameter.grad = make(grad);
  return { name, parameter };
}

/** A named entry with N(0, 1) values and N(0, gradScale^2) gradients. */
export function randomEntry(name: string, shape: readonly number[], seed: number, gradScale = 1, dtype: DType = 'float64'): GradientEntry {
  const parameter = new Parameter(gaussian(shape, seed, { dtype }));
  parameter.grad = gaussian(shape, seed + 1000, { dtype, scale: gradScale });
  return { name, parameter };
}

/** Copies of the gradients, to compare before and after. */
export function gradientsOf(entries: readonly GradientEntry[]): number[][] {
  return entries.map((e) => Array.from(e.parameter.grad!.data));
}
