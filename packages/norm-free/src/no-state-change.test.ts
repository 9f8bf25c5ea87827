// A forward that throws changes no state: every buffer and parameter stays bit-identical (issue 17).
import { describe, it } from 'vitest';
import { Linear, ReLU, Sequential, randn } from '@normkit/tensor';
import { expectThrowsWithoutStateChange } from '@normkit/testkit';
import { spectralNorm } from '@normkit/weight';
import { NFResidualBlock } from './nf-residual-block';

const f64 = { dtype: 'float64' as const };

describe('NFResidualBlock: a forward that throws changes no buffer or parameter', () => {
  it('an input the branch refuses (its first layer throws)', () => {
    const block = new NFResidualBlock(new Sequential(spectralNorm(new Linear({ inFeatures: 3, outFeatures: 3, ...f64 })), new ReLU()), f64);
    expectThrowsWithoutStateChange(block, () => block.forward(randn([2, 5], f64)));
    expectThrowsWithoutStateChange(block, () => block.forward(randn([2, 3])));
  });

  it('a branch whose output does not match the input: thrown after the branch ran, its spectral-norm u and v restored', () => {
    const block = new NFResidualBlock(spectralNorm(new Linear({ inFeatures: 3, outFeatures: 4, ...f64 })), f64);
    expectThrowsWithoutStateChange(block, () => block.forward(randn([2, 3], f64)), /NFResidualBlock.forward/);
  });
});
