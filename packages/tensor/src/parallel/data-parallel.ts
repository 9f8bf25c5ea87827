import { allocate } from '../dtype';
import type { Module } from '../nn/module';
import { Tensor } from '../tensor';
import { checkRoot, type ProcessGroup } from './process-group';

export interface BroadcastModuleOptions {
  /** The rank whose values everyone takes; default 0. */
  root?: number;
  /** Also broadcast buffers (running statistics, ...); default true. */
  buffers?: boolean;
}

export type DataParallelOptions = BroadcastModuleOptions;

function moduleTensors(module: Module, buffers: boolean): Tensor[] {
  const tensors: Tensor[] = [...module.parameters()];
  if (buffers) {
    const seen = new Set<Tensor>(tensors);
    for (const [, buffer] of module.namedBuffers()) {
      if (!seen.has(buffer)) {
        seen.add(buffer);
        tensors.push(buffer);
      }
    }
  }
  return tensors;
}

/**
 * Copies the root rank's parameters (and buffers) into every replica's module, in place, with one
 * broadcast of all values flattened in `namedParameters` order. Replicas with differently shaped
 * models get an error from the group (their buffers differ in length).
 */
export function broadcastModule(module: Module, group: ProcessGroup, options: BroadcastModuleOptions = {}): void {
  const root = options.root ?? 0;
  checkRoot('broadcastModule', root, group.size);
  const tensors = moduleTensors(module, options.buffers ?? true);
  let total = 0;
  for (const t of tensors) total += t.size;
  const flat = new Float64Array(total);
  let offset = 0;
  for (const t of tensors) {
    flat.set(t.data, offset);
    offset += t.size;
  }
  group.broadcast(flat, root);
  offset = 0;
  for (const t of tensors) {
    // float32 -> float64 -> float32 is exact, so the root's values arrive bit for bit.
    t.data.set(flat.subarray(offset, offset + t.size));
    offset += t.size;
  }
}

/**
 * Replaces each parameter's gradient by its mean over the replicas (sum / size), like
 * DistributedDataParallel, with one allReduce of all gradients flattened. A parameter without a
 * gradient counts as zero; it keeps `grad = null` only when no replica has a gradient for it.
 */
export function averageGradients(source: Module | Iterable<Tensor>, group: ProcessGroup): void {
  const parameters = (typeof (source as Module).parameters === 'function' ? (source as Module).parameters() : [...(source as Iterable<Tensor>)]).filter(
    (p) => p.requiresGrad,
  );
  let total = 0;
  for (const p of parameters) total += p.size;
  // [gradients..., one presence count per parameter]: one collective for everything.
  const flat = new Float64Array(total + parameters.length);
  let offset = 0;
  parameters.forEach((p, index) => {
    if (p.grad) {
      flat.set(p.grad.data, offset);
      flat[total + index] = 1;
    }
    offset += p.size;
  });
  group.allReduce(flat);
  offset = 0;
  const scale = 1 / group.size;
  parameters.forEach((p, index) => {
    if (flat[total + index]! > 0) {
      const grad = p.grad ?? new Tensor(allocate(p.dtype, p.size), p.shape);
      const data = grad.data;
      for (let i = 0; i < p.size; i++) data[i] = flat[offset + i]! * scale;
      p.grad = grad;
    }
    offset += p.size;
  });
}

/**
 * Data-parallel training over a process group, like `torch.nn.parallel.DistributedDataParallel`:
 * every replica holds the whole model and a shard of each batch. Construction broadcasts the root
 * rank's parameters and buffers so all replicas start equal; after each `backward()`, call
 * `synchronizeGradients()` to average the gradients, then step the optimizer: every replica takes
 * the same step and the parameters stay identical. With equal shards and a mean loss per shard,
 * this is the full-batch gradient; BatchNorm layers should be SyncBatchNorm for full-batch statistics.
 *
 * @example
 * const parallel = new DataParallel(model, group);
 * const optimizer = new SGD(model, { lr: 0.1 });
 * for (const [x, y] of myShardOfEachBatch) {
 *   model.zeroGrad();
 *   mse(model.forward(x), y).backward();
 *   parallel.synchronizeGradients();
 *   optimizer.step();
 * }
 */
export class DataParallel<M extends Module = Module> {
  constructor(
    readonly module: M,
    readonly group: ProcessGroup,
    options: DataParallelOptions = {},
  ) {
    broadcastModule(module, group, options);
  }

  /** Averages every parameter gradient over the replicas (call after backward, before the step). */
  synchronizeGradients(): void {
    averageGradients(this.module, this.group);
  }

  /** Re-broadcasts parameters and buffers from the root (e.g. after loading a checkpoint on one rank). */
  broadcast(options: BroadcastModuleOptions = {}): void {
    broadcastModule(this.module, this.group, options);
  }
}
