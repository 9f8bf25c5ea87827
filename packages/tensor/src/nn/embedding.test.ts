import { describe, expect, it } from 'vitest';
import { fixtureTensor, nnLayerFixtures } from '../__fixtures__/nn-layers';
import { tensor } from '../creation';
import { OptionError, ValueError } from '../errors';
import { gradcheck } from '../gradcheck';
import { mul } from '../ops/elementwise';
import { Generator } from '../random';
import { expectClose, expectGradcheck } from '../test-utils';
import { Embedding } from './embedding';

const f64 = { dtype: 'float64' as const };

describe('Embedding', () => {
  it('looks up rows and returns [...indicesShape, embeddingDim]', () => {
    const table = new Embedding({ numEmbeddings: 4, embeddingDim: 2, ...f64 });
    table.loadStateDict({ weight: tensor([[0, 1], [2, 3], [4, 5], [6, 7]], f64) });
    const y = table.forward(tensor([[3, 0], [1, 1]]));
    expect(y.shape).toEqual([2, 2, 2]);
    expect([...y.data]).toEqual([6, 7, 0, 1, 2, 3, 2, 3]);
    expect(table.forward([2]).toArray()).toEqual([[4, 5]]);
  });

  it('matches PyTorch F.embedding, output and the summed weight gradient of repeated indices', () => {
    const fixture = nnLayerFixtures.embedding;
    const table = new Embedding({ numEmbeddings: 5, embeddingDim: 3, ...f64 });
    table.loadStateDict({ weight: fixtureTensor(fixture.inputs.weight!) });
    const y = table.forward(fixtureTensor(fixture.indices!));
    expectClose(y, fixture.output.data, 0);
    y.backward(Float64Array.from(fixture.upstream.data));
    expectClose(table.weight.grad!, fixture.grads.weight!.data, 1e-12);
  });

  it('passes gradcheck in float64', () => {
    const table = new Embedding({ numEmbeddings: 3, embeddingDim: 2, ...f64, generator: new Generator(0) });
    expectGradcheck(gradcheck(() => table.forward([0, 2, 2, 1]), [table.weight]));
  });

  it("initialises N(0, 1) like PyTorch and names the parameter 'weight'", () => {
    const table = new Embedding({ numEmbeddings: 400, embeddingDim: 250, generator: new Generator(1) });
    expect(Object.keys(table.stateDict())).toEqual(['weight']);
    let total = 0;
    let squares = 0;
    for (const v of table.weight.data) {
      total += v;
      squares += v * v;
    }
    const mean = total / table.weight.size;
    expect(mean).toBeCloseTo(0, 2);
    expect(Math.sqrt(squares / table.weight.size - mean * mean)).toBeCloseTo(1, 2);
  });

  it('reads this.weight at forward time', () => {
    const table = new Embedding({ numEmbeddings: 2, embeddingDim: 2, ...f64 });
    const original = table.weight;
    Object.defineProperty(table, 'weight', { get: () => mul(original, 2), configurable: true });
    expect([...table.forward([1]).data]).toEqual([2 * original.data[2]!, 2 * original.data[3]!]);
  });

  it('refuses bad sizes and out-of-range indices', () => {
    expect(() => new Embedding({ numEmbeddings: 0, embeddingDim: 2 })).toThrow(OptionError);
    const table = new Embedding({ numEmbeddings: 3, embeddingDim: 2 });
    expect(() => table.forward([3])).toThrow(ValueError);
    expect(() => table.forward([3])).toThrow(/integer indices in \[0, 2\]/);
  });
});
