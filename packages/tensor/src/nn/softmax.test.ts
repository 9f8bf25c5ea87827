import { describe, expect, it } from 'vitest';
import { expectMatchesTorch, moduleFixtureCases } from '../__fixtures__/nn-modules';
import { randn } from '../creation';
import { softmax } from '../ops/activation';
import { Generator } from '../random';
import { Softmax, type SoftmaxOptions } from './softmax';

describe('Softmax', () => {
  for (const fixture of moduleFixtureCases('Softmax')) {
    it(`matches torch.nn.Softmax (output and input gradient), ${JSON.stringify(fixture.options)}`, () => {
      expectMatchesTorch(new Softmax(fixture.options as unknown as SoftmaxOptions), fixture);
    });
  }

  it('is the softmax op over dim', () => {
    const x = randn([2, 3, 4], { generator: new Generator(4) });
    expect([...new Softmax({ dim: 1 }).forward(x).data]).toEqual([...softmax(x, 1).data]);
  });

  it('needs an integer dim (PyTorch\'s implicit dim is not guessed) and refuses a dim outside the rank at forward', () => {
    expect(() => new Softmax({} as SoftmaxOptions)).toThrow(/Softmax: expected a dim/);
    expect(() => new Softmax({ dim: 0.5 })).toThrow(/dim to be an integer/);
    expect(() => new Softmax({ axis: 1 } as unknown as SoftmaxOptions)).toThrow(/unknown option "axis"/);
    expect(() => new Softmax({ dim: 3 }).forward(randn([2, 3]))).toThrow(/softmax/);
  });
});
