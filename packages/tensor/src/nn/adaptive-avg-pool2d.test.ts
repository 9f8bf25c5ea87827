import { describe, expect, it } from 'vitest';
import { expectMatchesTorch, moduleFixtureCases } from '../__fixtures__/nn-modules';
import { randn } from '../creation';
import { adaptiveAvgPool2d } from '../ops/pool';
import { Generator } from '../random';
import { AdaptiveAvgPool2d, type AdaptiveAvgPool2dLayerOptions } from './adaptive-avg-pool2d';
import { AvgPool2d } from './avg-pool2d';

describe('AdaptiveAvgPool2d', () => {
  for (const fixture of moduleFixtureCases('AdaptiveAvgPool2d')) {
    it(`matches torch.nn.AdaptiveAvgPool2d (output and input gradient), ${JSON.stringify(fixture.options)}`, () => {
      expectMatchesTorch(new AdaptiveAvgPool2d(fixture.options as unknown as AdaptiveAvgPool2dLayerOptions), fixture);
    });
  }

  it('is the adaptiveAvgPool2d op, and AvgPool2d when the output size divides the input', () => {
    const x = randn([2, 3, 8, 6], { dtype: 'float64', generator: new Generator(3) });
    const pool = new AdaptiveAvgPool2d({ outputSize: [4, 3] });
    expect([...pool.forward(x).data]).toEqual([...adaptiveAvgPool2d(x, [4, 3]).data]);
    const avg = new AvgPool2d({ kernelSize: 2 }).forward(x);
    pool.forward(x).data.forEach((v, i) => expect(v).toBeCloseTo(avg.data[i]!, 14));
  });

  it('refuses a missing or bad outputSize, and unknown options', () => {
    expect(() => new AdaptiveAvgPool2d({} as AdaptiveAvgPool2dLayerOptions)).toThrow(/AdaptiveAvgPool2d: expected an outputSize/);
    expect(() => new AdaptiveAvgPool2d({ outputSize: 0 })).toThrow(/outputSize to be an integer >= 1/);
    expect(() => new AdaptiveAvgPool2d({ output_size: 1 } as unknown as AdaptiveAvgPool2dLayerOptions)).toThrow(/Did you mean "outputSize"/);
  });
});
