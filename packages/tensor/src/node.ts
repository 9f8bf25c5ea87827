// Node-only parts of @normkit/tensor (worker threads); kept out of the browser entry point.
export {
  CollectiveAbortedError, DEFAULT_COLLECTIVE_TIMEOUT_MS, DEFAULT_GRACE_PERIOD_MS, WorkerProcessGroup, runWorkers,
} from './parallel/worker-process-group';
export type {
  GroupAbortReason, GroupAbortState, SharedGroupHandle, SharedGroupOptions, RunWorkersOptions, ReplicaFunction,
} from './parallel/worker-process-group';
