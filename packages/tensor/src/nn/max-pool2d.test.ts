import { describe, expect, it } from 'vitest';
import { expectMatchesTorch, moduleFixtureCases } from '../__fixtures__/nn-modules';
import { randn } from '../creation';
import { OptionError, ShapeError } from '../errors';
import { maxPool2d } from '../ops/pool';
import { Generator } from '../random';
import { MaxPool2d, type MaxPool2dLayerOptions } from './max-pool2d';

describe('MaxPool2d', () => {
  for (const fixture of moduleFixtureCases('MaxPool2d')) {
    it(`matches torch.nn.MaxPool2d (output and input gradient), ${JSON.stringify(fixture.options)}`, () => {
      expectMatchesTorch(new MaxPool2d(fixture.options as unknown as MaxPool2dLayerOptions), fixture);
    });
  }

  it('is the maxPool2d op with the resolved options (stride defaults to the kernel), with nothing to save', () => {
    const x = randn([2, 3, 9, 8], { generator: new Generator(1) });
    const pool = new MaxPool2d({ kernelSize: [3, 2], padding: 1 });
    expect(pool.stride).toEqual([3, 2]);
    expect([...pool.forward(x).data]).toEqual([...maxPool2d(x, [3, 2], { stride: [3, 2], padding: 1 }).data]);
    expect(Object.keys(pool.stateDict())).toEqual([]);
    expect(pool.parameters()).toEqual([]);
  });

  it('refuses bad options when built, naming the module', () => {
    expect(() => new MaxPool2d({ kernelSize: 3, padding: 2 })).toThrow(/MaxPool2d: expected padding at most half the kernel size \[3, 3\]/);
    expect(() => new MaxPool2d({ kernelSize: 0 })).toThrow(OptionError);
    expect(() => new MaxPool2d({} as MaxPool2dLayerOptions)).toThrow(/expected a kernelSize/);
    expect(() => new MaxPool2d({ kernel_size: 2 } as unknown as MaxPool2dLayerOptions)).toThrow(/unknown option "kernel_size".*Did you mean "kernelSize"/s);
    expect(() => new MaxPool2d({ kernelSize: 2, ceilMode: true } as unknown as MaxPool2dLayerOptions)).toThrow(/options among kernelSize, stride, padding, dilation/);
  });

  it('refuses an input of the wrong rank at forward with the op\'s error', () => {
    expect(() => new MaxPool2d({ kernelSize: 2 }).forward(randn([4, 4]))).toThrow(ShapeError);
  });
});
