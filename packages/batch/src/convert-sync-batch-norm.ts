import { ValueError, type Module, type ProcessGroup } from '@normkit/tensor';
import { BatchNorm } from './batch-norm';
import { BatchRenorm } from './batch-renorm';
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
 * A BatchRenorm has no synchronized version (its r and d would be lost): a model holding one is
 * refused with a ValueError before anything changes.
 *
 * @example
 * const model = convertSyncBatchNorm(buildResNet(), group);
 * const parallel = new DataParallel(model, group);
 */
export function convertSyncBatchNorm<M extends Module>(module: M, group: ProcessGroup): M {
  for (const [name, child] of module.namedModules()) {
    if (child instanceof BatchRenorm) {
      throw new ValueError(
        { op: 'convertSyncBatchNorm', expected: 'batch norms it can synchronise (BatchNorm, SyncBatchNorm; GhostBatchNorm stays local)', given: `a BatchRenorm at "${name || '(root)'}"` },
        'Nothing was changed. Batch Renormalization has no synchronized version: converting it would drop its r and d corrections.',
      );
    }
  }
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
