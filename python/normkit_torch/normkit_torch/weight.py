"""Weight normalization as a torch.nn.utils.parametrize parametrization, with normkit's keys
`parametrizations.weight.original0` (g) and `parametrizations.weight.original1` (v).

torch >= 2.1 has `torch.nn.utils.parametrizations.weight_norm` with the same keys and semantics and is
used there (reviewed, not tested: only 1.13 is installable here); 1.13 gets the parametrization below.
"""
import math

import torch
from torch import nn
from torch.nn.utils import parametrize


def _norm_except_dim(v, dim):
    if dim is None:
        return v.pow(2).sum().sqrt()
    dims = [d for d in range(v.dim()) if d != dim % v.dim()]
    # sqrt of the sum of squares: torch 1.13's frobenius norm refuses more than 2 dims.
    return v.pow(2).sum(dims, keepdim=True).sqrt() if dims else v.abs()


class WeightNorm(nn.Module):
    """weight = g * v / ||v||, the norm over every dim but `dim` (None: the whole tensor)."""

    def __init__(self, dim=0):
        super().__init__()
        self.dim = dim

    def forward(self, g, v):
        return v * (g / _norm_except_dim(v, self.dim))

    def right_inverse(self, weight):
        return _norm_except_dim(weight, self.dim), weight


def weight_norm(module, name="weight", dim=0):
    """Registers weight norm on `module.<name>`; keys `parametrizations.<name>.original0/1`."""
    native = getattr(torch.nn.utils.parametrizations, "weight_norm", None)
    if native is not None:  # torch >= 2.1
        return native(module, name=name, dim=dim if dim is not None else -1)
    parametrize.register_parametrization(module, name, WeightNorm(dim), unsafe=True)
    return module


class WeightStandardization(nn.Module):
    """Weight Standardization (Qiao et al., 2019) as a parametrization, normkit's `WeightStandardization`:
    per output unit along `dim` (biased variance over every other dim),

        w_hat = gain * scale * (w - mean) / sqrt(var + eps)          eps_mode 'add' (default)
        w_hat = gain * scale * (w - mean) / sqrt(max(var, eps))      eps_mode 'max' (NFNets' code)

    `gain=True` learns a per-unit gain shaped [out, 1, ..., 1] (key `parametrizations.weight.0.gain`);
    `scale` is a fixed factor (NFNets: gamma / sqrt(fan_in)). right_inverse is the identity (assigning a
    weight stores it). Keys: `parametrizations.weight.original` (+ `.0.gain`)."""

    def __init__(self, weight, dim=0, eps=1e-5, eps_mode="add", scale=1.0, gain=False):
        super().__init__()
        if eps_mode not in ("add", "max"):
            raise ValueError(f"WeightStandardization: eps_mode must be 'add' or 'max', got {eps_mode!r}")
        if not eps > 0:
            raise ValueError(f"WeightStandardization: eps must be > 0, got {eps}")
        if not (math.isfinite(scale) and scale > 0):
            raise ValueError(f"WeightStandardization: scale must be a finite number > 0, got {scale}")
        self.dim = dim % weight.dim()
        self.eps = eps
        self.eps_mode = eps_mode
        self.scale = scale
        shape = [1] * weight.dim()
        shape[self.dim] = weight.shape[self.dim]
        self.gain = nn.Parameter(torch.ones(shape, dtype=weight.dtype)) if gain else None

    def forward(self, w):
        dims = [d for d in range(w.dim()) if d != self.dim]
        mean = w.mean(dims, keepdim=True)
        var = (w - mean).pow(2).mean(dims, keepdim=True)
        std = (var + self.eps).sqrt() if self.eps_mode == "add" else var.clamp_min(self.eps).sqrt()
        y = (w - mean) / std * self.scale
        return y * self.gain if self.gain is not None else y

    def right_inverse(self, value):
        return value


def weight_standardization(module, name="weight", dim=0, eps=1e-5, eps_mode="add", scale=1.0, gain=False):
    """Registers weight standardization on `module.<name>` (normkit's `weightStandardization`)."""
    parametrize.register_parametrization(module, name, WeightStandardization(getattr(module, name), dim, eps, eps_mode, scale, gain))
    return module
