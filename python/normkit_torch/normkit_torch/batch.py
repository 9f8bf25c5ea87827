"""BatchNorm with padding masks and GhostBatchNorm, as @normkit/batch defines them.

State-dict keys: `weight`, `bias`, `running_mean`, `running_var`, `num_batches_tracked` (PyTorch's).
"""
import torch
from torch import nn

from ._stats import batch_statistics, channel_view, update_running


class BatchNorm(nn.Module):
    """BatchNorm for any [N, C, *] input, exactly torch.nn.BatchNorm1d/2d/3d, plus `forward(x, mask=...)`:
    a [N, *spatial] padding mask (1 real, 0 padded) keeps padded positions out of the statistics and
    the running averages; padded outputs are 0. normkit's `BatchNorm` (@normkit/batch)."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, dtype=None):
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        # Synchronised statistics (convert_sync): a callable summing a tensor over processes, autograd-aware.
        self.all_reduce = None
        if affine:
            self.weight = nn.Parameter(torch.ones(num_features, dtype=dtype))
            self.bias = nn.Parameter(torch.zeros(num_features, dtype=dtype))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", torch.zeros(num_features, dtype=dtype))
            self.register_buffer("running_var", torch.ones(num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self):
        if self.track_running_stats:
            self.running_mean.zero_()
            self.running_var.fill_(1)
            self.num_batches_tracked.zero_()

    def _chunks(self, n):
        return [(0, n)]

    def _normalize(self, x, mean, var):
        nd = x.dim()
        y = (x - channel_view(mean, nd)) * channel_view(torch.rsqrt(var + self.eps), nd)
        if self.weight is not None:
            y = y * channel_view(self.weight, nd) + channel_view(self.bias, nd)
        return y

    def forward(self, x, mask=None):
        if x.dim() < 2 or x.shape[1] != self.num_features:
            raise ValueError(f"{type(self).__name__}: expected [N, {self.num_features}, *], got {list(x.shape)}")
        if mask is not None and list(mask.shape) != [x.shape[0]] + list(x.shape[2:]):
            raise ValueError(f"{type(self).__name__}: mask must have shape {[x.shape[0]] + list(x.shape[2:])}, got {list(mask.shape)}")
        if not self.training and self.track_running_stats:
            y = self._normalize(x, self.running_mean, self.running_var)
        else:
            outputs = []
            for begin, end in self._chunks(x.shape[0]):
                xc = x[begin:end]
                mc = None if mask is None else mask[begin:end]
                count, mean, var = batch_statistics(xc, mc, self.all_reduce)
                if self.training and bool((count <= 1).any()):
                    raise ValueError(f"{type(self).__name__}: expected more than 1 value per channel when training")
                if self.training and self.track_running_stats:
                    update_running(self.running_mean, self.running_var, self.num_batches_tracked, count, mean.detach(), var.detach(), self.momentum)
                outputs.append(self._normalize(xc, mean, var))
            y = torch.cat(outputs, 0) if len(outputs) > 1 else outputs[0]
        if mask is not None:
            y = y * mask.to(y.dtype).unsqueeze(1)
        return y


class GhostBatchNorm(BatchNorm):
    """Ghost Batch Normalization (Hoffer et al., 2017): BatchNorm statistics per consecutive chunk of
    `virtual_batch_size` samples (the last may be smaller); the running averages update once per
    chunk, in order, so `num_batches_tracked` counts chunks. normkit's `GhostBatchNorm` (virtual_batch_size 128 by default)."""

    def __init__(self, num_features, virtual_batch_size=128, **kwargs):
        if not (isinstance(virtual_batch_size, int) and virtual_batch_size >= 1):
            raise ValueError(f"GhostBatchNorm: expected virtual_batch_size to be an integer >= 1, got {virtual_batch_size!r}")
        super().__init__(num_features, **kwargs)
        self.virtual_batch_size = virtual_batch_size

    def _chunks(self, n):
        v = self.virtual_batch_size
        return [(b, min(n, b + v)) for b in range(0, n, v)]
