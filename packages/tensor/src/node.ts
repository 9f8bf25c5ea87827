// Node-only parts of @normkit/tensor (worker threads); kept out of the browser entry point.
export { WorkerProcessGroup, runWorkers } from './parallel/worker-process-group';
export type { SharedGroupHandle, SharedGroupOptions, RunWorkersOptions, ReplicaFunction } from './parallel/worker-process-group';
