export { defineKernel } from './define';
export type { KernelDefinition } from './define';
export { getBackend, setBackend, activeKernels, kernelsOf } from './backend';
export { setNumThreads, getNumThreads, threadSupport } from './threads';
export type { ThreadSupport } from './threads';
export type { BackendName, KernelTable, BinaryArgs, BinaryBroadcast, BinaryKernelOp, ActivationOp, ActivationArgs, ActivationBackwardArgs, GemmArgs, ConvWindow, ConvGeometryArgs, Conv2dForwardArgs, Conv2dBackwardArgs, SlotMixForwardArgs, SlotMixBackwardArgs } from './types';
export type {
  RowwiseForwardArgs, RowwiseBackwardArgs, SlotwiseForwardArgs, SlotwiseBackwardArgs, BatchForwardArgs, BatchForwardResult, BatchBackwardArgs,
} from './types';
