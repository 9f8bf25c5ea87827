import type { TypedArray } from '../../dtype';
import type { BinaryArgs, BinaryKernelOp } from '../types';

// Elementwise binary ops of the `js` backend. One loop per (op, broadcast kind), the op fixed inside
// the loop: a shared loop calling `fn(x, y)` sees many functions and V8 stops inlining them (mul
// through the shared closure loop was several times slower than add through its own loop).
// `maximum` / `minimum` keep the ops' NaN rule: x >= y ? x : y (a NaN in y wins, a NaN in x loses).

export function binary(args: BinaryArgs): void {
  const { op, a, b, out, broadcast } = args;
  switch (broadcast.kind) {
    case 'same': return same(op, a, b, out);
    case 'scalar-b': return scalarB(op, a, b[0]!, out);
    case 'scalar-a': return scalarA(op, a[0]!, b, out);
    case 'rows-b': return rowsB(op, a, b, out, broadcast.period);
    case 'runs-b': return runsB(op, a, b, out, broadcast.inner, broadcast.period);
    case 'index': return indexed(op, a, b, out, broadcast.a, broadcast.b);
  }
}

function same(op: BinaryKernelOp, a: TypedArray, b: TypedArray, out: TypedArray): void {
  const n = out.length;
  switch (op) {
    case 'add': for (let i = 0; i < n; i++) out[i] = a[i]! + b[i]!; return;
    case 'sub': for (let i = 0; i < n; i++) out[i] = a[i]! - b[i]!; return;
    case 'mul': for (let i = 0; i < n; i++) out[i] = a[i]! * b[i]!; return;
    case 'div': for (let i = 0; i < n; i++) out[i] = a[i]! / b[i]!; return;
    case 'maximum': for (let i = 0; i < n; i++) out[i] = a[i]! >= b[i]! ? a[i]! : b[i]!; return;
    case 'minimum': for (let i = 0; i < n; i++) out[i] = a[i]! <= b[i]! ? a[i]! : b[i]!; return;
  }
}

function scalarB(op: BinaryKernelOp, a: TypedArray, y: number, out: TypedArray): void {
  const n = out.length;
  switch (op) {
    case 'add': for (let i = 0; i < n; i++) out[i] = a[i]! + y; return;
    case 'sub': for (let i = 0; i < n; i++) out[i] = a[i]! - y; return;
    case 'mul': for (let i = 0; i < n; i++) out[i] = a[i]! * y; return;
    case 'div': for (let i = 0; i < n; i++) out[i] = a[i]! / y; return;
    case 'maximum': for (let i = 0; i < n; i++) out[i] = a[i]! >= y ? a[i]! : y; return;
    case 'minimum': for (let i = 0; i < n; i++) out[i] = a[i]! <= y ? a[i]! : y; return;
  }
}

function scalarA(op: BinaryKernelOp, x: number, b: TypedArray, out: TypedArray): void {
  const n = out.length;
  switch (op) {
    case 'add': for (let i = 0; i < n; i++) out[i] = x + b[i]!; return;
    case 'sub': for (let i = 0; i < n; i++) out[i] = x - b[i]!; return;
    case 'mul': for (let i = 0; i < n; i++) out[i] = x * b[i]!; return;
    case 'div': for (let i = 0; i < n; i++) out[i] = x / b[i]!; return;
    case 'maximum': for (let i = 0; i < n; i++) out[i] = x >= b[i]! ? x : b[i]!; return;
    case 'minimum': for (let i = 0; i < n; i++) out[i] = x <= b[i]! ? x : b[i]!; return;
  }
}

/** b holds `period` values that repeat along out (a bias [D] against [N, D]). */
function rowsB(op: BinaryKernelOp, a: TypedArray, b: TypedArray, out: TypedArray, period: number): void {
  for (let base = 0; base < out.length; base += period) {
    switch (op) {
      case 'add': for (let j = 0; j < period; j++) out[base + j] = a[base + j]! + b[j]!; break;
      case 'sub': for (let j = 0; j < period; j++) out[base + j] = a[base + j]! - b[j]!; break;
      case 'mul': for (let j = 0; j < period; j++) out[base + j] = a[base + j]! * b[j]!; break;
      case 'div': for (let j = 0; j < period; j++) out[base + j] = a[base + j]! / b[j]!; break;
      case 'maximum': for (let j = 0; j < period; j++) out[base + j] = a[base + j]! >= b[j]! ? a[base + j]! : b[j]!; break;
      case 'minimum': for (let j = 0; j < period; j++) out[base + j] = a[base + j]! <= b[j]! ? a[base + j]! : b[j]!; break;
    }
  }
}

/** Each of b's `period` values holds for a run of `inner` elements of out, the runs cycling through b (a per-channel [C, 1, 1] against [N, C, H, W]). */
function runsB(op: BinaryKernelOp, a: TypedArray, b: TypedArray, out: TypedArray, inner: number, period: number): void {
  for (let base = 0, run = 0; base < out.length; base += inner, run = run + 1 === period ? 0 : run + 1) {
    const y = b[run]!;
    switch (op) {
      case 'add': for (let j = base; j < base + inner; j++) out[j] = a[j]! + y; break;
      case 'sub': for (let j = base; j < base + inner; j++) out[j] = a[j]! - y; break;
      case 'mul': for (let j = base; j < base + inner; j++) out[j] = a[j]! * y; break;
      case 'div': for (let j = base; j < base + inner; j++) out[j] = a[j]! / y; break;
      case 'maximum': for (let j = base; j < base + inner; j++) out[j] = a[j]! >= y ? a[j]! : y; break;
      case 'minimum': for (let j = base; j < base + inner; j++) out[j] = a[j]! <= y ? a[j]! : y; break;
    }
  }
}

function indexed(op: BinaryKernelOp, a: TypedArray, b: TypedArray, out: TypedArray, ai: Int32Array, bi: Int32Array): void {
  const n = out.length;
  switch (op) {
    case 'add': for (let i = 0; i < n; i++) out[i] = a[ai[i]!]! + b[bi[i]!]!; return;
    case 'sub': for (let i = 0; i < n; i++) out[i] = a[ai[i]!]! - b[bi[i]!]!; return;
    case 'mul': for (let i = 0; i < n; i++) out[i] = a[ai[i]!]! * b[bi[i]!]!; return;
    case 'div': for (let i = 0; i < n; i++) out[i] = a[ai[i]!]! / b[bi[i]!]!; return;
    case 'maximum': for (let i = 0; i < n; i++) out[i] = a[ai[i]!]! >= b[bi[i]!]! ? a[ai[i]!]! : b[bi[i]!]!; return;
    case 'minimum': for (let i = 0; i < n; i++) out[i] = a[ai[i]!]! <= b[bi[i]!]! ? a[ai[i]!]! : b[bi[i]!]!; return;
  }
}
