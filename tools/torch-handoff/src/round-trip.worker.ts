// One replica of normkit's own 2-worker data-parallel continuation in the round-trip test: loads the
// bundle normkit wrote after 20 steps, makes BatchNorm synchronised (SyncBatchNorm over the worker
// group), and trains the next 20 steps on its half of every batch, averaging gradients, as PyTorch
// DDP does with normkit_torch's convert_sync.
import { convertSyncBatchNorm } from '@normkit/batch';
import { DataParallel, loadBundle, saveBundle, slice, type BundleFiles, type ProcessGroup } from '@normkit/tensor';
import { makeData, start, train, STEPS } from './round-trip-run';

export interface ReplicaData {
  bundle: BundleFiles;
}

export interface ReplicaResult {
  losses: number[];
  bundle: BundleFiles;
}

export default function replica(group: ProcessGroup, data: ReplicaData): ReplicaResult {
  const run = start();
  loadBundle(data.bundle, run);
  convertSyncBatchNorm(run.model, group);
  const parallel = new DataParallel(run.model, group);
  const share = makeData().batches.slice(STEPS, 2 * STEPS).map(({ x, y }) => {
    const half = x.shape[0]! / group.size;
    const begin = group.rank * half;
    return { x: slice(x, 0, begin, begin + half), y: y.slice(begin, begin + half) };
  });
  const losses = train(run, share, () => parallel.synchronizeGradients());
  return { losses, bundle: saveBundle(run) };
}
