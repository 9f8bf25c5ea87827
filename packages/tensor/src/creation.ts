import { allocate, checkDType, checkShape, shapeSize, type DType, type TypedArray } from './dtype';
import { ShapeError, ValueError, formatShape } from './errors';
import type { Generator} from './random';
import { defaultGenerator } from './random';
import { Tensor, checkTensor, type NestedArray } from './tensor';

export interface TensorOptions {
  shape?: readonly number[];
  dtype?: DType;
  requiresGrad?: boolean;
}

export interface RandomOptions {
  dtype?: DType;
  requiresGrad?: boolean;
  generator?: Generator;
}

function inferShape(data: NestedArray): number[] {
  const shape: number[] = [];
  let level: NestedArray = data;
  while (Array.isArray(level)) {
    shape.push(level.length);
    if (level.length === 0) break;
    level = level[0]!;
  }
  return shape;
}

function flattenInto(data: NestedArray, shape: readonly number[], axis: number, out: number[]): void {
  if (axis === shape.length) {
    if (typeof data !== 'number') {
      throw new ShapeError({ op: 'tensor', expected: 'a rectangular nested array of numbers', given: 'a ragged array' });
    }
    out.push(data);
    return;
  }
  if (!Array.isArray(data) || data.length !== shape[axis]) {
    throw new ShapeError({
      op: 'tensor',
      expected: `a rectangular nested array (length ${shape[axis]} at depth ${axis})`,
      given: Array.isArray(data) ? `length ${data.length}` : 'a number',
    });
  }
  for (const item of data) flattenInto(item, shape, axis + 1, out);
}

/**
 * Makes a tensor from a number, nested arrays or a typed array.
 * @example tensor([[1, 2], [3, 4]], { requiresGrad: true })
 */
export function tensor(data: NestedArray | TypedArray | readonly number[], options: TensorOptions = {}): Tensor {
  const dtype: DType = options.dtype === undefined ? (data instanceof Float64Array ? 'float64' : 'float32') : checkDType('tensor', options.dtype);
  if (options.shape !== undefined) checkShape('tensor', options.shape);
  let values: TypedArray;
  let shape: readonly number[];
  if (data instanceof Float32Array || data instanceof Float64Array) {
    values = dtype === 'float64' ? Float64Array.from(data) : Float32Array.from(data);
    shape = options.shape ?? [data.length];
  } else {
    const inferred = inferShape(data as NestedArray);
    const flat: number[] = [];
    flattenInto(data as NestedArray, inferred, 0, flat);
    values = dtype === 'float64' ? Float64Array.from(flat) : Float32Array.from(flat);
    shape = options.shape ?? inferred;
  }
  if (shapeSize(shape) !== values.length) {
    throw new ShapeError({
      op: 'tensor',
      expected: `${shapeSize(shape)} values for shape ${formatShape(shape)}`,
      given: `${values.length} values`,
    });
  }
  return new Tensor(values, shape, options.requiresGrad ?? false);
}

/** A scalar (shape []) tensor. */
export function scalar(value: number, dtype: DType = 'float32'): Tensor {
  return new Tensor(allocate(checkDType('scalar', dtype), 1).fill(value), []);
}

/** A checked, zero-filled array for a factory named `op` (an unknown dtype or a bad shape throws, naming `op`). */
function allocateFor(op: string, shape: readonly number[], dtype: DType | undefined): TypedArray {
  checkShape(op, shape);
  return allocate(dtype === undefined ? 'float32' : checkDType(op, dtype), shapeSize(shape));
}

function filled(op: string, shape: readonly number[], value: number, options: Omit<TensorOptions, 'shape'>): Tensor {
  return new Tensor(allocateFor(op, shape, options.dtype).fill(value), shape, options.requiresGrad ?? false);
}

export function full(shape: readonly number[], value: number, options: Omit<TensorOptions, 'shape'> = {}): Tensor {
  return filled('full', shape, value, options);
}

export function zeros(shape: readonly number[], options: Omit<TensorOptions, 'shape'> = {}): Tensor {
  return filled('zeros', shape, 0, options);
}

export function ones(shape: readonly number[], options: Omit<TensorOptions, 'shape'> = {}): Tensor {
  return filled('ones', shape, 1, options);
}

export function zerosLike(t: Tensor): Tensor {
  checkTensor('zerosLike', t, 't');
  return zeros(t.shape, { dtype: t.dtype });
}

export function onesLike(t: Tensor): Tensor {
  checkTensor('onesLike', t, 't');
  return ones(t.shape, { dtype: t.dtype });
}

/** `[start, start + step, ...)` up to `end` (exclusive). */
export function arange(start: number, end?: number, step = 1, options: Omit<TensorOptions, 'shape'> = {}): Tensor {
  if (end === undefined) {
    end = start;
    start = 0;
  }
  if (step === 0 || !Number.isFinite(step)) {
    throw new ValueError({ op: 'arange', expected: 'a finite non-zero step', given: `step = ${step}` });
  }
  if (!Number.isFinite(start) || !Number.isFinite(end)) {
    throw new ValueError({ op: 'arange', expected: 'finite start and end', given: `start = ${start}, end = ${end}` });
  }
  const count = Math.max(0, Math.ceil((end - start) / step));
  const values = allocateFor('arange', [count], options.dtype);
  for (let i = 0; i < count; i++) values[i] = start + i * step;
  return new Tensor(values, [count], options.requiresGrad ?? false);
}

/** Uniform in [low, high). */
export function rand(shape: readonly number[], options: RandomOptions & { low?: number; high?: number } = {}): Tensor {
  const generator = options.generator ?? defaultGenerator();
  const low = options.low ?? 0;
  const high = options.high ?? 1;
  const values = allocateFor('rand', shape, options.dtype);
  for (let i = 0; i < values.length; i++) values[i] = low + (high - low) * generator.uniform();
  return new Tensor(values, shape, options.requiresGrad ?? false);
}

/** Normal with the given mean and std (standard normal by default). */
export function randn(shape: readonly number[], options: RandomOptions & { mean?: number; std?: number } = {}): Tensor {
  const generator = options.generator ?? defaultGenerator();
  const mean = options.mean ?? 0;
  const std = options.std ?? 1;
  const values = allocateFor('randn', shape, options.dtype);
  for (let i = 0; i < values.length; i++) values[i] = mean + std * generator.normal();
  return new Tensor(values, shape, options.requiresGrad ?? false);
}

/** Integers in [low, high) stored as floats (class ids, token ids). */
export function randint(low: number, high: number, shape: readonly number[], options: RandomOptions = {}): Tensor {
  const generator = options.generator ?? defaultGenerator();
  const values = allocateFor('randint', shape, options.dtype);
  for (let i = 0; i < values.length; i++) values[i] = low + generator.integer(high - low);
  return new Tensor(values, shape, false);
}
