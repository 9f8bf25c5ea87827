import { describe, expect, it } from 'vitest';
import {
  DTypeError, Generator, Linear, OptionError, ReLU, Sequential, ShapeError, ValueError, add, gradcheck, mul, variance,
} from '@normkit/tensor';
import { expectClose, expectGradcheck } from '@normkit/testkit';
import { NFResidualBlock, nfResidualBlocks } from './nf-residual-block';
import { ScaledStdLinear } from './scaled-weight-standardization';
import { gaussian } from './test-support';

const linearBranch = (seed: number, inFeatures = 4, outFeatures = 4) =>
  new Sequential(new ReLU(), new Linear({ inFeatures, outFeatures, dtype: 'float64', generator: new Generator(seed) }));

/** The NF-ResNet branch: relu -> scaled WS linear -> relu -> scaled WS linear (gamma for ReLU). */
const scaledBranch = (width: number, generator: Generator) =>
  new Sequential(
    new ReLU(), new ScaledStdLinear({ inFeatures: width, outFeatures: width, nonlinearity: 'relu', bias: false, dtype: 'float64', generator }),
    new ReLU(), new ScaledStdLinear({ inFeatures: width, outFeatures: width, nonlinearity: 'relu', bias: false, dtype: 'float64', generator }),
  );

describe('NFResidualBlock', () => {
  it('computes x + alpha * f(x / beta), defaults alpha 0.2 and beta 1', () => {
    const block = new NFResidualBlock(linearBranch(1), { alpha: 0.3, expectedVariance: 2.25 });
    expect(block.beta).toBe(1.5);
    expect(block.outputVariance).toBeCloseTo(2.25 + 0.09, 15);
    const x = gaussian([5, 4], 2);
    expectClose(block.forward(x), add(x, mul(block.branch.forward(mul(x, 1 / 1.5)), 0.3)), 1e-15, 1e-14);
    const defaults = new NFResidualBlock(linearBranch(1));
    expect([defaults.alpha, defaults.beta, defaults.skipGain, defaults.shortcut]).toEqual([0.2, 1, null, null]);
    expect(new NFResidualBlock(linearBranch(1), { beta: 2 }).beta).toBe(2);
    expect(Object.keys(defaults.stateDict())).toEqual(['branch.1.weight', 'branch.1.bias']);
  });

  it('with skipInit: a 0-D skipGain at 0 makes the block the identity; it gets the gradient alpha * sum(G * f(x / beta))', () => {
    const block = new NFResidualBlock(linearBranch(3), { skipInit: true, expectedVariance: 4 });
    expect(block.skipGain!.shape).toEqual([]);
    expect(block.skipGain!.item()).toBe(0);
    expect(Object.keys(block.stateDict())).toEqual(['skipGain', 'branch.1.weight', 'branch.1.bias']);
    const x = gaussian([3, 4], 4, { requiresGrad: true });
    const out = block.forward(x);
    expect(Array.from(out.data)).toEqual(Array.from(x.data));
    const upstream = gaussian([3, 4], 5);
    out.backward(upstream);
    const f = block.branch.forward(mul(x, 0.5));
    expect(block.skipGain!.grad!.item()).toBeCloseTo(0.2 * Array.from(f.data).reduce((s, v, i) => s + v * upstream.data[i]!, 0), 12);
    block.skipGain!.data[0] = 0.6;
    expectClose(block.forward(x), add(x, mul(f, 0.2 * 0.6)), 1e-15, 1e-14);
  });

  it('a transition block: shortcut(x / beta) + alpha * f(x / beta), variance restarting at 1 + alpha^2', () => {
    const shortcut = new Linear({ inFeatures: 4, outFeatures: 6, bias: false, dtype: 'float64', generator: new Generator(6) });
    const block = new NFResidualBlock(linearBranch(7, 4, 6), { expectedVariance: 3, shortcut });
    expect(block.outputVariance).toBeCloseTo(1.04, 15);
    const x = gaussian([2, 4], 8);
    const normalized = mul(x, 1 / Math.sqrt(3));
    expectClose(block.forward(x), add(shortcut.forward(normalized), mul(block.branch.forward(normalized), 0.2)), 1e-15, 1e-14);
    expect(Object.keys(block.stateDict())).toEqual(['branch.1.weight', 'branch.1.bias', 'shortcut.weight']);
  });

  it('gradcheck w.r.t. the input, the skip gain and the branch and shortcut parameters', () => {
    const shortcut = new Linear({ inFeatures: 4, outFeatures: 3, dtype: 'float64', generator: new Generator(9) });
    const block = new NFResidualBlock(linearBranch(10, 4, 3), { skipInit: true, expectedVariance: 1.7, shortcut });
    block.skipGain!.data[0] = 0.8;
    const x = gaussian([3, 4], 11, { requiresGrad: true });
    const linear = block.branch.at(1) as Linear;
    expectGradcheck(gradcheck(() => block.forward(x), [x, block.skipGain!, linear.weight, shortcut.weight]));
  });

  it('variance bookkeeping: through 20 NF blocks with scaled-WS branches the stream variance follows 1 + i alpha^2', () => {
    const width = 64;
    const generator = new Generator(12);
    const blocks = nfResidualBlocks(Array.from({ length: 20 }, () => scaledBranch(width, generator)), { alpha: 0.2 });
    blocks.forEach((block, i) => expect(block.beta).toBeCloseTo(Math.sqrt(1 + i * 0.04), 14));
    let h = gaussian([1024, width], 13);
    const measured: number[] = [];
    for (const block of blocks) {
      h = block.forward(h);
      measured.push(variance(h).item());
    }
    measured.forEach((v, i) => expect(Math.abs(v / (1 + (i + 1) * 0.04) - 1), `block ${i}`).toBeLessThan(0.05));
    // Without the bookkeeping (x + f(x)) the variance grows geometrically.
    let plain = gaussian([1024, width], 13);
    for (let i = 0; i < 20; i++) plain = add(plain, blocks[i]!.branch.forward(plain));
    expect(variance(plain).item()).toBeGreaterThan(1e4);
  });

  it('nfResidualBlocks starts from initialVariance and shares alpha, skipInit and dtype', () => {
    const blocks = nfResidualBlocks([linearBranch(1), linearBranch(2), linearBranch(3)], { alpha: 0.5, initialVariance: 4, skipInit: true });
    expect(blocks.map((b) => b.beta)).toEqual([2, Math.sqrt(4.25), Math.sqrt(4.5)]);
    expect(blocks.every((b) => b.skipGain !== null && b.alpha === 0.5)).toBe(true);
    expect(() => nfResidualBlocks([linearBranch(1)], { initialVariance: 0 })).toThrow(/initialVariance to be a finite number > 0/);
  });

  it('refuses bad options, shape changes without a shortcut, a mismatched shortcut and an input of another dtype', () => {
    expect(() => new NFResidualBlock(linearBranch(1), { alpha: 0 })).toThrow(OptionError);
    expect(() => new NFResidualBlock(linearBranch(1), { alpha: -0.2 })).toThrow(/NFResidualBlock: expected alpha to be a finite number > 0/);
    expect(() => new NFResidualBlock(linearBranch(1), { beta: 1, expectedVariance: 1 })).toThrow(/either beta \(expected std\) or expectedVariance/);
    expect(() => new NFResidualBlock(linearBranch(1), { expectedVariance: -1 })).toThrow(OptionError);
    expect(() => new NFResidualBlock(linearBranch(1), { skipInit: 1 as never })).toThrow(/skipInit to be a boolean/);
    expect(() => new NFResidualBlock('branch' as never)).toThrow(ValueError);
    expect(() => new NFResidualBlock(linearBranch(1), { shortcut: {} as never })).toThrow(/NFResidualBlock shortcut: expected a residual branch/);
    expect(() => new NFResidualBlock(linearBranch(1, 4, 2)).forward(gaussian([2, 4], 1))).toThrow(ShapeError);
    const shortcut = new Linear({ inFeatures: 4, outFeatures: 5, dtype: 'float64' });
    expect(() => new NFResidualBlock(linearBranch(1, 4, 2), { shortcut }).forward(gaussian([2, 4], 1))).toThrow(
      /the shortcut to return the branch output's shape \[2, 2\], got \[2, 5\]/,
    );
    expect(() => new NFResidualBlock(linearBranch(1)).forward(gaussian([2, 4], 1, { dtype: 'float32' }))).toThrow(DTypeError);
  });
});
