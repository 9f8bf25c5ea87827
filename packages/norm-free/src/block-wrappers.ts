// NF blocks and SkipInit as block wrappers for residual networks built by name from a config
// (the block-wrapper hook of normkit's experiment engine, `registerBlockWrapper`). Typed
// structurally so this package does not depend on the engine.
import type { OptionValues, OptionsSchema } from '@normkit/tensor';
import { NFResidualBlock } from './nf-residual-block';
import { SkipInit, type ResidualFunction } from './skip-init';

/** Where a block sits in the network (the engine's `BlockInfo`). */
export interface ResidualBlockInfo {
  index: number;
  depth: number;
  width: number;
}

/** A named way to turn a residual branch into a block, with an options schema (the engine's `BlockWrapperDefinition`). */
export interface ResidualBlockWrapper<S extends OptionsSchema = OptionsSchema> {
  readonly name: string;
  readonly description: string;
  readonly options: S;
  create(branch: ResidualFunction<[context?: unknown]>, info: ResidualBlockInfo, options: OptionValues<S>): ResidualFunction<[context?: unknown]>;
}

const nfBlockOptions = {
  alpha: { type: 'number', default: 0.2, min: 0, minExclusive: true, description: 'Fixed scale of each branch (NF-ResNets: 0.2)' },
  skipInit: { type: 'boolean', default: false, description: 'A learnable branch gain initialised to 0 (SkipInit), as NFNets use' },
} as const;

/**
 * `nf-block`: `x + alpha * f(x / beta)` with `beta = sqrt(1 + index * alpha^2)`, the variance
 * bookkeeping of NF-ResNets for identity blocks after a stem of unit output variance.
 */
export const nfBlockWrapper: ResidualBlockWrapper<typeof nfBlockOptions> = {
  name: 'nf-block',
  description: 'x + alpha * f(x / beta), beta the expected std of the stream (NF-ResNets)',
  options: nfBlockOptions,
  create: (branch, info, options) =>
    new NFResidualBlock(branch, { alpha: options.alpha, expectedVariance: 1 + info.index * options.alpha * options.alpha, skipInit: options.skipInit }),
};

/** `skip-init`: `x + alpha * f(x)`, alpha learnable from 0. */
export const skipInitWrapper: ResidualBlockWrapper<Record<string, never>> = {
  name: 'skip-init',
  description: 'x + alpha * f(x), alpha learnable and 0 at start (SkipInit)',
  options: {},
  create: (branch) => new SkipInit(branch),
};

/** Both wrappers, for `for (const wrapper of normFreeBlockWrappers) registerBlockWrapper(wrapper)`. */
export const normFreeBlockWrappers: readonly ResidualBlockWrapper[] = [nfBlockWrapper, skipInitWrapper];
