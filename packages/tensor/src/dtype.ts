import { DTypeError, ShapeError, formatShape } from './errors';
import { takePooled } from './buffer-pool';

export type DType = 'float32' | 'float64';
export type TypedArray = Float32Array | Float64Array;

const DTYPES: readonly string[] = ['float32', 'float64'];

/** Returns `value` as a DType, or throws a DTypeError naming `op` (an unknown dtype is never read as float32). */
export function checkDType(op: string, value: unknown): DType {
  if (typeof value !== 'string' || !DTYPES.includes(value)) {
    throw new DTypeError({ op, expected: "dtype 'float32' or 'float64'", given: typeof value === 'string' ? `dtype '${value}'` : `dtype ${String(value)}` });
  }
  return value as DType;
}

/** Returns `shape` when it is an array of non-negative integers, or throws a ShapeError naming `op` and the shape. */
export function checkShape(op: string, shape: unknown): readonly number[] {
  if (!Array.isArray(shape)) {
    throw new ShapeError({ op, expected: 'a shape (an array of non-negative integers)', given: typeof shape === 'number' ? `number ${shape}` : String(shape) });
  }
  for (const dim of shape) {
    if (!Number.isSafeInteger(dim) || (dim as number) < 0) {
      throw new ShapeError({ op, expected: 'a shape of non-negative integers', given: formatShape(shape as number[]) });
    }
  }
  return shape as number[];
}

/** A zeroed array of `size` elements: a recycled one from the caching allocator (buffer-pool.ts) when one is free. */
export function allocate(dtype: DType, size: number): TypedArray {
  return takePooled(dtype, size) ?? (dtype === 'float64' ? new Float64Array(size) : new Float32Array(size));
}

/**
 * `allocate` for an output that the caller overwrites in full before anyone reads it (a kernel's
 * result): a recycled array comes back with its old contents instead of paying a zeroing pass.
 */
export function allocateForOverwrite(dtype: DType, size: number): TypedArray {
  return takePooled(dtype, size, false) ?? (dtype === 'float64' ? new Float64Array(size) : new Float32Array(size));
}

export function dtypeOf(array: TypedArray): DType {
  return array instanceof Float64Array ? 'float64' : 'float32';
}

/** The result dtype of an op over several inputs: float64 wins. */
export function promoteDTypes(...dtypes: DType[]): DType {
  return dtypes.includes('float64') ? 'float64' : 'float32';
}

/** Copies `array` into the requested dtype (no copy when it already has it). */
export function castArray(array: TypedArray, dtype: DType): TypedArray {
  if (dtypeOf(array) === dtype) return array;
  return dtype === 'float64' ? Float64Array.from(array) : Float32Array.from(array);
}

export function shapeSize(shape: readonly number[]): number {
  let size = 1;
  for (const dim of shape) size *= dim;
  return size;
}

export function stridesOf(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let stride = 1;
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    strides[axis] = stride;
    stride *= shape[axis]!;
  }
  return strides;
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
