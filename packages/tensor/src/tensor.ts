import { runBackward, type BackwardOptions } from './autograd';
import { allocate, castArray, checkDType, dtypeOf, sameShape, shapeSize, type DType, type TypedArray } from './dtype';
import { DTypeError, ShapeError, ValueError, formatShape } from './errors';
// Types only: the ops import this file, so the chaining methods reach them through `chain` (see tensor-methods.ts).
import type * as Ops from './ops/index';
import type { ReduceOptions, VarOptions } from './ops/reduce';

/**
 * One node of the define-by-run graph: the op that produced a tensor, its inputs, and the
 * backward rule mapping the output gradient to one gradient per input (null: no gradient).
 * Backward rules work on plain typed arrays, shaped like the corresponding tensors.
 */
export interface GraphNode {
  readonly op: string;
  readonly inputs: readonly Tensor[];
  backward(gradOutput: TypedArray): ReadonlyArray<TypedArray | null>;
}

let gradEnabled = true;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs `fn` without recording a graph (like `torch.no_grad()`). */
export function noGrad<T>(fn: () => T): T {
  const previous = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = previous;
  }
}

/** Runs `fn` with graph recording on, even inside `noGrad`. */
export function enableGrad<T>(fn: () => T): T {
  const previous = gradEnabled;
  gradEnabled = true;
  try {
    return fn();
  } finally {
    gradEnabled = previous;
  }
}

export type NestedArray = number | NestedArray[];

/**
 * Marks tensors under a `Symbol.for` key, shared by every copy of @normkit/tensor in a program
 * (two packages depending on different versions), so a tensor of another copy is recognised
 * (`isTensor`) and refused by name instead of being read as a number.
 */
const TENSOR_BRAND = Symbol.for('normkit.tensor');

export class Tensor {
  #data: TypedArray;
  // Shared with detached views of the same data, as PyTorch shares a version counter.
  #version = { count: 0 };
  readonly shape: readonly number[];
  readonly dtype: DType;
  requiresGrad: boolean;
  /** Accumulated gradient of a leaf tensor after `backward()`. */
  grad: Tensor | null = null;
  /** The op that produced this tensor; null for leaves and for tensors made without grad. */
  node: GraphNode | null = null;
  /** Keep the gradient of a non-leaf tensor after backward (like `retain_grad()`). */
  retainsGrad = false;

  constructor(data: TypedArray, shape: readonly number[], requiresGrad = false) {
    if (!(data instanceof Float32Array || data instanceof Float64Array)) {
      throw new DTypeError({ op: 'Tensor', expected: 'data in a Float32Array or a Float64Array', given: describeValue(data) });
    }
    for (const dim of shape) {
      if (!Number.isInteger(dim) || dim < 0) {
        throw new ShapeError({ op: 'Tensor', expected: 'non-negative integer dimensions', given: formatShape(shape) });
      }
    }
    if (shapeSize(shape) !== data.length) {
      throw new ShapeError({
        op: 'Tensor',
        expected: `data of length ${shapeSize(shape)} for shape ${formatShape(shape)}`,
        given: `length ${data.length}`,
      });
    }
    this.#data = data;
    this.shape = Object.freeze([...shape]);
    this.dtype = dtypeOf(data);
    this.requiresGrad = requiresGrad;
  }

  /** The values, row-major. Writing elements in place is not tracked: see `bumpVersion`. */
  get data(): TypedArray {
    return this.#data;
  }

  /** Replaces the values (same length and dtype: the shape and dtype are fixed) and bumps the version. */
  set data(value: TypedArray) {
    if (!(value instanceof Float32Array || value instanceof Float64Array) || dtypeOf(value) !== this.dtype) {
      throw new DTypeError({ op: 'Tensor.data', expected: `a ${this.dtype === 'float64' ? 'Float64Array' : 'Float32Array'} (the tensor's dtype is ${this.dtype})`, given: describeValue(value) });
    }
    if (value.length !== this.size) {
      throw new ShapeError({ op: 'Tensor.data', expected: `${this.size} values (shape ${formatShape(this.shape)})`, given: `${value.length} values` });
    }
    this.#data = value;
    this.#version.count++;
  }

  /**
   * Counts in-place changes made through normkit (optimizer steps, `init` fills, `loadStateDict`,
   * parametrization copies, assigning `.data`), like PyTorch's `_version`. Backward refuses a graph
   * that saved this tensor at another version.
   */
  get version(): number {
    return this.#version.count;
  }

  /**
   * Records an in-place change normkit cannot see: call it after writing elements of `.data`
   * directly (`t.data[0] = 1`), so that graphs which saved this tensor refuse to backpropagate
   * stale values. (`setAutogradDebug(true)` catches forgotten calls, at a cost.)
   */
  bumpVersion(): void {
    this.#version.count++;
  }

  get [TENSOR_BRAND](): true {
    return true;
  }

  get ndim(): number {
    return this.shape.length;
  }

  get size(): number {
    return this.#data.length;
  }

  /** True for tensors not produced by a recorded op. */
  get isLeaf(): boolean {
    return this.node === null;
  }

  /**
   * Backpropagates from this tensor; `grad` defaults to 1 for a one-element tensor. A Tensor `grad`
   * has exactly this tensor's shape, as in PyTorch; a typed array (no shape) has as many elements,
   * read in row-major order; a number fills every element. The graph is
   * freed afterwards, as in PyTorch: a second backward through it throws an AutogradError unless
   * the first one passed `{ retainGraph: true }`.
   */
  backward(grad?: Tensor | TypedArray | number, options: BackwardOptions = {}): void {
    let seed: TypedArray;
    if (grad === undefined) {
      if (this.size !== 1) {
        throw new ShapeError({
          op: 'Tensor.backward',
          expected: 'a one-element tensor, or an explicit upstream gradient',
          given: `shape ${formatShape(this.shape)}`,
        });
      }
      seed = allocate(this.dtype, 1).fill(1);
    } else if (typeof grad === 'number') {
      seed = allocate(this.dtype, this.size).fill(grad);
    } else if (grad instanceof Float32Array || grad instanceof Float64Array) {
      // A bare array carries no shape: its length is all that can be checked.
      if (grad.length !== this.size) {
        throw new ShapeError({
          op: 'Tensor.backward',
          expected: `a gradient with ${this.size} elements (shape ${formatShape(this.shape)})`,
          given: `${grad.length} elements`,
        });
      }
      seed = castArray(grad, this.dtype);
    } else {
      if (!isTensor(grad)) {
        throw new ValueError({
          op: 'Tensor.backward',
          expected: 'a gradient given as a Tensor, a Float32Array or Float64Array, or a number',
          given: describeValue(grad),
        });
      }
      const g = checkTensor('Tensor.backward', grad, 'the gradient');
      // Like PyTorch, a tensor gradient has the output's shape: the same element count in another
      // shape (flat included) is refused.
      if (!sameShape(g.shape, this.shape)) {
        throw new ShapeError({
          op: 'Tensor.backward',
          expected: `a gradient of shape ${formatShape(this.shape)} (the shape of the tensor)`,
          given: `shape ${formatShape(g.shape)}`,
        });
      }
      seed = castArray(g.data, this.dtype);
    }
    runBackward(this, seed, options);
  }

  /** A tensor sharing this one's data, cut from the graph. */
  detach(): Tensor {
    const out = new Tensor(this.data, this.shape, false);
    out.#version = this.#version;
    return out;
  }

  /** A deep copy of the data, cut from the graph. */
  clone(): Tensor {
    return new Tensor(this.data.slice(), this.shape, false);
  }

  /** The tensor's data converted to `dtype`, as a new leaf (or itself when the dtype matches). */
  to(dtype: DType): Tensor {
    if (checkDType('Tensor.to', dtype) === this.dtype) return this;
    return new Tensor(castArray(this.data, dtype), this.shape, this.requiresGrad);
  }

  item(): number {
    if (this.size !== 1) {
      throw new ShapeError({ op: 'Tensor.item', expected: 'a one-element tensor', given: `shape ${formatShape(this.shape)}` });
    }
    return this.data[0]!;
  }

  /** Nested arrays shaped like the tensor (a number for a scalar). */
  toArray(): NestedArray {
    const build = (axis: number, offset: number): { value: NestedArray; next: number } => {
      if (axis === this.shape.length) return { value: this.data[offset]!, next: offset + 1 };
      const out: NestedArray[] = [];
      let cursor = offset;
      for (let i = 0; i < this.shape[axis]!; i++) {
        const built = build(axis + 1, cursor);
        out.push(built.value);
        cursor = built.next;
      }
      return { value: out, next: cursor };
    };
    return build(0, 0).value;
  }

  /** Keeps this non-leaf tensor's gradient in `.grad` after backward. */
  retainGrad(): this {
    this.retainsGrad = true;
    return this;
  }

  /** Sets requiresGrad on a leaf and returns it (like `requires_grad_()`). */
  requireGrad(value = true): this {
    if (!this.isLeaf && !value) {
      throw new ValueError({ op: 'Tensor.requireGrad', expected: 'a leaf tensor', given: `a tensor produced by ${this.node!.op}` });
    }
    this.requiresGrad = value;
    return this;
  }

  // Method chaining: `x.add(y).mul(z).sum()` is `sum(mul(add(x, y), z))`. Each method calls the functional op
  // of the same name (the primary API, documented there) with this tensor first; nothing is computed here.

  add(other: Tensor | number): Tensor { return chain('add').add(this, other); }
  sub(other: Tensor | number): Tensor { return chain('sub').sub(this, other); }
  mul(other: Tensor | number): Tensor { return chain('mul').mul(this, other); }
  div(other: Tensor | number): Tensor { return chain('div').div(this, other); }
  pow(exponent: Tensor | number): Tensor { return chain('pow').pow(this, exponent); }
  maximum(other: Tensor | number): Tensor { return chain('maximum').maximum(this, other); }
  minimum(other: Tensor | number): Tensor { return chain('minimum').minimum(this, other); }
  neg(): Tensor { return chain('neg').neg(this); }
  exp(): Tensor { return chain('exp').exp(this); }
  log(): Tensor { return chain('log').log(this); }
  sqrt(): Tensor { return chain('sqrt').sqrt(this); }
  rsqrt(): Tensor { return chain('rsqrt').rsqrt(this); }
  abs(): Tensor { return chain('abs').abs(this); }
  square(): Tensor { return chain('square').square(this); }
  sin(): Tensor { return chain('sin').sin(this); }
  cos(): Tensor { return chain('cos').cos(this); }
  clamp(min?: number, max?: number): Tensor { return chain('clamp').clamp(this, min, max); }

  relu(): Tensor { return chain('relu').relu(this); }
  leakyRelu(negativeSlope?: number): Tensor { return chain('leakyRelu').leakyRelu(this, negativeSlope); }
  tanh(): Tensor { return chain('tanh').tanh(this); }
  sigmoid(): Tensor { return chain('sigmoid').sigmoid(this); }
  silu(): Tensor { return chain('silu').silu(this); }
  gelu(): Tensor { return chain('gelu').gelu(this); }
  softmax(axis?: number): Tensor { return chain('softmax').softmax(this, axis); }
  logSoftmax(axis?: number): Tensor { return chain('logSoftmax').logSoftmax(this, axis); }

  sum(axes?: number | readonly number[], options?: ReduceOptions): Tensor { return chain('sum').sum(this, axes, options); }
  mean(axes?: number | readonly number[], options?: ReduceOptions): Tensor { return chain('mean').mean(this, axes, options); }
  variance(axes?: number | readonly number[], options?: VarOptions): Tensor { return chain('variance').variance(this, axes, options); }
  max(axes?: number | readonly number[], options?: ReduceOptions): Tensor { return chain('max').max(this, axes, options); }
  min(axes?: number | readonly number[], options?: ReduceOptions): Tensor { return chain('min').min(this, axes, options); }
  argmax(axis?: number): Tensor { return chain('argmax').argmax(this, axis); }

  matmul(other: Tensor): Tensor { return chain('matmul').matmul(this, other); }
  reshape(shape: readonly number[]): Tensor { return chain('reshape').reshape(this, shape); }
  flatten(startAxis?: number, endAxis?: number): Tensor { return chain('flatten').flatten(this, startAxis, endAxis); }
  unsqueeze(axis: number): Tensor { return chain('unsqueeze').unsqueeze(this, axis); }
  squeeze(axis?: number): Tensor { return chain('squeeze').squeeze(this, axis); }
  permute(order: readonly number[]): Tensor { return chain('permute').permute(this, order); }
  transpose(axisA?: number, axisB?: number): Tensor { return chain('transpose').transpose(this, axisA, axisB); }
  slice(axis: number, start: number, end?: number): Tensor { return chain('slice').slice(this, axis, start, end); }
  expand(shape: readonly number[]): Tensor { return chain('expand').expand(this, shape); }
  repeat(repeats: readonly number[]): Tensor { return chain('repeat').repeat(this, repeats); }

  toString(): string {
    return `Tensor(${formatShape(this.shape)}, ${this.dtype}${this.requiresGrad ? ', requiresGrad' : ''})`;
  }
}

/** The functional ops behind the chaining methods. */
export type TensorMethodOps = Pick<
  typeof Ops,
  | 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'maximum' | 'minimum' | 'neg' | 'exp' | 'log' | 'sqrt' | 'rsqrt' | 'abs' | 'square'
  | 'sin' | 'cos' | 'clamp' | 'relu' | 'leakyRelu' | 'tanh' | 'sigmoid' | 'silu' | 'gelu' | 'softmax' | 'logSoftmax'
  | 'sum' | 'mean' | 'variance' | 'max' | 'min' | 'argmax' | 'matmul' | 'reshape' | 'flatten' | 'unsqueeze' | 'squeeze'
  | 'permute' | 'transpose' | 'slice' | 'expand' | 'repeat'
>;

let methodOps: TensorMethodOps | null = null;

/** Called once by tensor-methods.ts (re-exported by index.ts): ops import Tensor, so Tensor cannot import them. */
export function installTensorMethodOps(ops: TensorMethodOps): readonly string[] {
  methodOps = ops;
  return Object.freeze(Object.keys(ops));
}

function chain(method: string): TensorMethodOps {
  if (methodOps === null) {
    throw new ValueError({
      op: `Tensor.${method}`,
      expected: 'the chaining methods installed by importing @normkit/tensor',
      given: 'a Tensor class loaded without the package entry point (an internal module imported directly)',
    });
  }
  return methodOps;
}

/** True for a tensor of this copy of @normkit/tensor or of another copy loaded in the same program. */
export function isTensor(value: unknown): value is Tensor {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[TENSOR_BRAND] === true;
}

/** How a value given where a tensor belongs reads in an error message: `a plain array of length 2`, `number 3`. */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (value instanceof Tensor) return value.toString();
  if (isTensor(value)) {
    let text = 'a Tensor';
    try {
      text = String(value);
    } catch {
      // A forged brand: keep the generic text.
    }
    return `${text} from another copy of @normkit/tensor`;
  }
  if (Array.isArray(value)) return `a plain array of length ${value.length}`;
  if (ArrayBuffer.isView(value)) return `${/^[AEIOU]/.test(value.constructor.name) ? 'an' : 'a'} ${value.constructor.name}`;
  switch (typeof value) {
    case 'number':
    case 'boolean':
    case 'bigint':
      return `${typeof value} ${String(value)}`;
    case 'string':
      return 'a string';
    case 'function':
      return 'a function';
    default: {
      const name = (Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null)?.constructor?.name;
      return typeof name === 'string' && name !== 'Object' ? `an object of class ${name}` : 'a plain object';
    }
  }
}

const OTHER_COPY_HINT =
  'Two copies of @normkit/tensor are loaded (packages depending on different versions of it); tensors cannot cross ' +
  'between copies: install one version (align the version ranges, then npm dedupe)';

/**
 * The entry check of every op and module forward: returns `value` when it is a tensor of this
 * copy, and otherwise throws a ValueError naming `op`, the argument and what was given
 * (`mse: expected target to be a Tensor, got a plain array of length 2`).
 */
export function checkTensor(op: string, value: unknown, name = 'input'): Tensor {
  if (value instanceof Tensor) return value;
  if (isTensor(value)) {
    throw new ValueError({ op, expected: `${name} to be a Tensor of this copy of @normkit/tensor`, given: describeValue(value) }, OTHER_COPY_HINT);
  }
  throw new ValueError({ op, expected: `${name} to be a Tensor`, given: describeValue(value) });
}

/** `checkTensor` for operands that may also be numbers (`add(x, 1)`). */
export function checkTensorOrNumber(op: string, value: unknown, name: string): Tensor | number {
  if (typeof value === 'number' || value instanceof Tensor) return value;
  if (isTensor(value)) return checkTensor(op, value, name);
  throw new ValueError({ op, expected: `${name} to be a Tensor or a number`, given: describeValue(value) });
}

export function checkSameDType(op: string, tensors: readonly Tensor[]): DType {
  const first = tensors[0]!.dtype;
  for (const t of tensors) {
    if (t.dtype !== first) {
      throw new DTypeError({ op, expected: 'inputs of one dtype', given: tensors.map((x) => x.dtype).join(', ') });
    }
  }
  return first;
}
