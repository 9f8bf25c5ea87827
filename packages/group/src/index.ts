// @normkit/group: GroupNorm, InstanceNorm, Filter Response Normalization and TLU on the shared kernel; LocalResponseNorm.
export { GroupNorm, groupNorm } from './group-norm';
export type { GroupNormOptions, GroupNormFunctionOptions } from './group-norm';
export { InstanceNorm, instanceNorm } from './instance-norm';
export type { InstanceNormOptions, InstanceNormFunctionOptions } from './instance-norm';
export { FilterResponseNorm, FilterResponseNormBase, filterResponseNorm } from './filter-response-norm';
export type { FilterResponseNormOptions, FilterResponseNormFunctionOptions } from './filter-response-norm';
export { FilterResponseNormTLU } from './filter-response-norm-tlu';
export type { FilterResponseNormTLUOptions } from './filter-response-norm-tlu';
export { TLU, tlu } from './tlu';
export type { TLUOptions } from './tlu';
export { LocalResponseNorm, localResponseNorm, localResponseNormOptionsSchema } from './local-response-norm';
export type { LocalResponseNormOptions, LocalResponseNormSettings } from './local-response-norm';
export { groupNormPlugin, instanceNormPlugin, filterResponseNormPlugin, localResponseNormPlugin, groupPlugins } from './plugins';
