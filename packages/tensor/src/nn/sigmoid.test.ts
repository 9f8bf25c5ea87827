import { describe, expect, it } from 'vitest';
import { expectMatchesTorch, moduleFixtureCases } from '../__fixtures__/nn-modules';
import { tensor } from '../creation';
import { Sigmoid } from './sigmoid';

describe('Sigmoid', () => {
  for (const fixture of moduleFixtureCases('Sigmoid')) {
    it('matches torch.nn.Sigmoid (output and input gradient)', () => expectMatchesTorch(new Sigmoid(), fixture));
  }

  it('is 1 / (1 + exp(-x)) and refuses a non-tensor naming the module', () => {
    const y = new Sigmoid().forward(tensor([-2, 0, 3], { dtype: 'float64' }));
    [-2, 0, 3].forEach((v, i) => expect(y.data[i]).toBeCloseTo(1 / (1 + Math.exp(-v)), 15));
    expect(() => new Sigmoid().forward([1, 2] as never)).toThrow(/Sigmoid\.forward/);
  });
});
