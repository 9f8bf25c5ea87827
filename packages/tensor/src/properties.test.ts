/**
 * Property-based tests of the core ops against plain scalar references: seeded and bounded so CI
 * stays fast and any failure replays (fast-check prints the seed and the shrunk counterexample).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { tensor } from './creation';
import { shapeSize, stridesOf } from './dtype';
import { add, div, mul, sub } from './ops/elementwise';
import { mean, sum } from './ops/reduce';

const RUNS = { seed: 17, numRuns: 150 };

const dim = fc.integer({ min: 1, max: 4 });
const shapeArb = fc.array(dim, { minLength: 0, maxLength: 3 });
const finite = fc.double({ min: -1e3, max: 1e3, noNaN: true, noDefaultInfinity: true });

function valuesFor(shape: readonly number[]): fc.Arbitrary<number[]> {
  const size = shapeSize(shape);
  return fc.array(finite, { minLength: size, maxLength: size });
}

/** Two shapes that broadcast: b's trailing dims are a's or 1, and b may be shorter. */
const broadcastPair = shapeArb.chain((a) =>
  fc
    .tuple(fc.integer({ min: 0, max: a.length }), fc.array(fc.boolean(), { minLength: a.length, maxLength: a.length }), fc.boolean())
    .map(([drop, ones, swap]) => {
      const b = a.slice(drop).map((d, i) => (ones[i + drop] ? 1 : d));
      return swap ? ([b, a] as const) : ([a, b] as const);
    }),
);

/** NumPy broadcasting by index arithmetic, one output element at a time. */
function reference(a: readonly number[], av: number[], b: readonly number[], bv: number[], fn: (x: number, y: number) => number): { shape: number[]; values: number[] } {
  const rank = Math.max(a.length, b.length);
  const pad = (s: readonly number[]): number[] => [...new Array<number>(rank - s.length).fill(1), ...s];
  const [pa, pb] = [pad(a), pad(b)];
  const shape = pa.map((d, i) => Math.max(d, pb[i]!));
  const [sa, sb] = [stridesOf(pa), stridesOf(pb)];
  const values: number[] = [];
  for (let flat = 0; flat < shapeSize(shape); flat++) {
    let rest = flat;
    let ia = 0;
    let ib = 0;
    for (let axis = rank - 1; axis >= 0; axis--) {
      const coordinate = rest % shape[axis]!;
      rest = Math.floor(rest / shape[axis]!);
      if (pa[axis] !== 1) ia += coordinate * sa[axis]!;
      if (pb[axis] !== 1) ib += coordinate * sb[axis]!;
    }
    values.push(fn(av[ia]!, bv[ib]!));
  }
  return { shape, values };
}

describe('properties of the core ops (fast-check, seeded)', () => {
  const binaryOps = [
    ['add', add, (x: number, y: number) => x + y],
    ['sub', sub, (x: number, y: number) => x - y],
    ['mul', mul, (x: number, y: number) => x * y],
    ['div', div, (x: number, y: number) => x / y],
  ] as const;

  for (const [name, op, fn] of binaryOps) {
    it(`${name} under broadcasting equals the scalar reference, in float64 exactly`, () => {
      fc.assert(
        fc.property(
          broadcastPair.chain(([a, b]) => fc.tuple(fc.constant(a), valuesFor(a), fc.constant(b), valuesFor(b))),
          ([a, av, b, bv]) => {
            const out = op(tensor(av, { shape: a, dtype: 'float64' }), tensor(bv, { shape: b, dtype: 'float64' }));
            const expected = reference(a, av, b, bv, fn);
            expect(out.shape).toEqual(expected.shape);
            expect(Array.from(out.data)).toEqual(expected.values);
          },
        ),
        RUNS,
      );
    });
  }

  it('the gradient of sum(a + b) to each operand counts how often broadcasting repeats each element', () => {
    fc.assert(
      fc.property(broadcastPair, ([a, b]) => {
        const ta = tensor(new Float64Array(shapeSize(a)), { shape: a, requiresGrad: true });
        const tb = tensor(new Float64Array(shapeSize(b)), { shape: b, requiresGrad: true });
        const out = add(ta, tb);
        sum(out).backward();
        expect(Array.from(ta.grad!.data)).toEqual(new Array<number>(ta.size).fill(out.size / ta.size));
        expect(Array.from(tb.grad!.data)).toEqual(new Array<number>(tb.size).fill(out.size / tb.size));
      }),
      RUNS,
    );
  });

  it('sum and mean over any set of axes match a reference, and keepdim only changes the shape', () => {
    const caseArb = fc
      .array(dim, { minLength: 1, maxLength: 4 })
      .chain((shape) => fc.tuple(fc.constant(shape), valuesFor(shape), fc.subarray(shape.map((_, i) => i), { minLength: 1 })));
    fc.assert(
      fc.property(caseArb, ([shape, values, axes]) => {
        const x = tensor(values, { shape, dtype: 'float64' });
        const reduced = sum(x, axes);
        const kept = sum(x, axes, { keepdim: true });
        const outShape = shape.filter((_, i) => !axes.includes(i));
        expect(reduced.shape).toEqual(outShape);
        expect(kept.shape).toEqual(shape.map((d, i) => (axes.includes(i) ? 1 : d)));
        expect(Array.from(kept.data)).toEqual(Array.from(reduced.data));
        // Reference: add every element into its output slot.
        const expected = new Float64Array(shapeSize(outShape));
        const strides = stridesOf(shape);
        const outStrides = stridesOf(outShape);
        values.forEach((v, flat) => {
          let slot = 0;
          let k = 0;
          shape.forEach((_, axis) => {
            const coordinate = Math.floor(flat / strides[axis]!) % shape[axis]!;
            if (!axes.includes(axis)) slot += coordinate * outStrides[k++]!;
          });
          expected[slot]! += v;
        });
        const tolerance = 1e-9 * Math.max(1, ...values.map(Math.abs)) * values.length;
        reduced.data.forEach((v, i) => expect(Math.abs(v - expected[i]!)).toBeLessThanOrEqual(tolerance));
        const count = axes.reduce((p, axis) => p * shape[axis]!, 1);
        mean(x, axes).data.forEach((v, i) => expect(Math.abs(v - expected[i]! / count)).toBeLessThanOrEqual(tolerance));
      }),
      RUNS,
    );
  });
});
