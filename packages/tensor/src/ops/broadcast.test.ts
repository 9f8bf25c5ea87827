import { describe, expect, it } from 'vitest';
import { Generator } from '../random';
import { broadcastIndex, reduceToShape } from './broadcast';

describe('reduceToShape', () => {
  it('equals the index-array loop it replaced, bit for bit (float32 accumulation in memory order), on random broadcasts', () => {
    const generator = new Generator(21);
    for (let trial = 0; trial < 200; trial++) {
      const rank = 1 + (generator.nextUint32() % 4);
      const outShape = Array.from({ length: rank }, () => [1, 2, 3, 5, 17][generator.nextUint32() % 5]!);
      const dropped = generator.nextUint32() % rank;
      const inShape = outShape.slice(dropped).map((d) => (generator.nextUint32() % 2 === 0 ? 1 : d));
      const size = outShape.reduce((a, b) => a * b, 1);
      const grad = Float32Array.from({ length: size }, () => generator.normal() * 10);
      const inSize = inShape.reduce((a, b) => a * b, 1);
      // The one-line reference: every element added, in order, into the entry its broadcast index names.
      const reference = new Float32Array(inSize);
      const index = broadcastIndex(inShape, outShape);
      if (inSize === 1 && size !== 1) reference[0] = grad.reduce((a, b) => a + b, 0);
      else if (inSize === size && index.every((v, i) => v === i)) reference.set(grad);
      else for (let i = 0; i < size; i++) reference[index[i]!]! += grad[i]!;
      expect(Array.from(reduceToShape(grad, outShape, inShape, 'float32')), `${JSON.stringify(outShape)} -> ${JSON.stringify(inShape)}`).toEqual(Array.from(reference));
    }
  });
});
