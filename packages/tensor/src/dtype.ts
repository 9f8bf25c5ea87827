export type DType = 'float32' | 'float64';
export type TypedArray = Float32Array | Float64Array;

export function allocate(dtype: DType, size: number): TypedArray {
  return dtype === 'float64' ? new Float64Array(size) : new Float32Array(size);
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
