import { describe, expect, it } from 'vitest';
import { randn, rand, tensor } from '../creation';
import { ShapeError, ValueError } from '../errors';
import { gradcheck } from '../gradcheck';
import { expectClose, expectGradcheck } from '../test-utils';
import { Generator } from '../random';
import { broadcastIndex, broadcastShapes } from './broadcast';
import {
  abs, add, broadcastKind, clamp, cos, div, exp, log, maximum, minimum, mul, neg, pow, rsqrt, sin, sqrt, square, sub, where,
} from './elementwise';

const f64 = { dtype: 'float64' as const, requiresGrad: true };

describe('binary elementwise ops', () => {
  it('compute values with broadcasting', () => {
    const a = tensor([[1, 2, 3], [4, 5, 6]]);
    const b = tensor([10, 20, 30]);
    expect(add(a, b).toArray()).toEqual([[11, 22, 33], [14, 25, 36]]);
    expect(sub(a, 1).toArray()).toEqual([[0, 1, 2], [3, 4, 5]]);
    expect(mul(2, a).toArray()).toEqual([[2, 4, 6], [8, 10, 12]]);
    expect(div(tensor([[2], [4]]), tensor([1, 2])).toArray()).toEqual([[2, 1], [4, 2]]);
    expect(pow(tensor([2, 3]), 2).toArray()).toEqual([4, 9]);
    expect(maximum(tensor([1, 5]), tensor([3, 2])).toArray()).toEqual([3, 5]);
    expect(minimum(tensor([1, 5]), tensor([3, 2])).toArray()).toEqual([1, 2]);
  });

  it('pick the cheapest read for each broadcast: per-channel runs ([C, 1, 1] against [N, C, H, W]) without flat indices', () => {
    const kind = (a: number[], b: number[]) => broadcastKind(a, b, broadcastShapes('test', a, b));
    expect(kind([2, 3, 4, 5], [3, 1, 1])).toEqual({ kind: 'runs-b', inner: 20, period: 3 });
    expect(kind([2, 3, 4, 5], [1, 3, 1, 1])).toEqual({ kind: 'runs-b', inner: 20, period: 3 });
    expect(kind([2, 3, 4, 5], [2, 3, 1, 1]), 'per sample and channel').toEqual({ kind: 'runs-b', inner: 20, period: 6 });
    expect(kind([2, 3, 4, 5], [4, 1]), 'per row of a plane').toEqual({ kind: 'runs-b', inner: 5, period: 4 });
    expect(kind([2, 3, 4, 5], [5])).toEqual({ kind: 'rows-b', period: 5 });
    expect(kind([2, 3, 4, 5], [3, 1, 5]).kind, 'two separate blocks').toBe('index');
    expect(kind([2, 3, 4, 5], [2, 1, 1, 1]), 'per sample').toEqual({ kind: 'runs-b', inner: 60, period: 2 });
    expect(kind([3, 1, 1], [2, 3, 4, 5]).kind, 'the broadcast operand first').toBe('index');
  });

  it('every broadcast kind gives what reading both operands through flat indices gives (random shapes, all six ops)', () => {
    const generator = new Generator(5);
    const ops = { add, sub, mul, div, maximum, minimum };
    const reference = { add: (x: number, y: number) => x + y, sub: (x: number, y: number) => x - y, mul: (x: number, y: number) => x * y,
      div: (x: number, y: number) => x / y, maximum: (x: number, y: number) => (x >= y ? x : y), minimum: (x: number, y: number) => (x <= y ? x : y) };
    const kinds = new Set<string>();
    for (let trial = 0; trial < 300; trial++) {
      const rank = 1 + (generator.nextUint32() % 4);
      const shape = Array.from({ length: rank }, () => [1, 2, 3, 5, 16, 33][generator.nextUint32() % 6]!);
      // b: a suffix of the dims, each kept or set to 1 (at random), sometimes with leading ones.
      const dropped = generator.nextUint32() % rank;
      const bShape = shape.slice(dropped).map((d) => (generator.nextUint32() % 2 === 0 ? d : 1));
      const a = randn(shape, { generator });
      const b = randn(bShape, { generator });
      kinds.add(broadcastKind(shape, bShape, shape).kind);
      const [ai, bi] = [broadcastIndex(shape, shape), broadcastIndex(bShape, shape)];
      for (const [name, op] of Object.entries(ops) as Array<[keyof typeof ops, typeof add]>) {
        const got = op(a, b).data;
        for (let i = 0; i < got.length; i++) {
          const expected = Math.fround(reference[name](a.data[ai[i]!]!, b.data[bi[i]!]!));
          if (!Object.is(got[i], expected)) expect.fail(`${name} ${JSON.stringify(shape)} with ${JSON.stringify(bShape)} at ${i}: ${got[i]}, expected ${expected}`);
        }
      }
    }
    expect([...kinds].sort(), 'kinds reached').toEqual(['index', 'rows-b', 'runs-b', 'same', 'scalar-b']);
  });

  it('promote float32 with float64 to float64', () => {
    expect(add(tensor([1]), tensor([1], { dtype: 'float64' })).dtype).toBe('float64');
  });

  it('pass gradcheck, including broadcast operands', () => {
    const cases: Array<[string, (x: ReturnType<typeof randn>, y: ReturnType<typeof randn>) => ReturnType<typeof randn>]> = [
      ['add', add], ['sub', sub], ['mul', mul], ['div', div], ['maximum', maximum], ['minimum', minimum],
    ];
    for (const [, fn] of cases) {
      const x = randn([2, 3, 4], f64);
      const y = rand([3, 1], { ...f64, low: 0.5, high: 2 });
      expectGradcheck(gradcheck(fn, [x, y]));
      expectGradcheck(gradcheck(fn, [y, x]));
    }
    const base = rand([3, 4], { ...f64, low: 0.5, high: 2 });
    const exponent = randn([4], f64);
    expectGradcheck(gradcheck(pow, [base, exponent]));
  });

  it('sub routes g and -g without touching the upstream gradient, also when both operands are one tensor', () => {
    const x = tensor([1, 2, 3], f64);
    const y = tensor([4, 5, 6], f64);
    const upstream = tensor([1, 2, 3], { dtype: 'float64' });
    sub(x, y).backward(upstream);
    expect(x.grad!.toArray()).toEqual([1, 2, 3]);
    expect(y.grad!.toArray()).toEqual([-1, -2, -3]);
    expect(upstream.toArray()).toEqual([1, 2, 3]);
    const z = tensor([1, 2], f64);
    sub(z, z).backward(tensor([5, 7], { dtype: 'float64' }));
    expect(z.grad!.toArray()).toEqual([0, 0]);
  });

  it('where selects and routes gradients to the chosen branch only', () => {
    const condition = tensor([1, 0, 1]);
    const a = randn([3], f64);
    const b = randn([3], f64);
    const y = where(condition, a, b);
    expect(Array.from(y.data)).toEqual([a.data[0], b.data[1], a.data[2]]);
    expectGradcheck(gradcheck((p, q) => where(condition, p, q), [a, b]));
  });

  it('refuse shapes that do not broadcast, naming the op and both shapes', () => {
    expect(() => add(tensor([1, 2, 3]), tensor([1, 2]))).toThrow(ShapeError);
    expect(() => add(tensor([1, 2, 3]), tensor([1, 2]))).toThrow(/add: expected shapes that broadcast.*\[3\] and \[2\]/);
  });
});


describe('unary elementwise ops', () => {
  it('compute values', () => {
    const x = tensor([0.25, 1, 4], { dtype: 'float64' });
    expectClose(sqrt(x), [0.5, 1, 2]);
    expectClose(rsqrt(x), [2, 1, 0.5]);
    expectClose(exp(tensor([0, 1], { dtype: 'float64' })), [1, Math.E], 1e-12);
    expectClose(log(x), [Math.log(0.25), 0, Math.log(4)], 1e-12);
    expect(neg(tensor([1, -2])).toArray()).toEqual([-1, 2]);
    expect(abs(tensor([-3, 0, 2])).toArray()).toEqual([3, 0, 2]);
    expect(square(tensor([-3, 2])).toArray()).toEqual([9, 4]);
    expect(clamp(tensor([-2, 0.5, 3]), -1, 1).toArray()).toEqual([-1, 0.5, 1]);
  });

  it('pass gradcheck', () => {
    const positive = rand([2, 5], { ...f64, low: 0.2, high: 3 });
    for (const fn of [sqrt, rsqrt, exp, log, neg, square, sin, cos]) expectGradcheck(gradcheck(fn, [positive]));
    const mixed = tensor([-1.5, -0.3, 0.4, 2.2], f64);
    expectGradcheck(gradcheck(abs, [mixed]));
    expectGradcheck(gradcheck((x) => clamp(x, -1, 1), [mixed]));
  });

  it('clamp refuses min > max', () => {
    expect(() => clamp(tensor([1]), 2, 1)).toThrow(ValueError);
  });
});
