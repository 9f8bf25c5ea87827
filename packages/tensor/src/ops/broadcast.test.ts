import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Generator } from '../random';
import { broadcastIndex, reduceToShape } from './broadcast';

describe('broadcastIndex', () => {
  it('names, for every output element, the input element its coordinates read (any rank, sizes 0 and 1, dropped leading dims)', () => {
    const shapes = fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 0, maxLength: 5 }).chain((outShape) =>
      fc.tuple(
        fc.constant(outShape),
        fc.integer({ min: 0, max: outShape.length }),
        fc.array(fc.boolean(), { minLength: outShape.length, maxLength: outShape.length }),
      ));
    fc.assert(fc.property(shapes, ([outShape, dropped, ones]) => {
      const inShape = outShape.slice(dropped).map((d, i) => (ones[dropped + i] ? 1 : d));
      const index = broadcastIndex(inShape, outShape);
      const size = outShape.reduce((a, b) => a * b, 1);
      expect(index.length).toBe(size);
      // The one-line reference: unravel i into output coordinates, clamp broadcast ones to 0, ravel in the input.
      const reference = (i: number): number => outShape.reduceRight<[number, number, number]>(([flat, rest, scale], d, axis) => {
        const inAxis = axis - (outShape.length - inShape.length);
        const coordinate = rest % d;
        const inDim = inAxis >= 0 ? inShape[inAxis]! : 1;
        return [flat + (inDim === 1 ? 0 : coordinate) * scale, Math.floor(rest / d), scale * inDim];
      }, [0, i, 1])[0];
      for (let i = 0; i < size; i++) expect(index[i], `${JSON.stringify(inShape)} -> ${JSON.stringify(outShape)} at ${i}`).toBe(reference(i));
    }), { numRuns: 500 });
  });
});

describe('reduceToShape', () => {
  it('is the float64 sum of the elements each entry collects, rounded once, on random broadcasts (float32 and float64)', () => {
    const generator = new Generator(21);
    for (let trial = 0; trial < 200; trial++) {
      const rank = 1 + (generator.nextUint32() % 4);
      const outShape = Array.from({ length: rank }, () => [1, 2, 3, 5, 17][generator.nextUint32() % 5]!);
      const dropped = generator.nextUint32() % rank;
      const inShape = outShape.slice(dropped).map((d) => (generator.nextUint32() % 2 === 0 ? 1 : d));
      const size = outShape.reduce((a, b) => a * b, 1);
      // Large and small values mixed: float32 accumulation would lose the small ones.
      const grad = Float32Array.from({ length: size }, (_, i) => generator.normal() * (i % 3 === 0 ? 1e4 : 1e-3));
      const inSize = inShape.reduce((a, b) => a * b, 1);
      // The one-line reference: every element added in float64 into the entry its broadcast index names.
      const reference = new Float64Array(inSize);
      const index = broadcastIndex(inShape, outShape);
      for (let i = 0; i < size; i++) reference[index[i]!]! += grad[i]!;
      const label = `${JSON.stringify(outShape)} -> ${JSON.stringify(inShape)}`;
      expect(Array.from(reduceToShape(grad, outShape, inShape, 'float32')), label).toEqual(Array.from(reference, Math.fround));
      const sums64 = reduceToShape(Float64Array.from(grad), outShape, inShape, 'float64');
      reference.forEach((r, i) => expect(Math.abs(sums64[i]! - r), label).toBeLessThanOrEqual(1e-12 * (Math.abs(r) + 1e4)));
    }
  });
});
