"""Weight normalization as a torch.nn.utils.parametrize parametrization, with normkit's keys
`parametrizations.weight.original0` (g) and `parametrizations.weight.original1` (v).

torch >= 2.1 has `torch.nn.utils.parametrizations.weight_norm` with the same keys and semantics and is
used there (reviewed, not tested: only 1.13 is installable here); 1.13 gets the parametrization below.
"""
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
