import { describe, expect, it } from 'vitest';
import { expectMatchesTorch, moduleFixtureCases } from '../__fixtures__/nn-modules';
import { randn } from '../creation';
import { interpolate } from '../ops/interpolate';
import { Generator } from '../random';
import { Upsample, type UpsampleOptions } from './upsample';

describe('Upsample', () => {
  for (const fixture of moduleFixtureCases('Upsample')) {
    it(`matches torch.nn.Upsample (output and input gradient), ${JSON.stringify(fixture.options)}`, () => {
      expectMatchesTorch(new Upsample(fixture.options), fixture);
    });
  }

  it('is the interpolate op with its target, mode and alignCorners (nearest by default)', () => {
    const x = randn([1, 2, 5, 4], { generator: new Generator(5) });
    const up = new Upsample({ scaleFactor: [1.5, 2.5] });
    expect([up.mode, up.alignCorners, up.size]).toEqual(['nearest', false, null]);
    expect([...up.forward(x).data]).toEqual([...interpolate(x, { scaleFactor: [1.5, 2.5] }).data]);
    const bilinear = new Upsample({ size: 7, mode: 'bilinear', alignCorners: true });
    expect([...bilinear.forward(x).data]).toEqual([...interpolate(x, { size: [7, 7] }, 'bilinear', true).data]);
  });

  it('refuses bad options when built, naming the module', () => {
    expect(() => new Upsample({})).toThrow(/Upsample: expected exactly one of size or scaleFactor, got neither/);
    expect(() => new Upsample({ size: 4, scaleFactor: 2 })).toThrow(/got both/);
    expect(() => new Upsample({ scaleFactor: 0 })).toThrow(/scaleFactor to be a finite number > 0/);
    expect(() => new Upsample({ scaleFactor: [2] as unknown as number })).toThrow(/\[height, width\] pair/);
    expect(() => new Upsample({ size: 4, mode: 'bicubic' as 'nearest' })).toThrow(/mode 'nearest' or 'bilinear'/);
    expect(() => new Upsample({ size: 4, alignCorners: true })).toThrow(/alignCorners only with mode 'bilinear'/);
    expect(() => new Upsample({ scale_factor: 2 } as unknown as UpsampleOptions)).toThrow(/Did you mean "scaleFactor"/);
  });
});
