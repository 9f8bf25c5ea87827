"""Instance Normalization (Ulyanov, Vedaldi & Lempitsky, 2016), as @normkit/group's InstanceNorm:
per sample and channel of [N, C, *spatial], over the spatial positions,

    y = (x - mean_s(x)) / sqrt(var_s(x) + eps) * weight + bias        (biased variance)

It is GroupNorm with C groups. PyTorch's `nn.InstanceNorm1d/2d/3d` semantics and keys for any number of
spatial dims: `weight`, `bias` with affine; `running_mean`, `running_var` (unbiased, averaged over the
batch, PyTorch's momentum) and `num_batches_tracked` (stays 0, as in PyTorch) with track_running_stats,
which eval then uses. normkit's defaults are PyTorch's (affine and track_running_stats False).

    >>> norm = InstanceNorm(4, affine=True)
    >>> norm(torch.randn(2, 4, 5)).shape
    torch.Size([2, 4, 5])
"""
import torch
import torch.nn.functional as F
from torch import nn


class InstanceNorm(nn.Module):
    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False, dtype=None):
        super().__init__()
        if not eps > 0:
            raise ValueError(f"InstanceNorm: expected eps > 0, got eps = {eps}")
        if not 0 <= momentum <= 1:
            raise ValueError(f"InstanceNorm: expected momentum in [0, 1], got momentum = {momentum}")
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = nn.Parameter(torch.ones(num_features, dtype=dtype))
            self.bias = nn.Parameter(torch.zeros(num_features, dtype=dtype))
        else:
            self.weight = self.bias = None
        if track_running_stats:
            self.register_buffer("running_mean", torch.zeros(num_features, dtype=dtype))
            self.register_buffer("running_var", torch.ones(num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))
        else:
            self.running_mean = self.running_var = None

    def forward(self, x):
        if x.dim() < 3 or x.shape[1] != self.num_features:
            raise ValueError(f"InstanceNorm: expected [N, {self.num_features}, *spatial] with a spatial dim, got {list(x.shape)}")
        use_input_stats = self.training or not self.track_running_stats
        if use_input_stats and x[0, 0].numel() <= 1:
            # As normkit and PyTorch: the variance of one value is undefined.
            raise ValueError(f"InstanceNorm: expected more than 1 spatial element per channel, got input shape {list(x.shape)}")
        return F.instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias, use_input_stats, self.momentum, self.eps)
