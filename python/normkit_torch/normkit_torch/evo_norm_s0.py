"""EvoNorm-S0, as @normkit/group's `EvoNormS0` (timm's `EvoNorm2dS0`; keys `weight`, `bias`, `v`)."""
import torch
from torch import nn

from ._stats import channel_view


def evo_norm_s0(x, weight, bias, v, groups, eps=1e-5):
    """y = x * sigmoid(v x) / sqrt(groupVar(x) + eps) * weight + bias, groupVar the biased variance per sample over
    each group of C / groups channels and every spatial position (x itself is not centred)."""
    n, c = x.shape[0], x.shape[1]
    grouped = x.reshape(n, groups, -1)
    rstd = torch.rsqrt(grouped.var(-1, unbiased=False, keepdim=True) + eps)
    rstd = rstd.expand(n, groups, c // groups).reshape((n, c) + (1,) * (x.dim() - 2))
    nd = x.dim()
    return x * torch.sigmoid(channel_view(v, nd) * x) * rstd * channel_view(weight, nd) + channel_view(bias, nd)


class EvoNormS0(nn.Module):
    """EvoNorm-S0 (Liu, Brock, Simonyan & Le, NeurIPS 2020) on [N, C, *]: a batch-independent normalization and
    activation in one layer, meant to replace "GroupNorm + ReLU". Parameters `weight` (ones), `bias` (zeros),
    `v` (ones); `groups` must divide `num_features` (default 32, timm's).

        evo = EvoNormS0(64, groups=8)
    """

    def __init__(self, num_features, groups=32, eps=1e-5, dtype=None):
        super().__init__()
        if not (isinstance(groups, int) and groups >= 1 and num_features % groups == 0):
            raise ValueError(f"EvoNormS0: expected groups dividing num_features = {num_features}, got groups = {groups!r}")
        if not (isinstance(eps, (int, float)) and eps > 0):
            raise ValueError(f"EvoNormS0: expected eps > 0, got {eps!r}")
        self.num_features, self.groups, self.eps = num_features, groups, eps
        self.weight = nn.Parameter(torch.ones(num_features, dtype=dtype))
        self.bias = nn.Parameter(torch.zeros(num_features, dtype=dtype))
        self.v = nn.Parameter(torch.ones(num_features, dtype=dtype))

    def forward(self, x):
        if x.dim() < 2 or x.shape[1] != self.num_features:
            raise ValueError(f"EvoNormS0: expected [N, {self.num_features}, *], got {list(x.shape)}")
        return evo_norm_s0(x, self.weight, self.bias, self.v, self.groups, self.eps)
