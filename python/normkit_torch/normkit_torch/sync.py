"""Cross-process batch statistics on CPU: `convert_sync(model)`, like
torch.nn.SyncBatchNorm.convert_sync_batchnorm (which refuses CPU tensors).

Synchronised modules take counts, sums and squared deviations over every process through
`torch.distributed.nn.functional.all_reduce`, which is autograd-aware (its backward all-reduces the
upstream gradients), so the backward reductions cross processes too. With a mean-reduced loss per
process and DDP's gradient averaging, N processes on equal shares of a batch then compute the
gradients of one process on the whole batch.
"""
import functools

import torch
from torch import nn

from .batch import BatchNorm, GhostBatchNorm
from .switchable import SwitchableNorm


def _sum_over_processes(t, group=None):
    import torch.distributed as dist
    from torch.distributed.nn.functional import all_reduce

    return all_reduce(t, op=dist.ReduceOp.SUM, group=group if group is not None else dist.group.WORLD)


def _from_torch_batch_norm(bn):
    """A normkit_torch BatchNorm sharing the parameter and buffer tensors of a torch nn.BatchNorm*d."""
    ours = BatchNorm(bn.num_features, eps=bn.eps, momentum=bn.momentum, affine=bn.affine, track_running_stats=bn.track_running_stats)
    if bn.affine:
        ours.weight, ours.bias = bn.weight, bn.bias
    if bn.track_running_stats:
        ours.running_mean, ours.running_var, ours.num_batches_tracked = bn.running_mean, bn.running_var, bn.num_batches_tracked
    ours.train(bn.training)
    return ours


def convert_sync(module, process_group=None, switchable=False):
    """Makes every batch-dependent normalizer normkit synchronises take its statistics over all processes:
    torch's nn.BatchNorm1d/2d/3d (swapped for normkit_torch's BatchNorm, sharing its tensors, so an
    optimizer built before keeps working) and normkit_torch's BatchNorm (also inside
    ConditionalBatchNorm and FiLM). GhostBatchNorm stays local, as in normkit (ghost batches are a
    per-replica regulariser). `switchable=True` also synchronises SwitchableNorm's batch statistics
    (normkit does not). A BatchRenorm is refused before anything changes. Returns the module (or its replacement
    when it is itself a BatchNorm)."""
    from .batch_renorm import BatchRenorm

    for name, m in module.named_modules():
        if isinstance(m, BatchRenorm):
            raise ValueError(f"convert_sync: expected batch norms it can synchronise (BatchNorm; GhostBatchNorm stays local), got a "
                             f"BatchRenorm at {name or '(root)'!r}. Nothing was changed: Batch Renormalization has no synchronised "
                             "version (converting it would drop its r and d corrections), as in normkit.")
    reduce = functools.partial(_sum_over_processes, group=process_group)

    def visit(m):
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m = _from_torch_batch_norm(m)
        if isinstance(m, BatchNorm) and not isinstance(m, GhostBatchNorm):
            m.all_reduce = reduce
        elif isinstance(m, SwitchableNorm) and switchable:
            m.all_reduce = reduce
        for name, child in list(m.named_children()):
            replacement = visit(child)
            if replacement is not child:
                setattr(m, name, replacement)
        return m

    return visit(module)
