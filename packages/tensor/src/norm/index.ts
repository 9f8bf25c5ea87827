export { computeStatistics, slotCount, slotOf, checkMask, describeLayout } from './statistics';
export type { NormLayout, StatisticsOptions, NormStatistics } from './statistics';
export { normalize } from './normalize';
export type { NormalizeOptions, NormalizeResult, LearnedEpsilon } from './normalize';
export { modulate } from './modulate';
export type { ModulateOptions } from './modulate';
export { RunningStatisticsNorm, countBatch, updateInstanceRunningStatistics, updateRunningStatistics } from './running-statistics';
export type { RunningStatisticsBuffers } from './running-statistics';
// Unrolled block loops the fused kernels are made of, for plugin kernels outside the core (SwitchableNorm).
export { affineBlock, blockSums, gradXBlock, gradXBlockCentred } from '../kernels/js/loops';
export { mixSlotsForward, mixSlotsBackward } from './slot-mix';
export type { SlotMixForwardArgs, SlotMixBackwardArgs } from '../kernels/types';
export { checkChannels, checkChannelsFirst, checkDTypeOption, checkEps, checkModuleDType, checkPaddingMask, dtypeOptionSpec, refuseMask } from './checks';
export type { ChannelsFirstSizes, PaddingMaskMessage } from './checks';
