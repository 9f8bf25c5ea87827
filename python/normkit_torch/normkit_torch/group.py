"""Filter Response Normalization, TLU and FRN + TLU, as @normkit/group defines them."""
import torch
from torch import nn

from ._stats import channel_view


def filter_response_norm(x, weight=None, bias=None, eps=1e-6, eps_learned=None, tau=None):
    """nu2 = mean_spatial(x^2); y = gamma * x * rsqrt(nu2 + eps + |eps_learned|) + beta; z = max(y, tau)."""
    dims = tuple(range(2, x.dim()))
    nu2 = x.pow(2).mean(dims, keepdim=True)
    total_eps = eps if eps_learned is None else eps + eps_learned.abs().reshape(())
    y = x * torch.rsqrt(nu2 + total_eps)
    if weight is not None:
        y = y * channel_view(weight, x.dim())
    if bias is not None:
        y = y + channel_view(bias, x.dim())
    if tau is not None:
        y = torch.maximum(y, channel_view(tau, x.dim()))
    return y


class FilterResponseNorm(nn.Module):
    """FRN (Singh & Krishnan, CVPR 2020) without its activation: keys `weight`, `bias` and, with
    `learnable_eps`, `eps_learned` [1] (eps_total = eps + |eps_learned|)."""

    has_tau = False

    def __init__(self, num_features, eps=1e-6, learnable_eps=False, dtype=None):
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.learnable_eps = learnable_eps
        self.weight = nn.Parameter(torch.ones(num_features, dtype=dtype))
        self.bias = nn.Parameter(torch.zeros(num_features, dtype=dtype))
        if self.has_tau:
            self.tau = nn.Parameter(torch.zeros(num_features, dtype=dtype))
        self.eps_learned = nn.Parameter(torch.zeros(1, dtype=dtype)) if learnable_eps else None

    def forward(self, x):
        tau = self.tau if self.has_tau else None
        return filter_response_norm(x, self.weight, self.bias, self.eps, self.eps_learned, tau)


class FilterResponseNormTLU(FilterResponseNorm):
    """FRN followed by the Thresholded Linear Unit max(y, tau) (key `tau`), fused as in normkit."""

    has_tau = True


class TLU(nn.Module):
    """Thresholded Linear Unit: max(x, tau) per channel, key `tau` (zeros)."""

    def __init__(self, num_features, dtype=None):
        super().__init__()
        self.num_features = num_features
        self.tau = nn.Parameter(torch.zeros(num_features, dtype=dtype))

    def forward(self, x):
        return torch.maximum(x, channel_view(self.tau, x.dim()))
