import type { Module, ProcessGroup } from '@normkit/tensor';
import { BatchNorm } from './batch-norm';
import { GhostBatchNorm } from './ghost-batch-norm';
import { replaceModules } from './replace-modules';
import { SyncBatchNorm } from './sync-batch-norm';

/**
 * Swaps every BatchNorm in a model for a SyncBatchNorm over `group`, like
 * `torch.nn.SyncBatchNorm.convert_sync_batchnorm`, and returns the model (or, when `module` is
 * itself a BatchNorm, its replacement). The new modules share the old ones' parameter and buffer
 * tensors (an optimizer built before keeps working) and training flag. Existing SyncBatchNorms are
 * attached to `group`; GhostBatchNorms stay local (ghost batches are a per-replica regulariser).
 *
 * The swap updates the parent's registered child and every field, array slot or Map value of the
 * parent that referenced the old module (Sequential's layer list, `this.norm = ...` fields).
 *
 * @example
 * const model = convertSyncBatchNorm(buildResNet(), group);
 * const parallel = new DataParallel(model, group);
 */
export function convertSyncBatchNorm<M extends Module>(module: M, group: ProcessGroup): M {
  return replaceModules('convertSyncBatchNorm', module, (child) => {
    if (child instanceof SyncBatchNorm) {
      child.group = group;
      return null;
    }
    // Ghost batches are a per-replica regulariser: their statistics stay local by design.
    if (!(child instanceof BatchNorm) || child instanceof GhostBatchNorm) return null;
    return SyncBatchNorm.fromBatchNorm(child, group);
  });
}
