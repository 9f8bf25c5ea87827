"""Shared statistics helpers: batch statistics over (N, *spatial) per channel, with masks, chunks and
an optional cross-process reduction, and PyTorch's running-average update."""
import torch


def channel_view(t, ndim):
    """[C] -> [1, C, 1, ..., 1] for an input of rank `ndim`."""
    return t.reshape((1, -1) + (1,) * (ndim - 2))


def batch_statistics(x, mask=None, all_reduce=None):
    """Per-channel count, mean and biased variance of x [N, C, *] over N and the spatial dims.

    mask ([N, *spatial], 1 real, 0 padded) keeps padded positions out. `all_reduce` (autograd-aware,
    summing over processes) makes them statistics of the global batch: count and sum first, then the
    squared deviations around the global mean (two passes, no E[x^2] - E[x]^2 cancellation).
    """
    dims = [0] + list(range(2, x.dim()))
    if mask is None:
        count = torch.full((x.shape[1],), float(x.numel() // max(x.shape[1], 1)), dtype=x.dtype)
        total = x.sum(dims)
        m = None
    else:
        m = mask.to(x.dtype).unsqueeze(1)
        count = (m.expand_as(x)).sum(dims)
        total = (x * m).sum(dims)
    if all_reduce is not None:
        count = all_reduce(count.detach())
        total = all_reduce(total)
    mean = total / count
    centred = x - channel_view(mean, x.dim())
    squares = centred * centred if m is None else centred * centred * m
    deviations = squares.sum(dims)
    if all_reduce is not None:
        deviations = all_reduce(deviations)
    return count, mean, deviations / count


@torch.no_grad()
def update_running(running_mean, running_var, num_batches_tracked, count, mean, var, momentum):
    """PyTorch's update: running = (1 - f) running + f batch with the unbiased variance; f = momentum,
    or 1 / num_batches_tracked (a cumulative average) when momentum is None."""
    num_batches_tracked.add_(1)
    factor = 1.0 / float(num_batches_tracked) if momentum is None else momentum
    unbiased = var * count / (count - 1)
    running_mean.mul_(1 - factor).add_(factor * mean.to(running_mean.dtype))
    running_var.mul_(1 - factor).add_(factor * unbiased.to(running_var.dtype))
