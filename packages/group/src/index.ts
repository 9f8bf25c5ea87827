// @normkit/group: GroupNorm, InstanceNorm, Filter Response Normalization and TLU on the shared kernel; LocalResponseNorm, EvoNorm-S0 and -B0.
export { GroupNorm, groupNorm, groupNormOptionsSchema } from './group-norm';
export type { GroupNormOptions, GroupNormFunctionOptions } from './group-norm';
export { InstanceNorm, instanceNorm, instanceNormOptionsSchema } from './instance-norm';
export type { InstanceNormOptions, InstanceNormFunctionOptions } from './instance-norm';
export { FilterResponseNorm, FilterResponseNormBase, filterResponseNorm, filterResponseNormOptionsSchema } from './filter-response-norm';
export type { FilterResponseNormOptions, FilterResponseNormFunctionOptions } from './filter-response-norm';
export { FilterResponseNormTLU } from './filter-response-norm-tlu';
export type { FilterResponseNormTLUOptions } from './filter-response-norm-tlu';
export { TLU, tlu } from './tlu';
export type { TLUOptions } from './tlu';
export { LocalResponseNorm, localResponseNorm, localResponseNormOptionsSchema } from './local-response-norm';
export type { LocalResponseNormOptions, LocalResponseNormSettings } from './local-response-norm';
export { EvoNormS0, evoNormS0, evoNormS0OptionsSchema } from './evo-norm-s0';
export type { EvoNormS0Options } from './evo-norm-s0';
export { EvoNormB0, evoNormB0OptionsSchema } from './evo-norm-b0';
export type { EvoNormB0Options } from './evo-norm-b0';
export {
  groupNormPlugin, instanceNormPlugin, filterResponseNormPlugin, localResponseNormPlugin, evoNormS0Plugin, evoNormB0Plugin, groupPlugins,
} from './plugins';
