import { describe, expect, it } from 'vitest';
import { expectMatchesTorch, moduleFixtureCases } from '../__fixtures__/nn-modules';
import { randn } from '../creation';
import { OptionError } from '../errors';
import { avgPool2d } from '../ops/pool';
import { Generator } from '../random';
import { AvgPool2d, type AvgPool2dLayerOptions } from './avg-pool2d';

describe('AvgPool2d', () => {
  for (const fixture of moduleFixtureCases('AvgPool2d')) {
    it(`matches torch.nn.AvgPool2d (output and input gradient), ${JSON.stringify(fixture.options)}`, () => {
      expectMatchesTorch(new AvgPool2d(fixture.options as unknown as AvgPool2dLayerOptions), fixture);
    });
  }

  it('is the avgPool2d op with the resolved options (stride defaults to the kernel, countIncludePad to true)', () => {
    const x = randn([2, 3, 7, 8], { generator: new Generator(2) });
    const pool = new AvgPool2d({ kernelSize: 3, padding: 1 });
    expect([pool.stride, pool.countIncludePad]).toEqual([[3, 3], true]);
    expect([...pool.forward(x).data]).toEqual([...avgPool2d(x, 3, { stride: 3, padding: 1, countIncludePad: true }).data]);
    expect(Object.keys(pool.stateDict())).toEqual([]);
  });

  it('refuses bad options when built, naming the module', () => {
    expect(() => new AvgPool2d({ kernelSize: 2, padding: 2 })).toThrow(/AvgPool2d: expected padding at most half/);
    expect(() => new AvgPool2d({ kernelSize: 2, countIncludePad: 1 as unknown as boolean })).toThrow(/countIncludePad to be true or false/);
    expect(() => new AvgPool2d({ kernelSize: 2, count_include_pad: false } as unknown as AvgPool2dLayerOptions)).toThrow(/Did you mean "countIncludePad"/);
    expect(() => new AvgPool2d({ kernelSize: [2, 1.5] as unknown as [number, number] })).toThrow(OptionError);
  });
});
