import { ContextError, type Module, type ProcessGroup } from '@normkit/tensor';
import { BatchNorm } from './batch-norm';
import { GhostBatchNorm } from './ghost-batch-norm';
import { SyncBatchNorm } from './sync-batch-norm';

function replacementFor(module: Module, group: ProcessGroup, swapped: Map<Module, Module>): Module | null {
  const known = swapped.get(module);
  if (known) return known;
  if (module instanceof SyncBatchNorm) {
    module.group = group;
    return null;
  }
  // Ghost batches are a per-replica regulariser: their statistics stay local by design.
  if (!(module instanceof BatchNorm) || module instanceof GhostBatchNorm) return null;
  const sync = SyncBatchNorm.fromBatchNorm(module, group);
  swapped.set(module, sync);
  return sync;
}

/** Points every own property (and array or Map slot) of `parent` that held `from` at `to`. */
function redirectReferences(parent: Module, from: Module, to: Module): void {
  const fields = parent as unknown as Record<string, unknown>;
  for (const key of Object.keys(fields)) {
    const value = fields[key];
    if (value === from) {
      if (!Reflect.set(fields, key, to)) {
        throw new ContextError({ op: 'convertSyncBatchNorm', expected: `a writable property "${key}"`, given: 'a read-only one' });
      }
    } else if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) if (value[i] === from) value[i] = to;
    } else if (value instanceof Map) {
      for (const [k, v] of value) if (v === from) value.set(k, to);
    }
  }
}

function convertChildren(parent: Module, group: ProcessGroup, swapped: Map<Module, Module>, visited: Set<Module>): void {
  if (visited.has(parent)) return;
  visited.add(parent);
  for (const [name, child] of [...parent.namedChildren()]) {
    const replacement = replacementFor(child, group, swapped);
    if (replacement) {
      parent.registerModule(name, replacement);
      redirectReferences(parent, child, replacement);
    } else {
      convertChildren(child, group, swapped, visited);
    }
  }
}

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
  const swapped = new Map<Module, Module>();
  const root = replacementFor(module, group, swapped);
  if (root) return root as M;
  convertChildren(module, group, swapped, new Set());
  return module;
}
