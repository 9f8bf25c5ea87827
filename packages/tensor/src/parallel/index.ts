// Browser-safe parallel training parts; the worker-thread group lives in `@normkit/tensor/node`.
export { checkRoot, checkGroupSize, checkCollectivesAgree } from './process-group';
export type { ProcessGroup, CollectiveKind, CollectiveCall } from './process-group';
export { InProcessGroup } from './in-process-group';
export type { InProcessRunOptions } from './in-process-group';
export { DataParallel, broadcastModule, averageGradients } from './data-parallel';
export type { DataParallelOptions, BroadcastModuleOptions } from './data-parallel';
