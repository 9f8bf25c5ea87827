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
  const pooled = takePooled(dtype, size);
  if (pooled !== null) return pooled;
  return size >= UNINITIALIZED_ZEROED_MIN && NodeBuffer?.allocUnsafeSlow !== undefined ? uninitialized(dtype, size).fill(0) : zeroed(dtype, size);
}

/**
 * `allocate` for an output that the caller overwrites in full before anyone reads it (a kernel's
 * result): a recycled array comes back with its old contents instead of paying a zeroing pass, and a
 * fresh one is not zeroed either where the runtime allows it (Node).
 */
export function allocateForOverwrite(dtype: DType, size: number): TypedArray {
  return takePooled(dtype, size, false) ?? (size >= UNINITIALIZED_MIN ? uninitialized(dtype, size) : zeroed(dtype, size));
}

function zeroed(dtype: DType, size: number): TypedArray {
  return dtype === 'float64' ? new Float64Array(size) : new Float32Array(size);
}

/**
 * Node's `Buffer.allocUnsafeSlow`, where there is one: memory from malloc, not zeroed (a typed array's
 * memory comes from calloc). Besides the zeroing pass it saves, glibc hands large malloc'd blocks back
 * to the next allocation of their size without new page faults, where calloc'd ones kept faulting
 * (measured on Node 20: add on 3M floats 5.5-6.0 -> 3.8-3.9 ms, 350-700 -> 1 minor page fault per call;
 * an allocation of 64K floats 14.3 -> 3.0 us). Browsers have no uninitialized allocation: typed arrays.
 */
const NodeBuffer = (globalThis as { Buffer?: { allocUnsafeSlow?: (bytes: number) => Uint8Array } }).Buffer;
/** Elements from which an overwritten output comes uninitialized (below, V8's own small arrays are as cheap). */
const UNINITIALIZED_MIN = 1024;
/** Elements from which a zeroed array is a malloc'd one filled with zeros (128 KiB: where calloc starts to mmap fresh pages). */
const UNINITIALIZED_ZEROED_MIN = 32 * 1024;

/**
 * For the tests: fill every uninitialized array with NaN, so a kernel that leaves an element unwritten
 * shows it (NORMKIT_POISON_UNINITIALIZED=1 sets it for a whole process, as one of CI's passes does).
 */
export const uninitializedArrays = {
  poison: (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.NORMKIT_POISON_UNINITIALIZED === '1',
};

function uninitialized(dtype: DType, size: number): TypedArray {
  if (NodeBuffer?.allocUnsafeSlow === undefined) return zeroed(dtype, size);
  const bytes = NodeBuffer.allocUnsafeSlow(size * (dtype === 'float64' ? 8 : 4));
  const array = dtype === 'float64' ? new Float64Array(bytes.buffer as ArrayBuffer, 0, size) : new Float32Array(bytes.buffer as ArrayBuffer, 0, size);
  return uninitializedArrays.poison ? array.fill(Number.NaN) : array;
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
