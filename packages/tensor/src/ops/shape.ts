import { customOp } from '../autograd';
import { allocate, allocateForOverwrite, promoteDTypes, shapeSize, stridesOf, type TypedArray } from '../dtype';
import { ShapeError, ValueError, formatShape } from '../errors';
import { checkTensor, type Tensor } from '../tensor';
import { broadcastIndex, broadcastShapes, mergeRuns, reduceToShape } from './broadcast';
import { normalizeAxis } from './reduce';

/** Same data, new shape; one dim may be -1. Shares the data array (a view). */
export function reshape(x: Tensor, shapeArg: readonly number[]): Tensor {
  checkTensor('reshape', x, 'x');
  const shape = [...shapeArg];
  const unknown = shape.indexOf(-1);
  if (unknown !== -1) {
    const known = shape.reduce((p, d, i) => (i === unknown ? p : p * d), 1);
    if (known === 0 || x.size % known !== 0) {
      throw new ShapeError({ op: 'reshape', expected: `a shape with ${x.size} elements`, given: formatShape(shapeArg) });
    }
    shape[unknown] = x.size / known;
  }
  if (shapeSize(shape) !== x.size || shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new ShapeError({
      op: 'reshape',
      expected: `a shape with ${x.size} elements (from ${formatShape(x.shape)})`,
      given: formatShape(shapeArg),
    });
  }
  return customOp({ op: 'reshape', inputs: [x], data: x.data, shape, backward: (g) => [g] });
}

export function flatten(x: Tensor, startAxis = 0, endAxis = -1): Tensor {
  checkTensor('flatten', x, 'x');
  if (x.ndim === 0) return reshape(x, [1]);
  const start = normalizeAxis('flatten', startAxis, x.ndim);
  const end = normalizeAxis('flatten', endAxis, x.ndim);
  const shape = [...x.shape.slice(0, start), shapeSize(x.shape.slice(start, end + 1)), ...x.shape.slice(end + 1)];
  return reshape(x, shape);
}

export function unsqueeze(x: Tensor, axis: number): Tensor {
  checkTensor('unsqueeze', x, 'x');
  const resolved = normalizeAxis('unsqueeze', axis, x.ndim + 1);
  const shape = [...x.shape];
  shape.splice(resolved, 0, 1);
  return reshape(x, shape);
}

export function squeeze(x: Tensor, axis?: number): Tensor {
  checkTensor('squeeze', x, 'x');
  if (axis === undefined) return reshape(x, x.shape.filter((d) => d !== 1));
  const resolved = normalizeAxis('squeeze', axis, x.ndim);
  if (x.shape[resolved] !== 1) return x;
  return reshape(x, x.shape.filter((_, i) => i !== resolved));
}

/**
 * The output of a permutation as (size, input stride) per output axis, with axes of size 1 dropped and
 * neighbours that stay neighbours merged (an output axis whose input stride is the next one's stride
 * times its size): [N, L, H, D] -> [N, H, L, D] stays four runs, [N, C, H, W] -> [N, H, W, C] becomes
 * [N, H*W, C] with strides [C*H*W, 1, H*W], and the identity becomes one contiguous run.
 */
function permutedRuns(shape: readonly number[], order: readonly number[]): { sizes: number[]; strides: number[] } {
  const inStrides = stridesOf(shape);
  return mergeRuns(order.map((axis) => shape[axis]!), order.map((axis) => inStrides[axis]!));
}

/**
 * Copies `data` (of `shape`) into a new array with its axes in `order`: an odometer over the outer
 * runs of `permutedRuns`, and a plain loop along the innermost one (a straight copy when that run is
 * contiguous in the input).
 */
function permuteData(data: TypedArray, shape: readonly number[], order: readonly number[], dtype: 'float32' | 'float64'): TypedArray {
  const out = allocateForOverwrite(dtype, data.length);
  if (data.length === 0) return out;
  const { sizes, strides } = permutedRuns(shape, order);
  if (sizes.length <= 1 && (strides[0] ?? 1) === 1) {
    out.set(data);
    return out;
  }
  const outer = sizes.length - 1;
  const innerSize = sizes[outer]!;
  const innerStride = strides[outer]!;
  const counter = new Array<number>(outer).fill(0);
  let offset = 0;
  for (let i = 0; i < out.length; i += innerSize) {
    if (innerStride === 1) {
      for (let j = 0; j < innerSize; j++) out[i + j] = data[offset + j]!;
    } else {
      for (let j = 0, source = offset; j < innerSize; j++, source += innerStride) out[i + j] = data[source]!;
    }
    for (let axis = outer - 1; axis >= 0; axis--) {
      counter[axis]!++;
      offset += strides[axis]!;
      if (counter[axis]! < sizes[axis]!) break;
      offset -= strides[axis]! * sizes[axis]!;
      counter[axis] = 0;
    }
  }
  return out;
}

/** Reorders axes: output axis i is input axis `order[i]`. Copies the data. */
export function permute(x: Tensor, order: readonly number[]): Tensor {
  checkTensor('permute', x, 'x');
  const resolved = order.map((a) => normalizeAxis('permute', a, x.ndim));
  if (resolved.length !== x.ndim || new Set(resolved).size !== x.ndim) {
    throw new ShapeError({ op: 'permute', expected: `a permutation of ${x.ndim} axes`, given: `[${order.join(', ')}]` });
  }
  const inverse = new Array<number>(x.ndim);
  resolved.forEach((a, i) => (inverse[a] = i));
  const outShape = resolved.map((a) => x.shape[a]!);
  return customOp({
    op: 'permute',
    inputs: [x],
    data: permuteData(x.data, x.shape, resolved, x.dtype),
    shape: outShape,
    backward: (g) => [permuteData(g, outShape, inverse, x.dtype)],
  });
}

/** Swaps two axes (the last two by default). */
export function transpose(x: Tensor, axisA = -2, axisB = -1): Tensor {
  checkTensor('transpose', x, 'x');
  const a = normalizeAxis('transpose', axisA, x.ndim);
  const b = normalizeAxis('transpose', axisB, x.ndim);
  const order = Array.from({ length: x.ndim }, (_, i) => i);
  order[a] = b;
  order[b] = a;
  return permute(x, order);
}

/** Elements `start <= i < end` along `axis` (negative indices count from the end). */
export function slice(x: Tensor, axis: number, start: number, end?: number): Tensor {
  checkTensor('slice', x, 'x');
  const resolved = normalizeAxis('slice', axis, x.ndim);
  const length = x.shape[resolved]!;
  const from = start < 0 ? Math.max(0, length + start) : Math.min(start, length);
  const to = end === undefined ? length : end < 0 ? Math.max(0, length + end) : Math.min(end, length);
  if (to < from) throw new ShapeError({ op: 'slice', expected: 'start <= end', given: `${start}..${end}` });
  let outer = 1;
  let inner = 1;
  for (let i = 0; i < resolved; i++) outer *= x.shape[i]!;
  for (let i = resolved + 1; i < x.ndim; i++) inner *= x.shape[i]!;
  const width = to - from;
  const shape = [...x.shape];
  shape[resolved] = width;
  const data = allocate(x.dtype, outer * width * inner);
  for (let o = 0; o < outer; o++) {
    const source = (o * length + from) * inner;
    data.set(x.data.subarray(source, source + width * inner), o * width * inner);
  }
  return customOp({
    op: 'slice',
    inputs: [x],
    data,
    shape,
    backward: (g) => {
      const gx = allocate(x.dtype, x.size);
      for (let o = 0; o < outer; o++) gx.set(g.subarray(o * width * inner, (o + 1) * width * inner), (o * length + from) * inner);
      return [gx];
    },
  });
}

/** Rows of `x` along `axis` at the given integer indices (gradient scatters back, adding repeats). */
export function indexSelect(x: Tensor, axis: number, indices: readonly number[] | Int32Array): Tensor {
  checkTensor('indexSelect', x, 'x');
  const resolved = normalizeAxis('indexSelect', axis, x.ndim);
  const length = x.shape[resolved]!;
  for (const index of indices) {
    if (!Number.isInteger(index) || index < 0 || index >= length) {
      throw new ValueError({ op: 'indexSelect', expected: `integer indices in [0, ${length - 1}]`, given: `${index}` });
    }
  }
  let outer = 1;
  let inner = 1;
  for (let i = 0; i < resolved; i++) outer *= x.shape[i]!;
  for (let i = resolved + 1; i < x.ndim; i++) inner *= x.shape[i]!;
  const count = indices.length;
  const shape = [...x.shape];
  shape[resolved] = count;
  const data = allocate(x.dtype, outer * count * inner);
  for (let o = 0; o < outer; o++) {
    for (let k = 0; k < count; k++) {
      const source = (o * length + indices[k]!) * inner;
      data.set(x.data.subarray(source, source + inner), (o * count + k) * inner);
    }
  }
  return customOp({
    op: 'indexSelect',
    inputs: [x],
    data,
    shape,
    backward: (g) => {
      const gx = allocate(x.dtype, x.size);
      for (let o = 0; o < outer; o++) {
        for (let k = 0; k < count; k++) {
          const target = (o * length + indices[k]!) * inner;
          const source = (o * count + k) * inner;
          for (let j = 0; j < inner; j++) gx[target + j]! += g[source + j]!;
        }
      }
      return [gx];
    },
  });
}

/** Joins tensors along an existing axis. */
export function concat(tensors: readonly Tensor[], axis = 0): Tensor {
  if (tensors.length === 0) throw new ShapeError({ op: 'concat', expected: 'at least one tensor', given: 'none' });
  const first = tensors[0]!;
  const resolved = normalizeAxis('concat', axis, first.ndim);
  for (const t of tensors) {
    const matches = t.ndim === first.ndim && t.shape.every((d, i) => i === resolved || d === first.shape[i]);
    if (!matches) {
      throw new ShapeError({
        op: 'concat',
        expected: `shapes equal to ${formatShape(first.shape)} except on axis ${resolved}`,
        given: tensors.map((x) => formatShape(x.shape)).join(', '),
      });
    }
  }
  let outer = 1;
  let inner = 1;
  for (let i = 0; i < resolved; i++) outer *= first.shape[i]!;
  for (let i = resolved + 1; i < first.ndim; i++) inner *= first.shape[i]!;
  const lengths = tensors.map((t) => t.shape[resolved]!);
  const total = lengths.reduce((a, b) => a + b, 0);
  const shape = [...first.shape];
  shape[resolved] = total;
  const dtype = promoteDTypes(...tensors.map((t) => t.dtype));
  const data = allocate(dtype, outer * total * inner);
  let start = 0;
  tensors.forEach((t, k) => {
    const width = lengths[k]! * inner;
    for (let o = 0; o < outer; o++) data.set(t.data.subarray(o * width, (o + 1) * width), o * total * inner + start * inner);
    start += lengths[k]!;
  });
  return customOp({
    op: 'concat',
    inputs: tensors,
    data,
    shape,
    backward: (g) => {
      let offset = 0;
      return tensors.map((t, k) => {
        const width = lengths[k]! * inner;
        const gt = allocate(t.dtype, t.size);
        for (let o = 0; o < outer; o++) gt.set(g.subarray(o * total * inner + offset * inner, o * total * inner + offset * inner + width), o * width);
        offset += lengths[k]!;
        return gt;
      });
    },
  });
}

/** Joins tensors of one shape along a new axis. */
export function stack(tensors: readonly Tensor[], axis = 0): Tensor {
  if (tensors.length === 0) throw new ShapeError({ op: 'stack', expected: 'at least one tensor', given: 'none' });
  const resolved = normalizeAxis('stack', axis, tensors[0]!.ndim + 1);
  return concat(
    tensors.map((t) => {
      const shape = [...t.shape];
      shape.splice(resolved, 0, 1);
      if (t.ndim !== tensors[0]!.ndim || t.shape.some((d, i) => d !== tensors[0]!.shape[i])) {
        throw new ShapeError({ op: 'stack', expected: 'tensors of one shape', given: tensors.map((x) => formatShape(x.shape)).join(', ') });
      }
      return reshape(t, shape);
    }),
    resolved,
  );
}

/** Broadcasts `x` to `shape` (copying); the gradient sums back. */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  checkTensor('expand', x, 'x');
  const target = broadcastShapes('expand', x.shape, shape);
  if (target.length !== shape.length || target.some((d, i) => d !== shape[i])) {
    throw new ShapeError({ op: 'expand', expected: `a shape ${formatShape(x.shape)} broadcasts to`, given: formatShape(shape) });
  }
  const index = broadcastIndex(x.shape, target);
  const data = allocate(x.dtype, index.length);
  for (let i = 0; i < index.length; i++) data[i] = x.data[index[i]!]!;
  return customOp({ op: 'expand', inputs: [x], data, shape: target, backward: (g) => [reduceToShape(g, target, x.shape, x.dtype)] });
}

/** Tiles `x` `repeats[i]` times along axis i (like `torch.Tensor.repeat`). */
export function repeat(x: Tensor, repeats: readonly number[]): Tensor {
  checkTensor('repeat', x, 'x');
  if (repeats.length < x.ndim) {
    throw new ShapeError({ op: 'repeat', expected: `at least ${x.ndim} repeat counts`, given: `${repeats.length}` });
  }
  const padded = [...new Array<number>(repeats.length - x.ndim).fill(1), ...x.shape];
  // Tiling = broadcasting an interleaved shape [1, d0, 1, d1, ...] to [r0, d0, r1, d1, ...].
  const interleavedIn: number[] = [];
  const interleavedOut: number[] = [];
  padded.forEach((d, i) => {
    interleavedIn.push(1, d);
    interleavedOut.push(repeats[i]!, d);
  });
  const expanded = expand(reshape(x, interleavedIn), interleavedOut);
  return reshape(expanded, padded.map((d, i) => d * repeats[i]!));
}
